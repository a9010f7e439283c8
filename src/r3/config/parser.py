"""Parse a command's config dataclasses from `--config FILE.yaml`, command-line overrides or a dict.

    parser = ConfigParser([EvalConfig], prog="r3 eval")
    (config,) = parser.parse(["--config", "eval.yaml", "--temperature", "0"])
    (config,) = parser.parse_mapping({"model": "runs/tiny", "task": "countdown", "out": "runs/e"})

Built on transformers' `HfArgumentParser` (the parser TRL and open-r1 use): it makes `--field` and `--field-name`
options with the field's type, help and default. YAML values are turned into the same option tokens, so they pass
through the same argparse type checks as the command line and errors can say which of the two was wrong. See
`r3.config` for the field groups and the YAML rules.

Keys are checked before any value, and every unknown or unusable key of the file and the command line is named in
one message (as TRL's `TrlParser` does), with a suggestion only for a close match. TRL's and open-r1's names for
r3's settings (`r3.config.compat`) are renamed here, in the file and on the command line alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import types
import typing
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser

from r3.config.compat import ALIASES, UNUSED, aliases_of
from r3.config.files import merge, parse_yaml, read_config_file
from r3.config.names import another_name, close_matches, one_message, quoted
from r3.errors import R3Error, shorten

logger = logging.getLogger(__name__)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults appended once: not to a help text that already says its default, nor to a `--no_FIELD` flag."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or isinstance(action, argparse._StoreFalseAction):
            return text
        return super()._get_help_string(action)


class ConfigParser(HfArgumentParser):
    """HfArgumentParser whose errors are R3Errors and that reads `--config FILE` and mapping fields."""

    def __init__(self, dataclass_types: list[type], *, prog: str, description: str = "",
                 defaults: dict[str, Any] | None = None, epilog: str | None = None,
                 positionals: dict[str, str] | None = None, later: frozenset[str] | set[str] = frozenset()) -> None:
        """`positionals` maps a field to an argparse nargs ("?" or "*") for fields also given without `--name`.
        `later` names settings of another parser that this one accepts and leaves aside (`r3 train` checks its
        own fields and every key before it imports TRL, whose GRPOConfig fields are parsed afterwards)."""
        self._mapping_fields = _fields_admitting(dataclass_types, dict)
        self._list_fields = _fields_admitting(dataclass_types, list)
        self._later = frozenset(later)
        self.later_given: set[str] = set()  # the settings of `later` the last parse saw (file or command line)
        super().__init__(dataclass_types, prog=prog, description=description, epilog=epilog, allow_abbrev=False,
                         formatter_class=_HelpFormatter)
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
        _word_help(self)

    # argparse calls error() for every bad token; r3 reports one line instead of usage + SystemExit
    def error(self, message: str) -> typing.NoReturn:
        raise R3Error(_readable(message))

    def parse(self, argv: list[str]) -> tuple[Any, ...]:
        """The dataclasses from a command line that may hold `--config FILE`."""
        argv, config_path = pop_config(list(argv))
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
        values, argv = self._translate(values, argv, where)
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

    def _known(self) -> set[str]:
        return {d for d in self._dest.values() if d not in ("config", "help")}

    def _translate(self, values: dict[str, Any], argv: list[str], where: str) -> tuple[dict[str, Any], list[str]]:
        """File keys and command-line options as this parser's field names: aliases renamed, settings of `later`
        and harmless unused ones left out. Every unknown or unusable one of both is an R3Error, all in one."""
        problems: list[tuple[str, str]] = []
        self.later_given = set()
        out: dict[str, Any] = {}
        origin: dict[str, str] = {}  # field or FIELD.KEY -> the file key that set it
        for key, value in values.items():
            name = str(key).replace("-", "_")
            target = self._target(name, value, problems, where, quoted(key))
            if target is None or target.split(".", 1)[0] in self._later:
                continue
            root, _, inner = target.partition(".")
            parts = [target] if inner else [target] + [f"{root}.{k}" for k in (value if isinstance(value, dict)
                                                                                   else {})]
            clash = next((origin[p] for p in parts if p in origin), None)
            if clash is not None:
                problem = f"'{key}' and '{clash}' set the same setting ({another_name(name, clash)}); keep one"
                problems.append((where, problem))
                continue
            origin.update(dict.fromkeys(parts, str(key)))
            if inner:
                out[root] = {**as_dict(out.get(root), root), inner: value}
            elif isinstance(value, dict) and isinstance(out.get(root), dict):
                out[root] = {**value, **out[root]}
            else:
                out[root] = value
        argv = self._translate_argv(argv, problems)
        if problems:
            raise R3Error(one_message(problems, self.prog))
        return out, argv

    def _target(self, name: str, value: Any, problems: list[tuple[str, str]], where: str, shown: str, *,
                option: bool = False) -> str | None:
        """The field (or FIELD.KEY) a file key or an option sets; None when it sets none of this parser's: a problem
        is noted, unless the setting is unused by r3 and its value harmless."""
        kind = "option" if option else "field"
        unused = UNUSED.get(name)
        if unused is not None:
            if not unused.accepts(value):
                problems.append((where, f"{kind} {shown} is not used by r3: {unused.reason}"))
            elif not self._later:  # a first pass that leaves settings for a later parser: the later one says it
                logger.info("%s: %r has no effect in r3 (%s)", where or "command line", name, unused.reason)
            return None
        known = self._known()
        target = ALIASES.get(name, name)
        root = target.split(".", 1)[0]
        if root in known or root in self._later:
            if root in self._later:
                self.later_given.add(root)
            return target
        names = known | self._later | {alias for alias, t in ALIASES.items() if t.split(".", 1)[0] in known | self._later}
        close = close_matches(name, names)
        hint = f"; did you mean {', '.join(('--' if option else '') + c for c in close)}?" if close else ""
        problems.append((where, f"unknown {kind} {shown} ({self.prog} has no such setting{hint})"))
        return None

    def _translate_argv(self, argv: list[str], problems: list[tuple[str, str]]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(argv):
            token = argv[i]
            end = i + 1
            while end < len(argv) and not argv[end].startswith("--"):
                end += 1
            if not token.startswith("--") or token == "--help":
                out.append(token)
                i += 1
                continue
            option, eq, inline = token[2:].partition("=")
            name = option.replace("-", "_")
            given = [inline] if eq else argv[i + 1:end]
            root = name.split(".", 1)[0]
            if name == "task_option" or ("." in name and (root in self._mapping_fields or root in self._later)):
                if root in self._later:
                    self.later_given.add(root)
                else:
                    out += argv[i:end]
                i = end
                continue
            if f"--{name}" in self._dest and name not in UNUSED and name not in ALIASES:  # also --no_FIELD
                out += argv[i:end]
                i = end
                continue
            value = parse_yaml(given[0], token) if given else True
            target = self._target(name, value, problems, "", "--" + quoted(option)[1:-1], option=True)
            if target is not None and target.split(".", 1)[0] not in self._later:
                out += [f"--{target}", *given]
            i = end
        return out

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
        known = {o[2:] for o in self._dest if o.startswith("--") and "-" not in o[2:]}
        close = close_matches(name.lstrip("-").replace("-", "_"), known)
        hint = f"; did you mean {', '.join('--' + c for c in close)}?" if close else ""
        if not name.startswith("-"):
            return f"unexpected argument {shorten(name)} (settings are given as --field value){hint}"
        return f"unknown option {name} ({self.prog} has no such setting){hint}"


def as_dict(value: Any, name: str) -> dict:
    from r3.config.base import as_mapping

    return dict(as_mapping(value, name) or {})


def _word_help(parser: argparse.ArgumentParser) -> None:
    """`--no_FIELD` says what it does (HfArgumentParser copies the positive flag's help), and each field's help
    names the aliases it is also read as (`r3.config.compat`)."""
    for action in parser._actions:  # argparse has no public accessor for its actions
        if isinstance(action, argparse._StoreFalseAction) and action.option_strings[0].startswith("--no_"):
            action.help = f"the same as --{action.dest} false"
            continue
        names = aliases_of(action.dest)
        if names and action.help:
            own = [n for n in names if ALIASES[n] == action.dest]
            nested = [f"{n} (= {ALIASES[n]})" for n in names if ALIASES[n] != action.dest]
            action.help += " [also read as: " + ", ".join(own + nested) + "]"


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


def pop_config(argv: list[str]) -> tuple[list[str], Path | None]:
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


__all__ = ["ConfigParser", "pop_config"]
