"""Function calling in the xLAM/APIGen format: pick the right tools with the right arguments.

An example has `query` (the user's request), `tools` (a list of tool descriptions: name, description, parameters)
and `answers` (the gold calls: a list of {"name", "arguments"}), plus an optional `id`. As in the public
Salesforce/xlam-function-calling-60k set, `tools` and `answers` may be JSON-encoded strings.

The normalized example keeps `tools` and `answers` as JSON strings (a string given is kept as written, after it
is checked, so that numbers keep their exact digits; a list is written with `json.dumps`). Tool schemas and
arguments differ from row to row, and Arrow (under `datasets`, and so TRL) would merge them into one struct type,
filling absent keys with nulls and so changing the gold answers; strings travel through any dataset unchanged.

The verifier's rules are in `r3.tasks.function_calling_parse` (where calls are found in every common format, how
values compare); on top of them a call to a tool that was not offered is incorrect. Option `match`: `exact` (the
default, the paper's rule) or `bfcl` (BFCL's AST-checker rules, `r3.tasks.function_calling_bfcl`).

    r3 verify --task function_calling completions.jsonl
    r3 verify --task function_calling --task-option match=bfcl completions.jsonl
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from typing import Any, ClassVar

from r3.errors import DataError, R3Error, shorten
from r3.tasks.base import Task, require
from r3.tasks.function_calling_bfcl import compare_bfcl, is_documented_default, schema_of
from r3.tasks.function_calling_parse import CallError, call_key, check_calls, compare, extract_calls, loads
from r3.types import Verdict

PROMPT = """You can call the following tools. Each line describes one tool as JSON:
<tools>
{tools}
</tools>

Request: {query}

Answer with the tool calls that fulfil the request, as a JSON list of calls, each written as \
{"name": <tool name>, "arguments": {<argument name>: <value>, ...}}. Use several calls when the request needs \
them. Reply with the JSON list only, for example:
[{"name": "tool_a", "arguments": {"x": 1}}, {"name": "tool_b", "arguments": {"y": "text"}}]"""

REFLECTION_INSTRUCTION = (
    "You tried performing the task, but failed in generating the correct tool calls. Reflect on what went wrong "
    "and write a short explanation that will help you do better in the future."
)
RETRY_INSTRUCTION = "Now try again, using your reflection. Reply with the JSON list of tool calls only."


class FunctionCallingTask(Task):
    """Call the right tools with the right arguments (xLAM/APIGen format; calls compared as a multiset)."""

    name = "function_calling"
    fields = ("query", "tools", "answers")
    default_source = "Salesforce/xlam-function-calling-60k"
    default_split = "train"
    source_note = "a gated dataset: accept its terms on the hub and log in (`hf auth login`), or pass a local file"
    reflection_instruction = REFLECTION_INSTRUCTION
    retry_instruction = RETRY_INSTRUCTION
    prompt_template = PROMPT  # variables {tools} (one JSON line per tool) and {query}
    options: ClassVar = {"match": ("exact", "bfcl")}

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        query = require(row, "query")
        if not isinstance(query, str) or not query.strip():
            raise DataError(f"expected a non-empty string, got {shorten(query)}", field="query")
        raw_tools, raw_answers = require(row, "tools"), require(row, "answers")
        tools = decode_tools(raw_tools)
        answers = decode_answers(raw_answers, {tool["name"] for tool in tools})
        example = dict(row)
        example["tools"] = raw_tools if isinstance(raw_tools, str) else json.dumps(tools, ensure_ascii=False)
        example["answers"] = raw_answers if isinstance(raw_answers, str) else json.dumps(answers, ensure_ascii=False)
        return example

    def template_value(self, example: dict[str, Any], field: str) -> str | None:
        """`{tools}` is one JSON line per tool; other fields as the base class writes them."""
        if field == "tools" and field in example:
            return "\n".join(json.dumps(tool, ensure_ascii=False) for tool in json.loads(example["tools"]))
        return super().template_value(example, field)

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        try:
            predicted = extract_calls(completion)
        except CallError as error:
            return Verdict(False, str(error))
        tools = _tools(example["tools"])
        offered = {tool["name"] for tool in tools}
        for call in predicted:
            if call["name"] not in offered:
                return Verdict(False, f"calls unknown tool {shorten(call['name'], 60)}")
        if self.task_options.get("match") == "bfcl":
            difference = compare_bfcl(predicted, _answers(example["answers"]), tools)
        else:
            gold, want, given = _exact_gold(example["answers"], example["tools"])
            schemas = _schemas(example["tools"])
            predicted = [without_defaults(call, schemas.get(call["name"], {}), given.get(call["name"], set()))
                         for call in predicted]
            difference = compare(predicted, gold, want)
        if difference is not None:
            return Verdict(False, difference)
        return Verdict(True, f"all {len(predicted)} call(s) match")

    def load(self, source: str | None = None, split: str | None = None, limit: int | None = None, *,
             skip_bad: bool = False, config: str | None = None) -> list[dict]:
        """As `Task.load`, but failing to reach the default (gated) hub dataset says how to get access."""
        try:
            return super().load(source, split, limit, skip_bad=skip_bad, config=config)
        except DataError:
            raise
        except R3Error as error:
            if source is None or source == self.default_source:
                raise R3Error(f"{error} ({self.default_source} is {self.source_note})") from None
            raise


def decode_tools(value: Any) -> list[dict[str, Any]]:
    """The tool list of a row (a list, or a JSON string holding one); DataError names `tools` and the problem."""
    tools = _decode(value, "tools")
    names = set()
    for number, tool in enumerate(tools, start=1):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise DataError(f"tool {number} is not an object with a string 'name': {shorten(tool)}", field="tools")
        if tool["name"] in names:
            raise DataError(f"tool name {tool['name']!r} appears twice", field="tools")
        names.add(tool["name"])
    if not tools:
        raise DataError("no tools", field="tools")
    return tools


def decode_answers(value: Any, offered: set[str] | None = None) -> list[dict[str, Any]]:
    """The gold calls of a row, checked like predicted calls, and (given `offered`) each calling an offered tool."""
    try:
        calls = check_calls(_decode(value, "answers"))
    except CallError as error:
        raise DataError(str(error), field="answers") from None
    for number, call in enumerate(calls, start=1):
        if offered is not None and call["name"] not in offered:
            raise DataError(f"call {number} uses {call['name']!r}, which is not among the tools", field="answers")
    return calls


def _decode(value: Any, field: str) -> list[Any]:
    """A JSON list, read as strictly as a completion (so gold numbers are exact and duplicate keys are errors)."""
    if not isinstance(value, str):
        value = _reencode(value, field)
    try:
        value = loads(value)
    except ValueError as error:
        raise DataError(f"not valid JSON ({str(error)[:60]}): {shorten(value)}", field=field) from None
    if not isinstance(value, list):
        raise DataError(f"expected a list (or a JSON string holding one), got {shorten(value)}", field=field)
    return value


def _reencode(value: Any, field: str) -> str:
    """JSON text of an already decoded value (from Arrow or a JSON file), to be read back strictly."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise DataError(f"not JSON-like ({str(error)[:60]}): {shorten(value)}", field=field) from None


@lru_cache(maxsize=4096)
def _tools_from_json(text: str) -> list[dict[str, Any]]:
    return decode_tools(text)


@lru_cache(maxsize=4096)
def _answers_from_json(text: str) -> list[dict[str, Any]]:
    return decode_answers(text)


def without_defaults(call: dict[str, Any], schema: dict[str, tuple[bool, Any]], gold_gives: set[str] | None) -> dict:
    """The call without the arguments given at their documented default, which change nothing a runtime does.

    For a gold call (`gold_gives` None): an optional parameter's default is dropped, so a prediction may leave it
    out. For a predicted call: any parameter's default is dropped unless the gold (after that) still gives the
    argument, so giving a default explicitly is fine, leaving out a required argument stays wrong, and a wrong value
    is reported as one. Documented defaults come from the tool schema (xLAM's or BFCL's `default`)."""
    kept = {key: value for key, value in call["arguments"].items()
            if not (key in schema and (gold_gives is None or key not in gold_gives)
                    and is_documented_default(schema[key], value, required_too=gold_gives is not None))}
    return call if len(kept) == len(call["arguments"]) else {"name": call["name"], "arguments": kept}


def _schemas(value: Any) -> dict[str, dict[str, tuple[bool, Any]]]:
    return _schemas_from_json(value) if isinstance(value, str) else {t["name"]: schema_of(t) for t in _tools(value)}


@lru_cache(maxsize=4096)
def _schemas_from_json(text: str) -> dict[str, dict[str, tuple[bool, Any]]]:
    return {tool["name"]: schema_of(tool) for tool in _tools_from_json(text)}


@lru_cache(maxsize=4096)
def _exact_gold_from_json(answers: str, tools: str) -> tuple[list[dict], Counter, dict[str, set[str]]]:
    return _exact_gold_of(_answers_from_json(answers), _schemas_from_json(tools))


def _exact_gold_of(answers: list[dict], schemas: dict) -> tuple[list[dict], Counter, dict[str, set[str]]]:
    """The gold calls without optional arguments at their default, their keys counted, and which arguments they
    still give per tool."""
    gold = [without_defaults(call, schemas.get(call["name"], {}), None) for call in answers]
    given: dict[str, set[str]] = {}
    for call in gold:
        given.setdefault(call["name"], set()).update(call["arguments"])
    return gold, Counter(map(call_key, gold)), given


def _exact_gold(answers: Any, tools: Any) -> tuple[list[dict], Counter, dict[str, set[str]]]:
    """`_exact_gold_of` for an example, cached per example when its fields are JSON strings (verify is hot)."""
    if isinstance(answers, str) and isinstance(tools, str):
        return _exact_gold_from_json(answers, tools)
    return _exact_gold_of(_answers(answers), _schemas(tools))


def _tools(value: Any) -> list[dict[str, Any]]:
    """Tools of a normalized example (a JSON string; a decoded list is accepted too). Cached: verify is hot."""
    return _tools_from_json(value) if isinstance(value, str) else decode_tools(value)


def _answers(value: Any) -> list[dict[str, Any]]:
    return _answers_from_json(value) if isinstance(value, str) else decode_answers(value)
