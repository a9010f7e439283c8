"""Prompt templates with the example's fields as `{field}` variables.

Why not `str.format`: prompts for function calling and JSON answers hold literal braces (`{"name": ...}`), and maths
prompts hold LaTeX (`\\boxed{}`). So only `{name}` where `name` is a field the task knows is a variable; every other
brace is text. A `{name}` right after a LaTeX command (`\\boxed{answer}`, `\\text{id}`) is text too, so a maths
template can show the box without putting the gold answer in it. A template that names a field the task does not
know is an error at construction, naming the field, instead of a prompt that silently keeps `{probelm}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from r3.errors import R3Error

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LATEX_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\s*$")
REASON = "reason"


def _variables(template: str) -> Iterable[re.Match[str]]:
    for match in _VARIABLE.finditer(template):
        if not _LATEX_COMMAND_BEFORE.search(template, max(0, match.start() - 40), match.start()):
            yield match


def variable_names(template: str) -> list[str]:
    """The `{field}` variables of a template, in order of appearance."""
    return [match.group(1) for match in _variables(template)]


def check_template(what: str, template: str, known: Iterable[str], task_name: str) -> None:
    """R3Error naming the first variable of `template` that is not in `known`."""
    if not isinstance(template, str):
        raise R3Error(f"{what} of task '{task_name}' must be a string, got {type(template).__name__}")
    allowed = set(known)
    for name in variable_names(template):
        if name not in allowed:
            raise R3Error(f"{what} of task '{task_name}' names an unknown field '{{{name}}}'; known fields: "
                          + ", ".join(f"{{{field}}}" for field in sorted(allowed)))


def render(template: str, values: Mapping[str, str] | Callable[[str], str | None]) -> str:
    """`template` with each known `{field}` replaced; unknown names (and `{reason}`) are left as written."""
    lookup = values.get if isinstance(values, Mapping) else values
    pieces, position = [], 0
    for match in _variables(template):
        value = lookup(match.group(1))
        if value is None:
            continue
        pieces.append(template[position:match.start()])
        pieces.append(value)
        position = match.end()
    pieces.append(template[position:])
    return "".join(pieces)
