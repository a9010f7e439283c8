"""`match=bfcl`: the value rules of the Berkeley Function Calling Leaderboard's AST checker, on r3's gold calls.

For users who report BFCL-style numbers. The rules follow `ast_checker.py` of BFCL
(ShishirPatil/gorilla, berkeley-function-call-leaderboard/bfcl_eval/eval_checker/ast_eval/), Python category:
- strings are compared after `standardize_string`: lower case, spaces and `,./-_*^` removed, `'` read as `"`;
  inside lists and objects too; and (r3's departure) they must hold the same numbers, with their signs and decimal
  points: BFCL's rule alone passes `20191213` for the date `2019-12-13` and `488567,23508` for `48.8567,2.3508`;
- inside a dict argument, numbers compare by value (`300000.0` for `300000`), as BFCL's `dict_checker` does;
- an integer is accepted where the gold is a float (`5` for `5.0`), not the other way round (`5.0` for `5` is a
  type error in BFCL);
- an optional parameter may be left out when the gold gives it its documented default, and may be given at its
  documented default when the gold leaves it out (BFCL writes "" among the possible answers of such a parameter;
  r3's gold is one call, so "documented default" is the tool schema's `default`); a parameter the tool does not
  declare is an error;
- calls match as a multiset, each gold call taking the first unused predicted call that matches it (BFCL's
  order-free parallel checker does the same).
Tool schemas may be BFCL's (`{"type": "dict", "properties": ..., "required": [...]}`) or xLAM's
(`{param: {"type": "str, optional", "default": ...}}`, optional when the type says so).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from r3.tasks.function_calling_parse import canonical, render

_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
_NUMBER_TOKENS = re.compile(r"-?\d+(?:\.\d+)?")  # the numbers a string holds: dates, coordinates, times
_MISSING = object()


def standardize(text: str) -> str:
    """BFCL's `standardize_string`."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def schema_of(tool: dict[str, Any]) -> dict[str, tuple[bool, Any]]:
    """{parameter: (optional, documented default or _MISSING)} of a tool in BFCL's or xLAM's layout."""
    parameters = tool.get("parameters")
    if not isinstance(parameters, dict):
        return {}
    if isinstance(parameters.get("properties"), dict):
        required = parameters.get("required") or []
        return {name: (name not in required, spec.get("default", _MISSING) if isinstance(spec, dict) else _MISSING)
                for name, spec in parameters["properties"].items()}
    schema = {}
    for name, spec in parameters.items():
        spec = spec if isinstance(spec, dict) else {}
        optional = "optional" in str(spec.get("type", "")).lower()
        schema[name] = (optional, spec.get("default", _MISSING))
    return schema


def values_match(got: Any, want: Any, in_dict: bool = False) -> bool:
    """BFCL value equality (see the module docstring); depth is bounded by the strict JSON reader. Inside a dict
    argument numbers compare by value whatever their type (BFCL's `dict_checker` compares with `in`, so 300000.0
    passes for 300000); elsewhere a float is no integer. Strings must also hold the same numbers, signs and decimal
    points included (r3's departure from BFCL: `20191213` is not the date `2019-12-13`)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, str):
        return (isinstance(got, str) and standardize(got) == standardize(want)
                and _NUMBER_TOKENS.findall(got) == _NUMBER_TOKENS.findall(want))
    if isinstance(want, (int, Decimal, float)):
        if isinstance(want, int) and not isinstance(got, int) and not in_dict:
            return False
        return isinstance(got, (int, Decimal, float)) and got == want
    if isinstance(want, list):
        return (isinstance(got, list) and len(got) == len(want)
                and all(values_match(item, wanted, in_dict) for item, wanted in zip(got, want)))
    if isinstance(want, dict):
        return (isinstance(got, dict) and got.keys() == want.keys()
                and all(values_match(got[key], value, True) for key, value in want.items()))
    return got == want


def call_difference(got: dict[str, Any], want: dict[str, Any], schema: dict[str, tuple[bool, Any]]) -> str | None:
    """None when a predicted call matches a gold call of the same tool under BFCL's rules, else why not."""
    got_args, want_args = got["arguments"], want["arguments"]
    for key, value in got_args.items():
        if key not in schema:
            return f"unexpected argument {key!r}"
        if key in want_args:
            if not values_match(value, want_args[key]):
                return f"argument {key!r} differs"
        elif not _is_default(schema[key], value):
            return f"argument {key!r} is not expected (and not its default)"
    for key, value in want_args.items():
        if key not in got_args and not _is_default(schema.get(key, (False, _MISSING)), value):
            return f"missing argument {key!r}"
    return None


def _is_default(spec: tuple[bool, Any], value: Any) -> bool:
    optional, default = spec
    return optional and default is not _MISSING and values_match(value, _as_json(default))


def is_documented_default(spec: tuple[bool, Any], value: Any, required_too: bool = False) -> bool:
    """Whether `value` is the parameter's documented default, exactly (`match=exact`): for an optional parameter,
    or for any parameter with `required_too`. xLAM writes many defaults as strings (`"default": "1"` for an int
    `page`), so a number or boolean whose JSON text is the default string counts too."""
    optional, default = spec
    if default is _MISSING or not (optional or required_too):
        return False
    if canonical(value) == canonical(_as_json(default)):
        return True
    return isinstance(default, str) and not isinstance(value, (str, list, dict)) and render(value) == default


def _as_json(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


def compare_bfcl(predicted: list[dict[str, Any]], gold: list[dict[str, Any]],
                 tools: list[dict[str, Any]]) -> str | None:
    """None when the predicted calls match the gold calls under BFCL's rules, else the first reason they do not."""
    if len(predicted) != len(gold):
        return f"{len(predicted)} call(s), expected {len(gold)}"
    schemas = {tool["name"]: schema_of(tool) for tool in tools}
    unused = list(range(len(predicted)))
    for want in gold:
        reasons = []
        for position in unused:
            got = predicted[position]
            if got["name"] != want["name"]:
                continue
            reason = call_difference(got, want, schemas.get(want["name"], {}))
            if reason is None:
                unused.remove(position)
                break
            reasons.append(reason)
        else:
            detail = f": {reasons[0]}" if reasons else ""
            return f"no call matches {want['name']!r}{detail}"
    return None
