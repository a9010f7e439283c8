"""Extracting and comparing function calls: the strict, never-raising core of the function-calling verifier.

Where the predicted calls are found (first rule that applies):
1. the whole completion, if it parses as JSON;
2. otherwise whichever ends later in the completion of
   - the final run of `<tool_call>...</tool_call>` blocks: the last block, plus the blocks before it that are
     separated from it (and from each other) by whitespace only; each block holds one call or a list of calls, and
     the calls of the run are taken in order (so `<tool_call>A</tool_call> text <tool_call>B</tool_call>` is [B]);
   - the last fenced code block (three backticks, with or without a language tag such as `json`), fences paired
     from the start of the text;
3. otherwise there is no answer.
A single call object counts as a one-call list. Each call must be an object with a string `name` and an object
`arguments` (a JSON string holding an object is accepted); other keys of a call are ignored.

Comparison: the predicted calls must equal the gold calls as a multiset. Values are equal in JSON terms: numbers by
value (5 == 5.0), booleans never equal numbers, strings exactly, lists in order, objects key by key.

Bounds: completions over `MAX_CHARS` characters, more than `MAX_CALLS` calls and values nested deeper than `MAX_DEPTH`
are rejected; NaN, Infinity and out-of-range numbers are not JSON; every scan is linear. So any input gets an answer
quickly, and nothing here raises except `CallError` (a rejected completion, carrying the short reason).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Hashable
from typing import Any

MAX_CHARS = 200_000  # about 50k tokens: longer than any generation budget r3 uses
MAX_DEPTH = 64
MAX_CALLS = 256

_OPEN, _CLOSE, _FENCE = "<tool_call>", "</tool_call>", "```"
_FENCE_TAG = re.compile(r"[A-Za-z][\w.+-]*")
_FENCE_RE = re.compile(re.escape(_FENCE))


class CallError(ValueError):
    """The completion holds no well-formed calls; `str(error)` is the short reason."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def loads(text: str) -> Any:
    """Strict `json.loads`: no NaN/Infinity, bounded nesting; raises ValueError on anything else that is wrong."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError("nested too deeply")
    return value


def depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0), computed without recursion."""
    deepest, stack = 0, [(value, 0)] if isinstance(value, (list, dict)) else []
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level + 1)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, (list, dict)))
    return deepest


def _tool_call_run(text: str) -> tuple[list[str], int]:
    """Contents of the final run of <tool_call> blocks and where the run ends (-1 if there is none)."""
    blocks: list[tuple[int, int, str]] = []  # (start of open tag, end of close tag, content)
    position = 0
    while True:
        start = text.find(_OPEN, position)
        if start < 0:
            break
        end = text.find(_CLOSE, start + len(_OPEN))
        if end < 0:
            break
        blocks.append((start, end + len(_CLOSE), text[start + len(_OPEN) : end]))
        position = end + len(_CLOSE)
    if not blocks:
        return [], -1
    first = len(blocks) - 1
    while first > 0 and not text[blocks[first - 1][1] : blocks[first][0]].strip():
        first -= 1
    return [content for _, _, content in blocks[first:]], blocks[-1][1]


def _last_fence(text: str) -> tuple[str | None, int]:
    """Content of the last fenced code block (language tag removed) and where it ends (-1 if there is none)."""
    fences = [match.start() for match in _FENCE_RE.finditer(text)]
    if len(fences) < 2:
        return None, -1
    pairs = len(fences) // 2
    opening, closing = fences[2 * pairs - 2], fences[2 * pairs - 1]
    content = text[opening + len(_FENCE) : closing]
    tag = _FENCE_TAG.match(content)
    if tag:  # JSON cannot start with a letter except true/false/null, none of which is a call
        content = content[tag.end() :]
    return content, closing + len(_FENCE)


def _as_call_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def extract_calls(completion: str) -> list[dict[str, Any]]:
    """The predicted calls of a completion, as [{"name": str, "arguments": dict}], or CallError with the reason."""
    if not isinstance(completion, str):
        raise CallError("completion is not a string")
    if len(completion) > MAX_CHARS:
        raise CallError(f"completion longer than {MAX_CHARS} characters")
    try:
        whole = loads(completion)
    except ValueError:
        pass
    else:
        return check_calls(_as_call_list(whole))
    blocks, blocks_end = _tool_call_run(completion)
    fence, fence_end = _last_fence(completion)
    if blocks_end < 0 and fence is None:
        raise CallError("not valid JSON and no <tool_call> or fenced code block")
    if blocks_end > fence_end:
        if len(blocks) > MAX_CALLS:
            raise CallError(f"more than {MAX_CALLS} calls")
        calls: list[Any] = []
        for number, block in enumerate(blocks, start=1):
            try:
                calls.extend(_as_call_list(loads(block)))
            except ValueError as error:
                raise CallError(f"<tool_call> block {number} is not valid JSON ({_brief(error)})") from None
        return check_calls(calls)
    try:
        fenced = loads(fence)
    except ValueError as error:
        raise CallError(f"fenced code block is not valid JSON ({_brief(error)})") from None
    return check_calls(_as_call_list(fenced))


def _brief(error: ValueError) -> str:
    return str(error).split(":", 1)[0][:60]


def check_calls(calls: list[Any]) -> list[dict[str, Any]]:
    """Check the shape of each call; decode `arguments` given as a JSON string. CallError names the call."""
    if len(calls) > MAX_CALLS:
        raise CallError(f"more than {MAX_CALLS} calls")
    checked = []
    for number, call in enumerate(calls, start=1):
        if not isinstance(call, dict):
            raise CallError(f"call {number} is not an object")
        name, arguments = call.get("name"), call.get("arguments")
        if "name" not in call:
            raise CallError(f"call {number} has no 'name'")
        if not isinstance(name, str):
            raise CallError(f"call {number}: 'name' is not a string")
        if "arguments" not in call:
            raise CallError(f"call {number} ({_short(name)}) has no 'arguments'")
        if isinstance(arguments, str):
            try:
                arguments = loads(arguments)
            except ValueError:
                raise CallError(f"call {number} ({_short(name)}): 'arguments' string is not valid JSON") from None
        if not isinstance(arguments, dict):
            raise CallError(f"call {number} ({_short(name)}): 'arguments' is not an object")
        checked.append({"name": name, "arguments": arguments})
    return checked


def canonical(value: Any) -> Hashable:
    """A hashable key under which two JSON values are equal exactly when the rules call them equal.

    Numbers map to themselves (Python compares int and float exactly by value and hashes 5 and 5.0 alike); booleans
    are tagged apart from numbers; lists keep their order; objects become sets of key/value pairs. Depth is bounded
    by `loads`, so the recursion is too.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("list", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    return ("other", repr(value))


def call_key(call: dict[str, Any]) -> Hashable:
    return call["name"], canonical(call["arguments"])


def compare(predicted: list[dict[str, Any]], gold: list[dict[str, Any]]) -> str | None:
    """None if the calls are equal as a multiset, else the reason they differ (the first difference found)."""
    want, got = Counter(map(call_key, gold)), Counter(map(call_key, predicted))
    missing, extra = want - got, got - want
    if not missing and not extra:
        return None
    by_key = {call_key(call): call for call in [*gold, *predicted]}
    for key in extra:
        if key in want:
            return f"duplicated call {_short(key[0])}"
    for key in missing:
        for other in extra:
            if other[0] == key[0]:
                difference = _argument_difference(by_key[other]["arguments"], by_key[key]["arguments"])
                return f"call {_short(key[0])}: {difference}"
    if missing:
        return f"missing call {_short(next(iter(missing))[0])}"
    return f"extra call {_short(next(iter(extra))[0])}"


def _argument_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for key in want:
        if key not in got:
            return f"missing argument {_short(key)}"
    for key in got:
        if key not in want:
            return f"unexpected argument {_short(key)}"
    for key, value in want.items():
        if canonical(got[key]) != canonical(value):
            path, got_part, want_part = _first_difference(got[key], value, key)
            return f"argument {_short(path)} is {_short(got_part)}, expected {_short(want_part)}"
    return "arguments differ"


def _first_difference(got: Any, want: Any, path: str) -> tuple[str, Any, Any]:
    """The path to the first place two different values differ ("filters.brands[0]") and the values there."""
    if isinstance(got, dict) and isinstance(want, dict) and got.keys() == want.keys():
        for key in want:
            if canonical(got[key]) != canonical(want[key]):
                return _first_difference(got[key], want[key], f"{path}.{key}")
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for index, (got_item, want_item) in enumerate(zip(got, want)):
            if canonical(got_item) != canonical(want_item):
                return _first_difference(got_item, want_item, f"{path}[{index}]")
    return path, got, want


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
