"""Config files: bounded YAML with YAML 1.2 booleans, `base:` includes, and the recipes shipped with r3."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from r3.errors import R3Error, shorten

MAX_YAML_BYTES = 1_000_000
MAX_YAML_ALIASES = 64
MAX_YAML_NODES = 100_000


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false) and limits on aliases and nodes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (*anchor references)")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise yaml.YAMLError(f"more than {MAX_YAML_NODES} nodes")
        return super().compose_node(parent, index)


_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))


def _expanded_size(value: Any, budget: int) -> int:
    """Nodes in `value` with aliases expanded, stopping once past `budget` (an alias bomb expands exponentially)."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def parse_yaml(text: str, where: str) -> Any:
    """YAML text through the bounded loader; every problem is an R3Error naming `where`."""
    if len(text) > MAX_YAML_BYTES:
        raise R3Error(f"{where}: config file larger than {MAX_YAML_BYTES} bytes")
    try:
        content = yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as error:
        raise R3Error(f"{where}: not valid YAML: {shorten(str(error), 200)}") from None
    except RecursionError:
        raise R3Error(f"{where}: YAML nested too deeply") from None
    if _expanded_size(content, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise R3Error(f"{where}: YAML expands to more than {MAX_YAML_NODES} values (nested aliases)")
    return content


def packaged_config(path: str | Path) -> Path | None:
    """The recipe shipped in the package for `configs/NAME.yaml` (so README commands work from a wheel install)."""
    parts = Path(path).parts
    if len(parts) < 2 or parts[0] != "configs":
        return None
    from importlib import resources

    candidate = Path(str(resources.files("r3").joinpath("configs", *parts[1:])))
    return candidate if candidate.is_file() else None


def _read_bounded(path: Path) -> str:
    """The text of a config file, checked first: a regular file (a FIFO would block, /dev/zero never ends) of at
    most MAX_YAML_BYTES, read no further than that."""
    from r3.rundir import check_input_file

    check_input_file(path, "config", MAX_YAML_BYTES)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as error:
        raise R3Error(f"cannot read config {path}: {error.strerror}") from None
    if len(data) > MAX_YAML_BYTES:
        raise R3Error(f"{path}: config file larger than {MAX_YAML_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise R3Error(f"{path}: not a UTF-8 text file") from None


def read_config_file(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a mapping, with its `base:` files merged underneath it.

    `configs/NAME.yaml` that does not exist here is read from the recipes shipped with r3 (`r3/configs`).
    """
    if not Path(path).expanduser().exists():
        path = packaged_config(path) or path
    path = Path(path).expanduser().resolve()
    if path in seen:
        raise R3Error(f"{path}: 'base' files include each other: {' -> '.join(str(p) for p in (*seen, path))}")
    text = _read_bounded(path)
    content = parse_yaml(text, str(path))
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise R3Error(f"{path}: a config must be a YAML mapping of field: value, got {type(content).__name__}")
    bases = content.pop("base", None) or []
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise R3Error(f"{path}: 'base' must be a file name or a list of file names, got {shorten(bases)}")
    merged: dict[str, Any] = {}
    for base in bases:
        merged = merge(merged, read_config_file(path.parent / base, (*seen, path)))
    return merge(merged, content)


def merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """`high` over `low`; nested mappings merge key by key."""
    out = dict(low)
    for key, value in high.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
