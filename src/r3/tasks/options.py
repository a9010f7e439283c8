"""Named task options (`--task-option match=bfcl`, `task_options: {match: bfcl}`): declared, checked, resolved.

A task declares `options = {"match": ("exact", "bfcl")}`: each option's valid values, the first being the default.
A free-form value (a time-out in seconds) is declared with `FreeOption(default, check, describe)`. Values arrive as
strings from the command line and YAML, so they are kept as strings; a task reads `self.task_options["match"]`.
An unknown option or value is one line that lists the valid ones, before any data is loaded or model started.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from r3.errors import R3Error


@dataclass(frozen=True)
class FreeOption:
    """An option whose value is free-form text that `check` accepts (`describe` says what is valid)."""

    default: str
    check: Callable[[str], bool]
    describe: str

    def __str__(self) -> str:
        """How `r3 tasks` and error messages show the option's valid values."""
        return f"{self.describe} (default {self.default})"


OptionSpec = tuple[str, ...] | FreeOption


def positive_seconds(text: str) -> bool:
    """True for a finite number of seconds greater than 0 and at most a day."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and 0 < value <= 86_400


def default_value(spec: OptionSpec) -> str:
    return spec.default if isinstance(spec, FreeOption) else spec[0]


def describe(spec: OptionSpec) -> str:
    return str(spec) if isinstance(spec, FreeOption) else ", ".join(spec)


def resolve_options(task_name: str, declared: Mapping[str, OptionSpec],
                    given: Mapping[str, object] | None) -> dict[str, str]:
    """Every declared option's value (given or default), or an R3Error naming the bad option and the valid ones."""
    if given is not None and not isinstance(given, Mapping):
        raise R3Error(f"task options of '{task_name}' must be a mapping of option -> value, got {given!r:.80}")
    for name, spec in declared.items():
        _check_spec(task_name, name, spec)
    resolved = {name: default_value(spec) for name, spec in declared.items()}
    for name, value in (given or {}).items():
        name = str(name)
        if name not in declared:
            valid = ", ".join(sorted(declared)) if declared else "none"
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise R3Error(f"task '{task_name}' has no option '{name}' (its options: {valid}).{hint}")
        text = _as_text(value)
        spec = declared[name]
        valid = _accepts(spec, text)
        if not valid:
            raise R3Error(f"task '{task_name}': option {name}={text!r:.60} is not valid; valid: {describe(spec)}")
        resolved[name] = text
    return resolved


def _check_spec(task_name: str, name: object, spec: object) -> None:
    """R3Error naming a declared option whose declaration is not a FreeOption or a tuple of strings (a bare string
    would make `in` a substring test, and its first character the default)."""
    if isinstance(spec, FreeOption):
        if isinstance(spec.default, str) and callable(spec.check):
            return
    elif isinstance(spec, (tuple, list)) and spec and all(isinstance(value, str) for value in spec):
        return
    raise R3Error(f"task '{task_name}' declares option {name!r:.40} as {spec!r:.60}; expected a tuple of strings "
                  "(the valid values, default first) or FreeOption(default, check, describe)")


def _accepts(spec: OptionSpec, text: str) -> bool:
    """Whether `text` is a valid value; a FreeOption check that raises (`int("abc")`) means it is not."""
    if not isinstance(spec, FreeOption):
        return text in spec
    try:
        return bool(spec.check(text))
    except Exception:  # noqa: BLE001 - a user's check may raise on a value of the wrong type
        return False


def _as_text(value: object) -> str:
    """YAML gives `timeout: 5` as an int and `flag: true` as a bool; options are compared as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
