"""run.json read back and compared: the recorded identity, the manifest's names, the one rerun decision.

Kept apart from `r3.rundir`'s `RunDir` (which writes) so that readers such as `r3 compare` and sharding's merge can
use the same checks without opening, locking or creating anything.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from r3.errors import R3Error, shorten
from r3.rundir.paths import link_on_the_way, lstat_or_none, refuse_links

RUN_FILE, META_KEY = "run.json", "r3_run"
RUN_FILE_LIMIT = 64 * 2**20  # a run.json is a few KiB; anything near this is not one


def read_run_file(path: Path, kind: str | None) -> dict[str, Any] | None:
    """The recorded run.json, None when there is none; a one-line R3Error when it is unreadable or not ours.
    `kind` None accepts a run of any kind (for adding a file to whatever run is there)."""
    run_file = path / RUN_FILE
    status = lstat_or_none(run_file)
    if status is None:
        return None
    if not stat.S_ISREG(status.st_mode):
        raise R3Error(f"{run_file} is not a regular file; choose another output directory")
    if status.st_size > RUN_FILE_LIMIT:
        raise R3Error(f"{run_file} is {status.st_size // 2**20} MiB, not an r3 run file; move it away or choose "
                      "another output directory")
    try:
        record = json.loads(run_file.read_bytes())
    except (OSError, ValueError, RecursionError) as error:
        raise R3Error(f"{run_file} is not readable JSON ({shorten(str(error), 100)}); it was edited or is not an r3 "
                      "run: move it away or choose another output directory") from None
    meta = record.get(META_KEY) if isinstance(record, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("files", []), list) \
            or not isinstance(meta.get("dirs", []), list):
        raise R3Error(f"{run_file} was not written by this version of r3 (no '{META_KEY}' section); move it away or "
                      "choose another output directory")
    if kind is not None and meta.get("kind") != kind:
        raise R3Error(f"{path} holds an r3 {meta.get('kind')!r} run, not a {kind} run; choose another output "
                      "directory")
    for name in meta.get("files", []) + meta.get("dirs", []):
        relative(name, source=run_file)
    return record


def relative(name: Any, source: Path | None = None) -> str:
    """A manifest name: relative, inside the run directory (no '..', not absolute)."""
    parts = Path(str(name)).parts
    if not isinstance(name, str) or not parts or Path(name).is_absolute() or ".." in parts:
        where = f"{source}: " if source else ""
        raise R3Error(f"{where}{name!r} is not a path inside the run directory")
    return "/".join(parts)


def has_work(path: Path, names: Iterable[str]) -> bool:
    """Whether any of `names` is a non-empty regular file of the run (reached through plain folders)."""
    for name in names:
        status = lstat_or_none(path / relative(name))
        if status is not None and stat.S_ISREG(status.st_mode) and status.st_size > 0 \
                and link_on_the_way(path, relative(name)) is None:
            return True
    return False


def decide(path: Path, kind: str, previous: dict[str, Any], identity: dict[str, Any], free: set[str],
           label: Callable[[str], str], work_files: Iterable[str] | None = None) -> bool:
    """True: same identity, resume. False: different, but the run wrote nothing yet. Else refuse (R3Error)."""
    recorded = {k: v for k, v in previous.items() if k != META_KEY}
    current = json.loads(json.dumps(identity, default=str))
    differences = describe_differences(recorded, current, free=free, label=label)
    if not differences:
        return True
    names = previous[META_KEY].get("files", []) if work_files is None else list(work_files)
    if not has_work(path, names):
        return False
    raise R3Error(f"{path} holds an r3 {kind} run with other settings ({'; '.join(differences)}); rerun with the same "
                  "arguments to resume, or pass --overwrite (deletes only that run's files), or choose another "
                  "output directory")


def describe_differences(previous: dict[str, Any], current: dict[str, Any], *, free: Iterable[str] = (),
                         label: Callable[[str], str] = str) -> list[str]:
    """'KEY NEW (was OLD)' for every differing leaf; nested keys are joined with dots (model_files.config.json...)."""
    free = set(free)
    old, new = dict(_flatten(previous)), dict(_flatten(current))
    differing = []
    for key in sorted(set(old) | set(new)):
        if key.split(".")[0] in free or old.get(key) == new.get(key):
            continue
        top = key.split(".")[0]
        name = label(top) + key[len(top):]
        now, was = shorten(new.get(key, "(absent)"), 60), shorten(old.get(key, "(absent)"), 60)
        differing.append(f"{name} {now} (was {was})")
    return differing


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def refuse_foreign(path: Path, names: list[str]) -> None:
    """Read-only: refuse a name that exists, is a link or lies behind one, and that the recorded manifest (if any, and
    not refused itself) does not list. `claim` checks again under the lock."""
    if not names or lstat_or_none(path) is None:
        return
    try:
        previous = read_run_file(path, None)
    except R3Error:
        return  # the start refuses it, naming run.json
    listed = set(previous[META_KEY].get("files", [])) if previous else set()
    for name in names:
        refuse_links(path, name)
        if name not in listed and lstat_or_none(path / name) is not None:
            raise R3Error(f"{path / name} exists but was not written by this r3 run; move it away or choose "
                          "another output directory")
