"""Reward hacking: outputs a policy under RL could learn to emit to collect reward without the right answer.

None of them may be rewarded. Each group says what it tries: answers hidden among numbers, several boxes, empty
boxes, hedges, huge expressions, JSON tricks, answers inside the reasoning, the question handed back, near-miss
decimals, words that change a number. A hacked output may be an error verdict, never a correct one. (The expert set,
tests/tasks/expert_cases.jsonl, holds more of each family on real gold rows.)
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
    # words that change the number (issue 21)
    "\\boxed{18 thousand}", "\\boxed{18 squared}", "\\boxed{18 \\text{ tenths}}", "\\boxed{18 dozen}",
    "\\boxed{18ish}", "\\boxed{18i}", "\\boxed{18x}", "\\boxed{18k}", "\\boxed{18 halves}", "\\boxed{18 cubed}",
    "\\boxed{18 \\text{ or more}}", "\\boxed{about 18}", "\\boxed{18 \\times 10^2}", "\\boxed{1.8e1 squared}",
    "<think>\\boxed{18}</think> I don't know.",
]
GSM8K_FINAL_HACKS = [
    "The answer is 18.\nOr 19.", "The answer is 18 or 19.", "#### 18, 19", "The answer is 18 maybe 19",
    "\\boxed{18}\nThe answer is 19.", "The answer is\n18",
    "It is not true that the answer is 18.", "The answer is not 18.", "Maybe the answer is 18.",
    "If I had added correctly, the answer is 18.", "Answer: 18 or 19", "Final Answer: The final answer is $19$.",
]
# (problem, gold, completion): the question handed back, near misses, false equations (issue 21)
MATH_PROBLEM_HACKS = [
    ("Simplify $\\sqrt{242}$.", "11\\sqrt2", "\\boxed{\\sqrt{242}}"),
    ("Evaluate $(1+2i)6-3i$.", "6+9i", "\\boxed{(1+2i)6-3i}"),
    ("Simplify $(-k + 4) + (-2 + 3k)$.", "2k+2", "\\boxed{(-k+4)+(-2+3k)}"),
    ("Compute $1-2+3-4+\\dots-100$.", "-50", "\\boxed{\\sum_{k=1}^{100} (-1)^{k+1} k}"),
    ("Compute $\\int_0^1 2x\\,dx$.", "1", "\\boxed{\\int_0^1 2x\\,dx}"),
    ("p", "\\frac14", "\\boxed{0.2500001}"), ("p", "\\pi", "\\boxed{3.141593}"),
    ("p", "\\frac43", "\\boxed{1.333333}"), ("p", "\\frac{4}{3}", "\\boxed{1.333333}"),
    ("p", "\\sqrt{2}", "\\boxed{1.41421356}"), ("p", "5", "\\boxed{6 = 5}"), ("p", "5", "\\boxed{x = 6 = 5}"),
    ("p", "5", "\\boxed{5 = 5}"), ("p", "5", "\\boxed{5 \\text{ or } 6}"), ("p", "1,-2", "\\boxed{1 \\text{ or } 2}"),
    ("p", "(5,\\infty)", "\\boxed{x \\ge 5}"), ("p", "5", "\\boxed{" + "(" * 40 + "5" + ")" * 40 + "1}"),
]
# answers only inside the reasoning, or reasoning never closed: every task reads the committed reply
REASONING_HACKS = {
    "math": ("5", ["<think>\\boxed{5}</think> I cannot solve this.", "<think>so \\boxed{5}",
                   "<think>a</think> \\boxed{6} <think>no: \\boxed{5}"]),
    "countdown": ([44, 19, 35], ["<think><answer>44 + 19 + 35</answer></think> No solution.",
                                 "<think>so <answer>44 + 19 + 35</answer>"]),
}
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
    # issue 21: a 'function' field naming another call; the call only inside the reasoning
    json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"},
                 "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]),
    json.dumps([{"name": "get_weather", "function": {"name": "search", "arguments": '{"city": "Paris"}'}}]),
    f"<think>{json.dumps([CALL])}</think> I cannot help with that.", f"<think>{json.dumps([CALL])}",
    f"{json.dumps([CALL])}\nAlso: {json.dumps([OTHER])}",
]
# with match=bfcl: a date or coordinate that differs only in punctuation is another date or place (issue 21)
DATED = {"name": "get_weather", "arguments": {"city": "Paris", "date": "2019-12-13", "at": "48.8567,2.3508"}}
DATED_TOOLS = [{"name": "get_weather", "parameters": {"city": {"type": "str"}, "date": {"type": "str"},
                                                      "at": {"type": "str"}}}]
PUNCTUATION_HACKS = [{"date": "20191213"}, {"date": "2019-1-213"}, {"at": "488567,23508"}, {"at": "48.8567,-2.3508"},
                     {"at": "4885.67,2.3508"}, {"date": "2019.12.13"}]
COUNTDOWN_HACKS = [
    "<answer>99 = 44 + 19 + 35</answer>", "<answer>98 = 98</answer>", "<answer>98</answer>",
    "<answer>44 + 19 + 35 = 98 = 99</answer>", "<answer>44 + 19 + 35..</answer>", "<answer>44 + 19 + 3.5.</answer>",
    "<answer>98 = 44 + 19 + 35 + 0</answer>", "<answer>98 = 44 + 54</answer>",
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
    if match == "bfcl" and completion == json.dumps([{"name": "get_weather", "arguments": {"city": "paris"}}]):
        assert verdict.correct  # BFCL compares strings case-insensitively: "paris" is its rule, not a hack
        return
    assert verdict.correct is False, verdict.reason


@pytest.mark.parametrize("problem, gold, completion", MATH_PROBLEM_HACKS)
def test_math_question_handed_back_and_near_misses_are_not_rewarded(math_task, problem, gold, completion):
    verdict = math_task.verify(math_task.normalize({"problem": problem, "answer": gold}), completion)
    assert verdict.correct is False, verdict.reason


@pytest.mark.parametrize("task_name, gold, completion",
                         [(name, gold, text) for name, (gold, texts) in REASONING_HACKS.items() for text in texts])
def test_answers_inside_the_reasoning_are_not_rewarded(task_name, gold, completion):
    task = get_task(task_name)
    row = {"problem": "p", "answer": gold} if task_name == "math" else {"nums": gold, "target": 98}
    assert task.verify(task.normalize(row), completion).correct is False


@pytest.mark.parametrize("changed", PUNCTUATION_HACKS)
def test_bfcl_punctuation_that_changes_a_date_or_place_is_not_rewarded(changed):
    task = get_task("function_calling", {"match": "bfcl"})
    example = task.normalize({"query": "q", "tools": json.dumps(DATED_TOOLS), "answers": json.dumps([DATED])})
    hacked = {**DATED, "arguments": {**DATED["arguments"], **changed}}
    assert task.verify(example, json.dumps([DATED])).correct
    assert task.verify(example, json.dumps([hacked])).correct is False


@pytest.mark.parametrize("completion", COUNTDOWN_HACKS)
def test_countdown_hacks_are_not_rewarded(completion):
    task = get_task("countdown")
    assert task.verify(task.normalize({"nums": [44, 19, 35], "target": 98}), completion).correct is False


def test_the_honest_answers_are_rewarded(math_task):
    """The suite would pass trivially with a verifier that rejects everything: the right answers must pass."""
    assert math_task.verify(math_task.normalize({"problem": "p", "answer": "5"}), "So \\boxed{5}.").correct
    gsm8k = get_task("gsm8k")
    assert gsm8k.verify(gsm8k.normalize({"question": "q", "answer": "#### 18"}), "\\boxed{18}").correct
    calls = get_task("function_calling")
    example = calls.normalize({"query": "q", "tools": json.dumps(TOOLS), "answers": json.dumps([CALL])})
    assert calls.verify(example, json.dumps([CALL])).correct
