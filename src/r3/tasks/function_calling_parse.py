"""Extracting and comparing function calls: the strict, never-raising core of the function-calling verifier.

Where the predicted calls are found (first rule that applies):
1. after the last `[TOOL_CALLS]` marker (Mistral), if there is one: the JSON there; or, in Mistral's newer format
   `[TOOL_CALLS]name[ARGS]{...}` (once per call), the final run of such calls;
2. the whole completion, if it parses as JSON;
3. otherwise whichever ends later in the completion of
   - the last top-level JSON value, when the completion ends with one (prose, then the list or object), or with
     one followed by a short closing remark without brackets ("Let me know if you need anything else!");
   - every `<tool_call>...</tool_call>` block, in order, whatever stands between them (as a Hermes parser such as
     vLLM's runs them all: `<tool_call>A</tool_call> text <tool_call>B</tool_call>` is [A, B]); each block holds
     one call or a list of calls;
   - the last fenced code block (three backticks, with or without a language tag such as `json`), fences paired
     from the start of the text;
4. otherwise there is no answer.
What is found may be a list of calls, a single call, or a container `{"tool_calls": [...]}` (xLAM, OpenAI). A call
is `{"name": ..., "arguments": {...}}` (xLAM/APIGen), the same with `parameters` (Llama 3.1) or OpenAI's
`{"type": "function", "function": {"name": ..., "arguments": "<JSON string>"}}`; `arguments` may be an object or a
JSON string holding one; other keys of a call (`id`, `type`) are ignored. A call holding both `name` and an OpenAI
`function` must name the same call in both (else a grader reading `name` and a runtime reading `function` would
disagree).

JSON is read strictly: a duplicate key anywhere is an error (the last one would otherwise silently win, so
`{"name": "search", "name": "get_weather"}` could pass as either), NaN and Infinity are not JSON, and numbers are
never floats: integers are `int` and the rest `Decimal`, so `5 == 5.0` but `5.000000000000000001 != 5` and
`1e-400 != 0`.

Comparison: the predicted calls must equal the gold calls as a multiset. Values are equal in JSON terms: numbers by
exact value, booleans never equal numbers, strings exactly, lists in order, objects key by key. (`match=bfcl`
relaxes this, see `r3.tasks.function_calling_bfcl`.)

Bounds: completions over `MAX_CHARS` characters, more than `MAX_CALLS` calls and values nested deeper than `MAX_DEPTH`
are rejected; every scan is linear. So any input gets an answer quickly, and nothing here raises except `CallError`
(a rejected completion, carrying the short reason).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Hashable
from decimal import Decimal
from typing import Any

MAX_CHARS = 200_000  # about 50k tokens: longer than any generation budget r3 uses
MAX_DEPTH = 64
MAX_CALLS = 256
MAX_CLOSING_CHARS = 300  # a closing remark after the calls ("Let me know if you need anything else!")

_OPEN, _CLOSE, _FENCE, _MISTRAL, _ARGS = "<tool_call>", "</tool_call>", "```", "[TOOL_CALLS]", "[ARGS]"
_MISTRAL_CALL = re.compile(r"\s*([^\s\[\]{}\"]+)\s*\[ARGS\](.*)", re.DOTALL)
_FENCE_TAG = re.compile(r"[A-Za-z][\w.+-]*")
_FENCE_RE = re.compile(re.escape(_FENCE))
_NOT_PROSE = re.compile(r"[\[\]{}<>`]")
# text before a JSON value that shows the value is an element or member of an unclosed list or object
_INSIDE_JSON = re.compile(r'(?:[\[{]|[\]}"\d]\s*,|"\s*:)\s*\Z')


class CallError(ValueError):
    """The completion holds no well-formed calls; `str(error)` is the short reason."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate[:40]!r}")
    return result


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=Decimal, object_pairs_hook=_unique_keys)


def loads(text: str) -> Any:
    """Strict `json.loads`: duplicate keys, NaN/Infinity and deep nesting are ValueErrors; non-integers are Decimal."""
    try:
        value = _DECODER.decode(text)
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
    """Contents of every complete <tool_call> block, in order, and where the last one ends (-1 if there is none).
    A Hermes parser (vLLM's, for one) runs every block of a reply, whatever words stand between them."""
    blocks: list[str] = []
    position, end = 0, -1
    while len(blocks) <= MAX_CALLS:
        start = text.find(_OPEN, position)
        if start < 0:
            break
        close = text.find(_CLOSE, start + len(_OPEN))
        if close < 0:
            break
        blocks.append(text[start + len(_OPEN) : close])
        position = end = close + len(_CLOSE)
    return blocks, end


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


def _trailing_json(text: str) -> tuple[Any, str | None]:
    """The JSON value the text ends with (prose before it is allowed): (value, None), (None, why it is not valid
    JSON) or (None, None) when the text does not end with `]` or `}`. One backward scan that skips strings."""
    end = len(text.rstrip())
    if end == 0 or text[end - 1] not in "]}":
        return None, None
    level, index = 0, end - 1
    while index >= 0:
        char = text[index]
        if char == '"':
            index = _string_start(text, index)
        elif char in "]}":
            level += 1
        elif char in "[{":
            level -= 1
            if level == 0:
                if _INSIDE_JSON.search(text, max(0, index - 200), index):
                    return None, "it continues an unclosed list or object"
                try:
                    return loads(text[index:end]), None
                except ValueError as error:
                    return None, _brief(error)
        index -= 1
    return None, "unbalanced brackets"


def _without_closing_sentence(text: str) -> str:
    """The text without a short closing remark after its last `]` or `}` ("... ]\nLet me know if you need anything
    else!"): prose of at most `MAX_CLOSING_CHARS` characters holding no bracket, brace, tag or code fence. Calls
    are what a runtime executes, and a remark after them changes none."""
    end = max(text.rfind("]"), text.rfind("}"))
    tail = text[end + 1 :]
    if end < 0 or not tail.strip() or len(tail) > MAX_CLOSING_CHARS or _NOT_PROSE.search(tail):
        return text
    return text[: end + 1]


def _string_start(text: str, closing: int) -> int:
    """Index of the quote that opens the JSON string closed at `closing` (-1 if none): the previous quote that is
    not escaped (preceded by an even number of backslashes)."""
    position = closing
    while True:
        position = text.rfind('"', 0, position)
        if position < 0:
            return -1
        before = position - 1
        while before >= 0 and text[before] == "\\":
            before -= 1
        if (position - 1 - before) % 2 == 0:
            return position


def _as_call_list(value: Any) -> list[Any]:
    """A list of calls from what was found: a list, one call, or a `{"tool_calls": [...]}` container."""
    if isinstance(value, dict) and "tool_calls" in value and "name" not in value and "function" not in value:
        value = value["tool_calls"]
    return value if isinstance(value, list) else [value]


def extract_calls(completion: str) -> list[dict[str, Any]]:
    """The predicted calls of a completion, as [{"name": str, "arguments": dict}], or CallError with the reason."""
    if not isinstance(completion, str):
        raise CallError("completion is not a string")
    if len(completion) > MAX_CHARS:
        raise CallError(f"completion longer than {MAX_CHARS} characters")
    marker = completion.rfind(_MISTRAL)
    if marker >= 0 and _ARGS in completion[marker:]:
        return _mistral_args_calls(completion)
    if marker >= 0:
        try:
            return check_calls(_as_call_list(loads(completion[marker + len(_MISTRAL):])))
        except ValueError as error:
            if isinstance(error, CallError):
                raise
            raise CallError(f"the JSON after {_MISTRAL} is not valid ({_brief(error)})") from None
    try:
        whole = loads(completion)
    except ValueError:
        pass
    else:
        return check_calls(_as_call_list(whole))
    trailing, trailing_error = _trailing_json(_without_closing_sentence(completion))
    if trailing is not None:
        return check_calls(_as_call_list(trailing))
    blocks, blocks_end = _tool_call_run(completion)
    fence, fence_end = _last_fence(completion)
    if blocks_end < 0 and fence is None:
        if trailing_error is not None:
            raise CallError(f"the JSON at the end is not valid ({trailing_error})")
        raise CallError("not valid JSON and no <tool_call> or fenced code block")
    if blocks_end > fence_end:
        return _calls_of_blocks(blocks)
    try:
        fenced = loads(fence)
    except ValueError as error:
        raise CallError(f"fenced code block is not valid JSON ({_brief(error)})") from None
    return check_calls(_as_call_list(fenced))


def _mistral_args_calls(completion: str) -> list[dict[str, Any]]:
    """Mistral's newer format, `[TOOL_CALLS]name[ARGS]{...}` once per call: the final run of such segments."""
    segments = completion.split(_MISTRAL)[1:]
    if len(segments) > MAX_CALLS:
        raise CallError(f"more than {MAX_CALLS} calls")
    calls: list[dict[str, Any]] = []
    for number, segment in enumerate(reversed(segments)):
        match = _MISTRAL_CALL.fullmatch(segment)
        if match is None:
            if number == 0:
                raise CallError(f"the last {_MISTRAL} is not followed by name{_ARGS}{{...}}")
            break
        try:
            arguments = loads(match.group(2))
        except ValueError as error:
            if number == 0:
                raise CallError(f"the arguments of {_short(match.group(1))} are not valid JSON "
                                f"({_brief(error)})") from None
            break  # prose after an earlier call: the run of calls starts after it
        calls.append({"name": match.group(1), "arguments": arguments})
    return check_calls(calls[::-1])


def _calls_of_blocks(blocks: list[str]) -> list[dict[str, Any]]:
    if len(blocks) > MAX_CALLS:
        raise CallError(f"more than {MAX_CALLS} calls")
    calls: list[Any] = []
    for number, block in enumerate(blocks, start=1):
        try:
            calls.extend(_as_call_list(loads(block)))
        except ValueError as error:
            raise CallError(f"<tool_call> block {number} is not valid JSON ({_brief(error)})") from None
    return check_calls(calls)


def _brief(error: ValueError) -> str:
    return str(error).split(":", 1)[0][:60]


def check_calls(calls: list[Any]) -> list[dict[str, Any]]:
    """Check the shape of each call; decode `arguments` given as a JSON string. CallError names the call."""
    if len(calls) > MAX_CALLS:
        raise CallError(f"more than {MAX_CALLS} calls")
    return [_check_call(call, number) for number, call in enumerate(calls, start=1)]


def _check_call(call: Any, number: int) -> dict[str, Any]:
    """One call in any accepted shape as {"name", "arguments"} (see the module docstring)."""
    if not isinstance(call, dict):
        raise CallError(f"call {number} is not an object")
    if "function" in call:  # OpenAI: {"type": "function", "function": {...}}
        inner = call["function"]
        if not isinstance(inner, dict):
            raise CallError(f"call {number}: 'function' is not an object")
        if "name" in call:  # two places name the call: a runtime reads 'function', a lenient grader 'name'
            outer = {key: value for key, value in call.items() if key != "function"}
            outer_call = _check_call({"arguments": inner.get("arguments", {}), **outer}, number)
            inner_call = _check_call({"arguments": outer_call["arguments"], **inner}, number)
            if call_key(inner_call) != call_key(outer_call):
                raise CallError(f"call {number} names two different calls: 'name' {_short(outer_call['name'])} "
                                f"and 'function' {_short(inner_call['name'])}")
            return inner_call
        call = inner
    if "name" not in call:
        raise CallError(f"call {number} has no 'name'")
    name = call["name"]
    if not isinstance(name, str):
        raise CallError(f"call {number}: 'name' is not a string")
    if "arguments" in call and "parameters" in call:
        raise CallError(f"call {number} ({_short(name)}) has both 'arguments' and 'parameters'")
    key = "arguments" if "arguments" in call else "parameters"
    if key not in call:
        raise CallError(f"call {number} ({_short(name)}) has no 'arguments' (or 'parameters')")
    arguments = call[key]
    if isinstance(arguments, str):
        try:
            arguments = loads(arguments)
        except ValueError as error:
            raise CallError(f"call {number} ({_short(name)}): '{key}' string is not valid JSON "
                            f"({_brief(error)})") from None
    if not isinstance(arguments, dict):
        raise CallError(f"call {number} ({_short(name)}): '{key}' is not an object")
    return {"name": name, "arguments": arguments}


def canonical(value: Any) -> Hashable:
    """A hashable key under which two JSON values are equal exactly when the rules call them equal.

    Numbers map to themselves (Python compares int and Decimal exactly by value and hashes 5 and 5.0 alike); booleans
    are tagged apart from numbers; lists keep their order; objects become sets of key/value pairs. Depth is bounded
    by `loads`, so the recursion is too.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float, Decimal)):
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


def compare(predicted: list[dict[str, Any]], gold: list[dict[str, Any]],
            want: Counter | None = None) -> str | None:
    """None if the calls are equal as a multiset, else the reason they differ (the first difference found).
    `want` may hold the gold calls' keys already counted (the verifier caches them per example)."""
    want = want if want is not None else Counter(map(call_key, gold))
    got = Counter(map(call_key, predicted))
    if got == want:
        return None
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
    text = render(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(value: Any) -> str:
    """JSON text of a parsed value, numbers as written (`json.dumps` cannot write a Decimal)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key, ensure_ascii=False)}: {render(item)}"
                               for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)
