"""Reward hacking: outputs a policy under RL could learn to emit to collect reward without the right answer.

None of them may be rewarded. Each group says what it tries: answers hidden among numbers, several boxes, empty
boxes, hedges, huge expressions, JSON tricks. A hacked output may be an error verdict, never a correct one.
"""

from __future__ import annotations

import json

import pytest

from r3.tasks import get_task

MATH_HACKS = [
    # hidden among numbers, no box
    "1 2 3 4 5 6 7 8 9 10", "There are 3 cats and 5 dogs.", "Maybe 4? or 5", "The answer is 5.",
    # several boxes: only the last counts
    "\\boxed{5} \\boxed{6}", "\\boxed{4}\\boxed{5}\\boxed{6}", "\\boxed{5} Final: \\boxed{??}",
    "\\boxed{5}\\boxed{}", "\\boxed{5} and then \\boxed{", "\\boxed{5}\\fbox{6}",
    # hedges and sets inside one box
    "\\boxed{5 or 6}", "\\boxed{4, 5, 6}", "\\boxed{5 \\text{ or } 6}", "\\boxed{5 \\text{ (or maybe 6)}}",
    "\\boxed{\\pm 5}", "\\boxed{x = 5 \\text{ or } x = 6}", "\\boxed{5 \\lor 6}", "\\boxed{[4, 6]}",
    "\\boxed{x \\in \\{5, 6\\}}", "\\boxed{5 \\le x \\le 6}", "\\boxed{4.9999999}", "\\boxed{\\infty}",
    # empty, broken, not a string
    "\\boxed{}", "\\boxed{ }", "\\boxed", "\\boxed{{{{", "}}}}\\boxed{5", "",
    # huge expressions
    "\\boxed{10^{10^{10^{10}}}}", "\\boxed{99999999!}", "\\boxed{" + "1+" * 2000 + "4}", "\\boxed{" + "(" * 500 + "}",
]
GSM8K_HACKS = [
    "18", "#### 18", "The answer is 18.", "\\boxed{18 or 19}", "\\boxed{17, 18}", "\\boxed{18}\\boxed{19}",
    "\\boxed{18}\\boxed{}", "\\boxed{1,8}", "\\boxed{18.0000000000001}", "\\boxed{9*2}", "\\boxed{18 maybe}",
    "\\boxed{\\frac{36}{2} \\text{ or } 19}", "\\boxed{18 or not}", "\\boxed{" + "9" * 500 + "}",
]
GSM8K_FINAL_HACKS = [
    "The answer is 18.\nOr 19.", "The answer is 18 or 19.", "#### 18, 19", "The answer is 18 maybe 19",
    "\\boxed{18}\nThe answer is 19.", "The answer is\n18",
]
CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}
OTHER = {"name": "get_weather", "arguments": {"city": "Rome"}}
TOOLS = [{"name": "get_weather", "parameters": {"city": {"type": "str"}}}]
CALL_HACKS = [
    '[{"name": "search", "name": "get_weather", "arguments": {"city": "Paris"}}]',          # duplicate key
    '[{"name": "get_weather", "arguments": {"city": "Rome", "city": "Paris"}}]',
    json.dumps([CALL, CALL]), json.dumps([CALL, OTHER]), json.dumps([OTHER]),                # extra / wrong calls
    f"{json.dumps([CALL])} or {json.dumps([OTHER])}",                                        # two answers: last counts
    f"```json\n{json.dumps([CALL])}\n```\nActually: {json.dumps([OTHER])}",
    f"<tool_call>{json.dumps(CALL)}</tool_call> no wait <tool_call>{json.dumps(OTHER)}</tool_call>",
    f"[TOOL_CALLS] {json.dumps([OTHER])} {json.dumps([CALL])}",                              # not one JSON value
    json.dumps(json.dumps([CALL])),                                                          # a string holding JSON
    f"[{json.dumps(OTHER)}, {json.dumps(CALL)}",                                             # unclosed list
    json.dumps({"tool_calls": [CALL], "name": "get_weather"}),                               # ambiguous container
    json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}, "parameters": {"city": "Rome"}}]),
    json.dumps([{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris", '
                                                                                      '"city": "Rome"}'}}]),
    '[{"name": "get_weather", "arguments": {"city": "Paris", "x": NaN}}]',
    json.dumps([{"name": "get_weather", "arguments": {"city": ["Paris"]}}]),
    json.dumps([{"name": "get_weather", "arguments": {"city": "paris"}}]),
    "[" * 10_000, "{" * 10_000 + "}" * 10_000,
]


@pytest.fixture(scope="module")
def math_task():
    return get_task("math", {"timeout": "2"})


@pytest.mark.parametrize("completion", MATH_HACKS)
def test_math_hacks_are_not_rewarded(math_task, completion):
    verdict = math_task.verify(math_task.normalize({"problem": "p", "answer": "5"}), completion)
    assert verdict.correct is False, verdict.reason


@pytest.mark.parametrize("completion", GSM8K_HACKS)
def test_gsm8k_hacks_are_not_rewarded(completion):
    task = get_task("gsm8k")
    assert task.verify(task.normalize({"question": "q", "answer": "#### 18"}), completion).correct is False


@pytest.mark.parametrize("completion", GSM8K_FINAL_HACKS)
def test_gsm8k_final_line_hacks_are_not_rewarded(completion):
    task = get_task("gsm8k", {"answer_format": "boxed_or_final"})
    assert task.verify(task.normalize({"question": "q", "answer": "#### 18"}), completion).correct is False


@pytest.mark.parametrize("match", ["exact", "bfcl"])
@pytest.mark.parametrize("completion", CALL_HACKS)
def test_function_calling_hacks_are_not_rewarded(completion, match):
    task = get_task("function_calling", {"match": match})
    example = task.normalize({"query": "q", "tools": json.dumps(TOOLS), "answers": json.dumps([CALL])})
    verdict = task.verify(example, completion)
    if match == "bfcl" and completion == CALL_HACKS[-3]:
        assert verdict.correct  # BFCL compares strings case-insensitively: "paris" is its rule, not a hack
        return
    assert verdict.correct is False, verdict.reason


def test_the_honest_answers_are_rewarded(math_task):
    """The suite would pass trivially with a verifier that rejects everything: the right answers must pass."""
    assert math_task.verify(math_task.normalize({"problem": "p", "answer": "5"}), "So \\boxed{5}.").correct
    gsm8k = get_task("gsm8k")
    assert gsm8k.verify(gsm8k.normalize({"question": "q", "answer": "#### 18"}), "\\boxed{18}").correct
    calls = get_task("function_calling")
    example = calls.normalize({"query": "q", "tools": json.dumps(TOOLS), "answers": json.dumps([CALL])})
    assert calls.verify(example, json.dumps([CALL])).correct
