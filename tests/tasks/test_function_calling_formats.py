"""Function calling on real rows and native formats (issue 11): xLAM, OpenAI, Llama 3.1, Mistral, prose + JSON;
duplicate keys; exact numbers; the `match=bfcl` option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r3.errors import R3Error
from r3.tasks import get_task

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real"
needs_real = pytest.mark.skipif(not (REAL / "xlam_function_calling_60k_rows.jsonl").exists(),
                                reason="../shared/real (real public data) is not beside the checkout")

TOOLS = [{"name": "get_weather", "parameters": {"city": {"type": "str"}, "unit": {"type": "str, optional",
                                                                                   "default": "C"}}},
         {"name": "search", "parameters": {"query": {"type": "str"}, "limit": {"type": "int"}}}]
PARIS = {"name": "get_weather", "arguments": {"city": "Paris"}}
SEARCH = {"name": "search", "arguments": {"query": "shoes", "limit": 5}}


@pytest.fixture(scope="module")
def task():
    return get_task("function_calling")


@pytest.fixture(scope="module")
def bfcl():
    return get_task("function_calling", {"match": "bfcl"})


def example(task, answers, tools=TOOLS):
    return task.normalize({"query": "q", "tools": json.dumps(tools), "answers": json.dumps(answers)})


def openai(call, as_string=True):
    arguments = json.dumps(call["arguments"]) if as_string else call["arguments"]
    return {"id": "call_1", "type": "function", "function": {"name": call["name"], "arguments": arguments}}


def native_formats(calls):
    """The gold calls written the ways real models and datasets write them."""
    listed = json.dumps(calls)
    return {
        "xlam tool_calls": json.dumps({"tool_calls": calls}),
        "openai list": json.dumps([openai(call) for call in calls]),
        "openai objects": json.dumps([openai(call, as_string=False) for call in calls]),
        "openai tool_calls": json.dumps({"tool_calls": [openai(call) for call in calls]}),
        "llama parameters": json.dumps([{"name": c["name"], "parameters": c["arguments"]} for c in calls]),
        "mistral": f"[TOOL_CALLS] {listed}",
        "mistral [ARGS]": "".join(f"[TOOL_CALLS]{c['name']}[ARGS]{json.dumps(c['arguments'])}" for c in calls),
        "prose then list": f"Sure! I will look that up for you.\n\n{listed}",
        "prose then object": f"Calling now: {json.dumps({'tool_calls': calls})}\n",
        "hermes": "\n".join(f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in calls),
        "fenced": f"```json\n{listed}\n```",
    }


@pytest.mark.parametrize("form", list(native_formats([PARIS])))
def test_every_native_format_of_the_gold_is_correct(task, form):
    for calls in ([PARIS], [PARIS, SEARCH]):
        verdict = task.verify(example(task, calls), native_formats(calls)[form])
        assert verdict.correct, (form, verdict.reason)


@pytest.mark.parametrize("form", list(native_formats([PARIS])))
def test_every_native_format_of_a_wrong_call_is_incorrect(task, form):
    wrong = [PARIS, {"name": "search", "arguments": {"query": "shoes", "limit": 6}}]
    verdict = task.verify(example(task, [PARIS, SEARCH]), native_formats(wrong)[form])
    assert not verdict.correct and "limit" in verdict.reason, (form, verdict.reason)


@pytest.mark.parametrize("completion, reason", [
    ('[{"name": "search", "name": "get_weather", "arguments": {"city": "Paris"}}]', "duplicate key 'name'"),
    ('[{"name": "get_weather", "arguments": {"city": "Rome", "city": "Paris"}}]', "duplicate key 'city'"),
    ('{"tool_calls": [], "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
     "duplicate key 'tool_calls'"),
    (json.dumps([{"name": "get_weather", "arguments": '{"city": "Rome", "city": "Paris"}'}]), "duplicate key"),
    ('Here: [{"name": "get_weather", "arguments": {"city": "X", "city": "Paris"}}]', "duplicate key 'city'"),
    ('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "city": "Paris"}}</tool_call>',
     "duplicate key"),
])
def test_duplicate_keys_anywhere_are_incorrect(task, completion, reason):
    verdict = task.verify(example(task, [PARIS]), completion)
    assert not verdict.correct and reason in verdict.reason, verdict.reason


@pytest.mark.parametrize("gold, predicted, correct", [
    ("5", "5", True), ("5", "5.0", True), ("5.0", "5", True), ("5", "5e0", True), ("0.1", "0.10", True),
    ("5", "5.000000000000000001", False), ("0", "1e-400", False), ("1e-400", "1e-400", True),
    ("9007199254740993", "9007199254740992.0", False), ("0.3", "0.30000000000000004", False),
    ("-0", "0", True), ("1e999", "1e999", True), ("1e999", "1e998", False),
])
def test_numbers_compare_exactly_never_through_floats(task, gold, predicted, correct):
    tools = [{"name": "f", "parameters": {"x": {"type": "float"}}}]
    ex = task.normalize({"query": "q", "tools": json.dumps(tools),
                         "answers": f'[{{"name": "f", "arguments": {{"x": {gold}}}}}]'})
    verdict = task.verify(ex, f'[{{"name": "f", "arguments": {{"x": {predicted}}}}}]')
    assert verdict.correct is correct, verdict.reason


def test_gold_numbers_keep_their_digits(task):
    ex = task.normalize({"query": "q", "tools": '[{"name": "f", "parameters": {}}]',
                         "answers": '[{"name": "f", "arguments": {"x": 5.000000000000000001}}]'})
    assert not task.verify(ex, '[{"name": "f", "arguments": {"x": 5}}]').correct
    assert task.verify(ex, '[{"name": "f", "arguments": {"x": 5.000000000000000001}}]').correct


def test_match_option_is_checked(task):
    with pytest.raises(R3Error, match=r"option match='fuzzy' is not valid; valid: exact, bfcl"):
        get_task("function_calling", {"match": "fuzzy"})
    with pytest.raises(R3Error, match=r"has no option 'mode' \(its options: match\)"):
        get_task("function_calling", {"mode": "bfcl"})


@pytest.mark.parametrize("predicted, exact, bfcl_rule", [
    ({"city": "Paris"}, True, True),
    ({"city": "paris"}, False, True),                        # case-insensitive
    ({"city": "New-York"}, False, True),                     # ,./-_*^ and spaces removed (gold "new york")
    ({"city": "Paris", "unit": "C"}, True, True),             # optional parameter at its documented default
    ({"city": "Paris", "unit": "F"}, False, False),           # optional parameter at another value
    ({"city": "Paris", "country": "FR"}, False, False),       # a parameter the tool does not declare
    ({}, False, False),                                       # required parameter missing
    ({"city": "Pariss"}, False, False),
])
def test_bfcl_rules(task, bfcl, predicted, exact, bfcl_rule):
    gold_city = "new york" if predicted.get("city") == "New-York" else "Paris"
    gold = [{"name": "get_weather", "arguments": {"city": gold_city}}]
    completion = json.dumps([{"name": "get_weather", "arguments": predicted}])
    assert task.verify(example(task, gold), completion).correct is (exact and gold_city == "Paris")
    assert bfcl.verify(example(bfcl, gold), completion).correct is bfcl_rule


def test_bfcl_gold_at_default_may_be_left_out_and_int_for_float(bfcl):
    gold = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}]
    assert bfcl.verify(example(bfcl, gold), json.dumps([PARIS])).correct
    tools = [{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "float"}, "n": {
        "type": "integer"}}, "required": ["x", "n"]}}]
    ex = bfcl.normalize({"query": "q", "tools": json.dumps(tools),
                         "answers": '[{"name": "f", "arguments": {"x": 2.0, "n": 3}}]'})
    assert bfcl.verify(ex, '[{"name": "f", "arguments": {"x": 2, "n": 3}}]').correct      # int for float: allowed
    assert not bfcl.verify(ex, '[{"name": "f", "arguments": {"x": 2.0, "n": 3.0}}]').correct  # float for int: no


@needs_real
def test_real_xlam_rows_in_every_native_format(task):
    rows = [json.loads(line) for line in (REAL / "xlam_function_calling_60k_rows.jsonl").read_text().splitlines()]
    for row in rows:
        ex = task.normalize(row)
        calls = json.loads(row["answers"])
        for form, completion in native_formats(calls).items():
            verdict = task.verify(ex, completion)
            assert verdict.correct, (row["id"], form, verdict.reason)
        assert not task.verify(ex, json.dumps(calls[:-1] if len(calls) > 1 else [])).correct


@pytest.mark.parametrize("completion, calls_or_reason", [
    ('[TOOL_CALLS]get_weather[ARGS]{"city": "Rome"} no, [TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', True),
    ('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "city": "Rome"}', "duplicate key 'city'"),
    ("[TOOL_CALLS]get_weather[ARGS]", "are not valid JSON"),
    ('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"} thanks', "are not valid JSON"),
])
def test_mistral_args_format(task, completion, calls_or_reason):
    verdict = task.verify(example(task, [PARIS]), completion)
    if calls_or_reason is True:
        assert verdict.correct, verdict.reason
    else:
        assert not verdict.correct and calls_or_reason in verdict.reason, verdict.reason
