"""Parse a command's config dataclasses from `--config FILE.yaml`, command-line overrides or a dict.

    parser = ConfigParser([EvalConfig], prog="r3 eval")
    (config,) = parser.parse(["--config", "eval.yaml", "--temperature", "0"])
    (config,) = parser.parse_mapping({"model": "runs/tiny", "task": "countdown", "out": "runs/e"})

Built on transformers' `HfArgumentParser` (the parser TRL and open-r1 use): it makes `--field` and `--field-name`
options with the field's type, help and default. YAML values are turned into the same option tokens, so they pass
through the same argparse type checks as the command line and errors can say which of the two was wrong. See
`r3.config` for the field groups and the YAML rules.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser

from r3.config.files import merge, parse_yaml, read_config_file
from r3.errors import R3Error, shorten


class ConfigParser(HfArgumentParser):
    """HfArgumentParser whose errors are R3Errors and that reads `--config FILE` and mapping fields."""

    def __init__(self, dataclass_types: list[type], *, prog: str, description: str = "",
                 defaults: dict[str, Any] | None = None, epilog: str | None = None,
                 positionals: dict[str, str] | None = None) -> None:
        """`positionals` maps a field to an argparse nargs ("?" or "*") for fields also given without `--name`."""
        self._mapping_fields = _fields_admitting(dataclass_types, dict)
        self._list_fields = _fields_admitting(dataclass_types, list)
        super().__init__(dataclass_types, prog=prog, description=description, epilog=epilog, allow_abbrev=False,
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        self.add_argument("--config", metavar="FILE.yaml",
                          help="YAML file of field: value; command-line options override it")
        self._positional_fields = dict(positionals or {})
        for name, nargs in self._positional_fields.items():
            self.add_argument(f"_{name}", nargs=nargs, metavar=name.upper(), default=None,
                              help=f"the same as --{name}")
        if defaults:
            self.set_defaults(**defaults)
        self._dest = _destinations(self)
        self._explicit: set[str] = set()

    # argparse calls error() for every bad token; r3 reports one line instead of usage + SystemExit
    def error(self, message: str) -> typing.NoReturn:
        raise R3Error(_readable(message))

    def parse(self, argv: list[str]) -> tuple[Any, ...]:
        """The dataclasses from a command line that may hold `--config FILE`."""
        argv, config_path = _pop_config(list(argv))
        values = read_config_file(config_path) if config_path else {}
        return self._build(values, argv, str(config_path) if config_path else "config")

    def parse_mapping(self, values: dict[str, Any], argv: list[str] | None = None, where: str = "config") -> tuple:
        """The dataclasses from a mapping (a dict, or a YAML file already read), then command-line overrides."""
        if not isinstance(values, dict):
            raise R3Error(f"{where}: a config must be a mapping of field: value, got {type(values).__name__}")
        return self._build(dict(values), list(argv or []), where)

    def explicit_fields(self) -> set[str]:
        """Fields set by the file or the command line in the last parse (not left at their default)."""
        return set(self._explicit)

    def _build(self, values: dict[str, Any], argv: list[str], where: str) -> tuple[Any, ...]:
        values = {self._field_name(key, where): value for key, value in values.items()}
        argv, cli_maps = _pop_mapping_options(argv, self._mapping_fields)
        file_tokens, nulls, direct = self._tokens(values, where)
        try:  # a bad file value is reported as the file's, before the command line is looked at
            self.parse_known_args(file_tokens)
        except R3Error as error:
            raise R3Error(f"{where}: {error}") from None
        namespace, unknown = self.parse_known_args(file_tokens + argv)
        if unknown:
            raise R3Error(self._unknown(unknown))
        cli_set = {self._dest[t.split("=", 1)[0]] for t in argv if t.split("=", 1)[0] in self._dest}
        for name in self._positional_fields:
            value = getattr(namespace, f"_{name}")
            delattr(namespace, f"_{name}")
            if value not in (None, []):
                setattr(namespace, name, value)
                cli_set.add(name)
        for name in nulls - cli_set:
            setattr(namespace, name, None)
        for name in set(direct) - cli_set:
            setattr(namespace, name, direct[name])
        for name in self._list_fields & cli_set:  # `--report_to '[tensorboard, wandb]'`: a YAML list, as in a file
            value = getattr(namespace, name, None)
            if isinstance(value, str) and value.strip().startswith("["):
                setattr(namespace, name, parse_yaml(value, f"--{name}"))
        for name, mapping in cli_maps.items():
            current = getattr(namespace, name, None)
            base = json.loads(current) if isinstance(current, str) and current.strip().startswith("{") else current
            setattr(namespace, name, merge(base if isinstance(base, dict) else {}, mapping))
        self._explicit = set(values) | cli_set | set(cli_maps)
        return self._instantiate(namespace)

    def _instantiate(self, namespace: argparse.Namespace) -> tuple[Any, ...]:
        outputs = []
        for dtype in self.dataclass_types:
            keys = {f.name for f in dataclasses.fields(dtype) if f.init}
            inputs = {k: v for k, v in vars(namespace).items() if k in keys}
            try:
                outputs.append(dtype(**inputs))
                if hasattr(outputs[-1], "check_required"):
                    outputs[-1].check_required()
            except R3Error:
                raise
            except (ValueError, TypeError) as error:
                raise R3Error(f"invalid {dtype.__name__} settings: {shorten(str(error), 300)}") from None
        return tuple(outputs)

    def _field_name(self, key: Any, where: str) -> str:
        name = str(key).replace("-", "_")
        dest = self._dest.get(f"--{name}")
        if dest is not None and dest not in ("config", "help"):
            return dest
        known = sorted({d for d in self._dest.values() if d not in ("config", "help")})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise R3Error(f"{where}: unknown field {shorten(str(key), 60)} ({self.prog} has no such setting){hint}")

    def _tokens(self, values: dict[str, Any], where: str) -> tuple[list[str], set[str], dict[str, list]]:
        """Option tokens for file values (type-checked by argparse), the fields the file sets to null, and lists
        for fields typed `str | list[str]` (argparse takes one string for them; TRL's `report_to` is one)."""
        tokens: list[str] = []
        nulls: set[str] = set()
        direct: dict[str, list] = {}
        actions = {action.dest: action for action in self._actions}
        for name, value in values.items():
            action = actions[name]
            if value is None:
                nulls.add(name)
                continue
            tokens.append(f"--{name}")
            if isinstance(value, dict):
                if name not in self._mapping_fields:
                    raise R3Error(f"{where}: field '{name}' expects a single value, got a mapping {shorten(value)}")
                tokens.append(json.dumps(value))
            elif isinstance(value, list) and action.nargs not in ("+", "*") and name in self._list_fields:
                tokens.pop()
                if not all(isinstance(item, str) for item in value):
                    raise R3Error(f"{where}: field '{name}' expects a list of strings, got {shorten(value)}")
                direct[name] = list(value)
            elif isinstance(value, list):
                if action.nargs not in ("+", "*"):
                    raise R3Error(f"{where}: field '{name}' expects a single value, got a list {shorten(value)}")
                if not value:
                    tokens.pop()
                    nulls.discard(name)
                    continue
                tokens.extend(_scalar(item, name, where) for item in value)
            else:
                tokens.append(_scalar(value, name, where))
        return tokens, nulls, direct

    def _unknown(self, unknown: list[str]) -> str:
        option = next((t for t in unknown if t.startswith("-")), unknown[0])
        name = option.split("=", 1)[0]
        known = sorted({o for o in self._dest if o.startswith("--") and "-" not in o[2:]})
        close = difflib.get_close_matches("--" + name[2:].replace("-", "_"), known, n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        if not name.startswith("-"):
            return f"unexpected argument {shorten(name)} (settings are given as --field value){hint}"
        return f"unknown option {name} ({self.prog} has no such setting){hint}"


def _scalar(value: Any, name: str, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise R3Error(f"{where}: field '{name}' has a value of unsupported type: {shorten(value)}")


def _readable(message: str) -> str:
    """argparse's 'argument --lr/--learning-rate: invalid float value: 'x'' as "field 'lr': invalid float ..."."""
    if message.startswith("argument "):
        head, _, rest = message[len("argument "):].partition(": ")
        name = head.split("/")[0].lstrip("-").replace("-", "_")
        return f"field '{name}': {rest}"
    return message


def _pop_config(argv: list[str]) -> tuple[list[str], Path | None]:
    """`--config FILE` (or `--config=FILE`) taken out of argv."""
    path = None
    out = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--config":
            if i + 1 >= len(argv):
                raise R3Error("--config needs a file name")
            path, i = Path(argv[i + 1]), i + 2
            continue
        if token.startswith("--config="):
            path = Path(token.split("=", 1)[1])
        else:
            out.append(token)
        i += 1
    return out, path


def _pop_mapping_options(argv: list[str], mapping_fields: set[str]) -> tuple[list[str], dict[str, dict]]:
    """`--field.key value` and `--task-option key=value` taken out of argv as {field: {key: value}}.

    A value is read as YAML (`false`, `3`, `[a, b]`) as in a config file.
    """
    out, maps = [], {}
    i = 0
    while i < len(argv):
        token = argv[i]
        name, has_value, text = token.partition("=") if token.startswith("--") else (token, "", "")
        field_name = name[2:].replace("-", "_")
        if field_name == "task_option":
            if not has_value:
                if i + 1 >= len(argv):
                    raise R3Error("--task-option needs KEY=VALUE")
                text, i = argv[i + 1], i + 1
            key, eq, value = text.partition("=")
            if not eq or not key:
                raise R3Error(f"--task-option expects KEY=VALUE, got {shorten(text)}")
            maps.setdefault("task_options", {})[key] = value
        elif "." in field_name and field_name.split(".", 1)[0] in mapping_fields:
            parent, key = field_name.split(".", 1)
            if not has_value:
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    text = "true"
                else:
                    text, i = argv[i + 1], i + 1
            target = maps.setdefault(parent, {})
            *inner, leaf = key.split(".")
            for part in inner:
                target = target.setdefault(part, {})
            target[leaf] = parse_yaml(text, f"--{name}") if text.strip() else text
        else:
            out.append(token)
        i += 1
    return out, maps


def _fields_admitting(dataclass_types: list[type], kind: type) -> set[str]:
    """Fields whose type is, or is a union with, `kind` (dict: filled from YAML mappings or JSON)."""
    names = set()
    for dtype in dataclass_types:
        hints = typing.get_type_hints(dtype)
        for f in dataclasses.fields(dtype):
            annotation = hints.get(f.name)
            arms = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) \
                else (annotation,)
            if any(arm is kind or typing.get_origin(arm) is kind for arm in arms):
                names.add(f.name)
    return names


def _destinations(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Every option string (with dashes) -> its field name."""
    out = {}
    for action in parser._actions:  # argparse has no public accessor for its actions
        for option in action.option_strings:
            out[option] = action.dest
            if option.startswith("--"):
                out["--" + option[2:].replace("-", "_")] = action.dest
    return out


__all__ = ["ConfigParser"]
