"""The function-calling verifier on literal strings: every accepted wrapping, the multiset rules, JSON equality."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r3.data import load_rows
from r3.errors import DataError
from r3.tasks import get_task
from r3.tasks.function_calling_parse import MAX_CALLS, MAX_CHARS, MAX_DEPTH

TOOLS = [
    {"name": "get_weather", "description": "Weather of a city.",
     "parameters": {"city": {"type": "str"}, "unit": {"type": "str, optional", "default": "C"}}},
    {"name": "search", "description": "Search.",
     "parameters": {"query": {"type": "str"}, "limit": {"type": "int"}, "exact": {"type": "bool"},
                    "filters": {"type": "Dict"}, "tags": {"type": "List[str]"}}},
    {"name": "ping", "description": "No arguments.", "parameters": {}},
]
PARIS = {"name": "get_weather", "arguments": {"city": "Paris"}}
ROME_F = {"name": "get_weather", "arguments": {"city": "Rome", "unit": "F"}}


@pytest.fixture(scope="module")
def task():
    return get_task("function_calling")


def example(task, answers, tools=TOOLS):
    return task.normalize({"id": 7, "query": "q", "tools": json.dumps(tools), "answers": json.dumps(answers)})


def check(task, answers, completion):
    return task.verify(example(task, answers), completion)


def dumps(value):
    return json.dumps(value)


# --- where the calls are found ---------------------------------------------------------------------------------

@pytest.mark.parametrize("completion", [
    dumps([PARIS, ROME_F]),                                           # whole completion, a list
    "  \n" + dumps([ROME_F, PARIS]) + "\n",                           # surrounding whitespace, other order
    f"<tool_call>{dumps(PARIS)}</tool_call>\n<tool_call>{dumps(ROME_F)}</tool_call>",
    f"I will call both.\n<tool_call>\n{dumps(PARIS)}\n</tool_call> <tool_call>{dumps(ROME_F)}</tool_call>\nDone.",
    f"<tool_call>{dumps([PARIS, ROME_F])}</tool_call>",                # one block holding a list
    f"Here:\n```json\n{dumps([PARIS, ROME_F])}\n```",                  # fenced, with language tag
    f"Here:\n```\n{dumps([PARIS, ROME_F])}\n```\nHope that helps.",    # fenced, no tag
    f"```JSON {dumps([PARIS, ROME_F])}```",                            # tag on the same line
    f"draft ```json\n{dumps([PARIS])}\n``` final ```json\n{dumps([PARIS, ROME_F])}\n```",  # the last fence
])
def test_accepted_wrappings(task, completion):
    verdict = check(task, [PARIS, ROME_F], completion)
    assert verdict.correct, verdict.reason


@pytest.mark.parametrize("completion", [
    dumps(PARIS),                                                     # a single object is a one-call list
    f"<tool_call>{dumps(PARIS)}</tool_call>",
    f"```json\n{dumps(PARIS)}\n```",
    dumps({"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}),  # arguments as a JSON string
    f"<tool_call>{dumps({'name': 'get_weather', 'arguments': json.dumps({'city': 'Paris'})})}</tool_call>",
    dumps({"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}),  # other keys are ignored
])
def test_single_call_wrappings(task, completion):
    verdict = check(task, [PARIS], completion)
    assert verdict.correct, verdict.reason


def test_every_tool_call_block_counts_whatever_stands_between(task):
    """A Hermes parser (vLLM's) runs every block of the reply, so the verdict judges all of them."""
    text = f"<tool_call>{dumps(PARIS)}</tool_call> and then: <tool_call>{dumps(ROME_F)}</tool_call>"
    assert check(task, [PARIS, ROME_F], text).correct
    assert not check(task, [ROME_F], text).correct


def test_whichever_of_tool_calls_and_fence_ends_later_wins(task):
    fence_last = f"<tool_call>{dumps(PARIS)}</tool_call>\n```json\n{dumps(ROME_F)}\n```"
    calls_last = f"```json\n{dumps(ROME_F)}\n```\n<tool_call>{dumps(PARIS)}</tool_call>"
    assert check(task, [ROME_F], fence_last).correct
    assert check(task, [PARIS], calls_last).correct


def test_whole_json_wins_even_if_it_is_not_a_call(task):
    # the whole completion parses as JSON (a string), so embedded blocks are not looked at
    text = dumps(f"<tool_call>{dumps(PARIS)}</tool_call>")
    assert check(task, [PARIS], text).reason == "call 1 is not an object"


@pytest.mark.parametrize("completion, reason", [
    ("", "not valid JSON and no <tool_call> or fenced code block"),
    ("The weather in Paris, please: get_weather(city='Paris')", "not valid JSON and no <tool_call> or fenced"),
    (f"Answer: {dumps([PARIS])} and then {{", "not valid JSON and no <tool_call> or fenced code block"),
    (f"Answer: {dumps([PARIS])[:-1]}", "the JSON at the end is not valid"),  # prose, then broken JSON
    ("<tool_call>{'name': 'get_weather'}</tool_call>", "<tool_call> block 1 is not valid JSON"),
    (f"<tool_call>{dumps(PARIS)}</tool_call><tool_call>oops</tool_call>", "<tool_call> block 2 is not valid JSON"),
    (f"<tool_call>{dumps(ROME_F)}", "call 'get_weather': unexpected argument 'unit'"),  # unclosed: JSON at the end
    (f"[{dumps(ROME_F)}, {dumps(PARIS)}", "the JSON at the end is not valid (it continues an unclosed list"),
    ("```json\n[{\"name\": \"get_weather\",]\n```", "fenced code block is not valid JSON"),
    ("```json\n[1, 2]", "call 1 is not an object"),  # unclosed fence: the JSON at the end counts
    ("42", "call 1 is not an object"),
    ("null", "call 1 is not an object"),
    (dumps([PARIS, "get_weather"]), "call 2 is not an object"),
    (dumps([{"arguments": {"city": "Paris"}}]), "call 1 has no 'name'"),
    (dumps([{"name": 3, "arguments": {}}]), "call 1: 'name' is not a string"),
    (dumps([{"name": "get_weather"}]), "call 1 ('get_weather') has no 'arguments' (or 'parameters')"),
    (dumps([{"name": "get_weather", "parameters": {"city": "Paris"}, "arguments": {"city": "Paris"}}]),
     "call 1 ('get_weather') has both 'arguments' and 'parameters'"),
    (dumps([{"name": "get_weather", "arguments": ["Paris"]}]), "call 1 ('get_weather'): 'arguments' is not an object"),
    (dumps([{"name": "get_weather", "arguments": "city=Paris"}]),
     "call 1 ('get_weather'): 'arguments' string is not valid JSON"),
    (dumps([{"name": "get_weather", "arguments": "[1]"}]), "call 1 ('get_weather'): 'arguments' is not an object"),
    ('[{"name": "get_weather", "arguments": {"city": NaN}}]', "the JSON at the end is not valid (NaN is not JSON)"),
    ('[{"name": "get_weather", "arguments": {"city": Infinity}}]', "the JSON at the end is not valid"),
    ('[{"name": "get_weather", "arguments": {"city": 1e999}}]', "call 'get_weather': argument 'city' is 1E+999"),
])
def test_malformed(task, completion, reason):
    verdict = check(task, [PARIS], completion)
    assert not verdict.correct
    assert verdict.reason.startswith(reason), verdict.reason


# --- the multiset rules -------------------------------------------------------------------------------------------

def test_order_does_not_matter_but_multiplicity_does(task):
    assert check(task, [PARIS, ROME_F], dumps([ROME_F, PARIS])).correct
    assert check(task, [PARIS, PARIS], dumps([PARIS, PARIS])).correct
    assert check(task, [PARIS, ROME_F], dumps([PARIS])).reason == "missing call 'get_weather'"
    assert check(task, [PARIS], dumps([PARIS, PARIS])).reason == "duplicated call 'get_weather'"
    assert check(task, [PARIS, PARIS], dumps([PARIS])).reason == "missing call 'get_weather'"
    assert check(task, [PARIS], dumps([PARIS, {"name": "ping", "arguments": {}}])).reason == "extra call 'ping'"
    assert check(task, [PARIS, ROME_F], dumps([PARIS, PARIS])).reason == "duplicated call 'get_weather'"
    assert check(task, [PARIS, ROME_F], dumps([PARIS, PARIS | {}])).correct is False
    assert not check(task, [PARIS], "[]").correct
    assert check(task, [], "[]").correct


def test_unknown_tool_is_incorrect(task):
    verdict = check(task, [PARIS], dumps([PARIS, {"name": "delete_everything", "arguments": {}}]))
    assert not verdict.correct and verdict.reason == "calls unknown tool 'delete_everything'"


def test_names_and_argument_keys_must_match(task):
    assert check(task, [PARIS], dumps([{"name": "Get_Weather", "arguments": {"city": "Paris"}}])).reason == (
        "calls unknown tool 'Get_Weather'")
    assert check(task, [ROME_F], dumps([{"name": "get_weather", "arguments": {"city": "Rome"}}])).reason == (
        "call 'get_weather': missing argument 'unit'")
    # an optional argument given at its documented default changes nothing a runtime does
    assert check(task, [PARIS], dumps([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}])
                 ).correct
    assert check(task, [ROME_F], dumps([{"name": "get_weather", "arguments": {"city": "Rome", "unit": "C"}}])
                 ).reason == "call 'get_weather': argument 'unit' is 'C', expected 'F'"


# --- values equal in JSON terms -----------------------------------------------------------------------------------

def search(**arguments):
    return {"name": "search", "arguments": arguments}


@pytest.mark.parametrize("gold, predicted, correct", [
    (5, 5, True), (5, 5.0, True), (5.0, 5, True), (0.1, 0.1, True), (-0.0, 0, True),
    (5, 5.000001, False), (2**53 + 1, float(2**53), False), (5, "5", False),
    (True, True, True), (True, 1, False), (1, True, False), (False, 0, False), (0.0, False, False),
    ("Paris", "Paris", True), ("Paris", "paris", False), ("Paris", "Paris ", False), ("é", "e\u0301", False),
    (None, None, True), (None, "null", False), (None, 0, False),
    ([1, 2, 3], [1, 2, 3], True), ([1, 2, 3], [3, 2, 1], False), ([1, 2], [1, 2, 2], False), ([1], 1, False),
    ([1, [2.0, True]], [1.0, [2, True]], True), ([True], [1], False),
    ({"a": 1, "b": [1]}, {"b": [1.0], "a": 1}, True), ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": {"b": False}}, {"a": {"b": 0}}, False), ({}, [], False),
])
def test_json_value_equality(task, gold, predicted, correct):
    verdict = check(task, [search(limit=gold)], dumps([search(limit=predicted)]))
    assert verdict.correct is correct, verdict.reason


def test_nested_arguments_and_lists(task):
    gold = [search(query="shoes", limit=10, exact=False, filters={"price": {"lte": 99.5}, "brands": ["a", "b"]},
                   tags=[])]
    same = [search(tags=[], filters={"brands": ["a", "b"], "price": {"lte": 99.50}}, exact=False, limit=10.0,
                   query="shoes")]
    assert check(task, gold, dumps(same)).correct
    swapped = [search(query="shoes", limit=10, exact=False, filters={"price": {"lte": 99.5}, "brands": ["b", "a"]},
                      tags=[])]
    assert check(task, gold, dumps(swapped)).reason == (
        "call 'search': argument 'filters.brands[0]' is 'b', expected 'a'")
    shorter = [search(query="shoes", limit=10, exact=False, filters={"price": {"lte": 99.5}, "brands": ["a"]},
                      tags=[])]
    assert check(task, gold, dumps(shorter)).reason == (
        """call 'search': argument 'filters.brands' is ["a"], expected ["a", "b"]""")


# --- bounds and robustness ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("completion", [
    "[" * 100_000,
    "[" * 5000 + "]" * 5000,
    "<tool_call>" + "[" * 5000 + "]" * 5000 + "</tool_call>",
    dumps([{"name": "get_weather", "arguments": {"city": "Paris", "x": [[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}}])
    .replace("[]", "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)),
    "<tool_call>" * 100_000,
    "```" * 100_001,
    "1" * 5000,
    '"\\ud800"',
    "x" * (MAX_CHARS + 1),
])
def test_hostile_inputs_get_a_verdict(task, completion):
    verdict = check(task, [PARIS], completion)
    assert verdict.correct is False and verdict.reason


def test_number_of_calls_is_capped(task):
    many = [PARIS] * (MAX_CALLS + 1)
    assert check(task, [PARIS], dumps(many)).reason == f"more than {MAX_CALLS} calls"
    blocks = "".join(f"<tool_call>{dumps(PARIS)}</tool_call>" for _ in range(MAX_CALLS + 1))
    assert check(task, [PARIS], blocks).reason == f"more than {MAX_CALLS} calls"
    assert check(task, many[:MAX_CALLS], dumps(many[:MAX_CALLS])).correct
    with pytest.raises(DataError, match=f"more than {MAX_CALLS} calls"):
        example(task, many)


def test_completion_size_is_capped(task):
    padded = dumps([PARIS]) + " " * MAX_CHARS
    assert check(task, [PARIS], padded).reason == f"completion longer than {MAX_CHARS} characters"


_pieces = st.sampled_from(["<tool_call>", "</tool_call>", "```", "```json\n", "[", "]", "{", "}", '"', ":", ",",
                           '"name"', '"arguments"', '"get_weather"', '"city"', '"Paris"', "5", "true", "null", "\\",
                           " ", "\n", "1e999", "NaN"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(_pieces, max_size=60).map("".join)))
def test_no_string_makes_the_verifier_raise(completion):
    task = get_task("function_calling")
    verdict = task.verify(example(task, [PARIS]), completion)
    assert isinstance(verdict.correct, bool) and isinstance(verdict.reason, str) and verdict.reason


# --- data ---------------------------------------------------------------------------------------------------------

def test_normalize_decodes_and_checks_fields(task):
    ex = example(task, [PARIS])
    assert json.loads(ex["tools"]) == TOOLS and json.loads(ex["answers"]) == [PARIS] and ex["id"] == 7
    same = task.normalize({"query": "q", "tools": TOOLS, "answers": [{"name": "get_weather",
                                                                        "arguments": '{"city": "Paris"}'}]})
    assert json.loads(same["answers"]) == [PARIS]
    assert "get_weather" in task.prompt(ex)[0]["content"] and "JSON list" in task.prompt(ex)[0]["content"]


@pytest.mark.parametrize("row, field, message", [
    ({"tools": "[]", "answers": "[]"}, "query", "missing required field"),
    ({"query": "q", "answers": "[]"}, "tools", "missing required field"),
    ({"query": "q", "tools": "[{", "answers": "[]"}, "tools", "not valid JSON"),
    ({"query": "q", "tools": '{"name": "a"}', "answers": "[]"}, "tools", "expected a list"),
    ({"query": "q", "tools": '[{"description": "x"}]', "answers": "[]"}, "tools", "tool 1 is not an object"),
    ({"query": "q", "tools": '[{"name": "a"}, {"name": "a"}]', "answers": "[]"}, "tools", "tool name 'a' appears"),
    ({"query": "q", "tools": '[{"name": "a"}]', "answers": '[{"name": "a"}]'}, "answers", "call 1 ('a') has no"),
    ({"query": "q", "tools": '[{"name": "a"}]', "answers": '[{"name": "b", "arguments": {}}]'}, "answers",
     "call 1 uses 'b', which is not among the tools"),
    ({"query": 5, "tools": '[{"name": "a"}]', "answers": "[]"}, "query", "expected a non-empty string"),
])
def test_malformed_rows_name_the_field(task, row, field, message):
    with pytest.raises(DataError) as error:
        task.normalize(row)
    assert error.value.field == field and message in str(error.value)


def test_every_sample_row_normalizes_and_its_gold_answer_verifies(task):
    examples = task.load("sample:function_calling")
    assert len(examples) >= 100
    assert sum(len(json.loads(ex["answers"])) > 1 for ex in examples) >= 30
    for ex in examples:
        gold = json.loads(ex["answers"])
        assert task.verify(ex, dumps(gold)).correct
        assert task.verify(ex, dumps(list(reversed(gold)))).correct
        blocks = "\n".join(f"<tool_call>{dumps(call)}</tool_call>" for call in gold)
        assert task.verify(ex, blocks).correct
        assert not task.verify(ex, dumps(gold + gold[:1])).correct


def test_sample_rows_are_in_the_xlam_layout():
    rows = load_rows("sample:function_calling").rows
    assert all(isinstance(row["tools"], str) and isinstance(row["answers"], str) for row in rows)
    assert {"id", "query", "tools", "answers"} <= set(rows[0])


def test_gated_default_source_says_so(task, hub_offline):
    from r3.errors import R3Error

    with pytest.raises(R3Error, match="Salesforce/xlam-function-calling-60k is a gated dataset") as error:
        task.load(limit=1)
    assert "\n" not in str(error.value)
