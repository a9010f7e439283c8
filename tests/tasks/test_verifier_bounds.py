"""Property: whatever the completion, no built-in verifier raises or hangs when called from a worker thread.

Each verdict is awaited from the test's thread with a generous limit (HANG): the test fails on a verifier that
never comes back (the old math verifier ran for minutes on `\\boxed{10^{{10}^{8}}}` in a thread), not on a slow
machine. math runs with a 1 s bound of its own, enforced by killing its worker process.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r3.tasks import get_task

HANG = 120  # seconds: far beyond any bound a verifier has; reaching it means the verifier hung

_LATEX = ["\\boxed{", "\\fbox{", "}", "{", "\\frac{", "^{", "^", "!", "10", "9", "5", "x", "\\infty", "\\text{or}",
          "\\sqrt{", ",", " ", "\n", "$", "\\\\", "The answer is ", "#### ", "\\left(", "\\right)", "e", "."]
_JSON = ["[", "]", "{", "}", '"name"', '"arguments"', '"parameters"', '"tool_calls"', '"function"', ":", ",",
         '"get_weather"', '"city"', '"Paris"', "5", "5.0", "1e-400", "NaN", "true", "null", '"', "\\", " ",
         "[TOOL_CALLS]", "<tool_call>", "</tool_call>", "```json\n", "```", "prose "]

TASKS = {
    "math": (get_task("math", {"timeout": "1"}), {"problem": "p", "answer": "\\frac{5}{2}"}, _LATEX),
    "gsm8k": (get_task("gsm8k", {"answer_format": "boxed_or_final"}), {"question": "q", "answer": "#### 18"}, _LATEX),
    "function_calling": (get_task("function_calling", {"match": "bfcl"}),
                         {"query": "q", "answers": '[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
                          "tools": '[{"name": "get_weather", "parameters": {"city": {"type": "str"}}}]'}, _JSON),
    "countdown": (get_task("countdown"), {"nums": [1, 2, 3], "target": 6}, ["<answer>", "</answer>", "(", ")", "1",
                                                                             "2", "3", "+", "*", "**", "/", " "]),
}
POOL = ThreadPoolExecutor(max_workers=2)


def completions(pieces):
    return st.one_of(st.text(max_size=300), st.lists(st.sampled_from(pieces), max_size=80).map("".join))


@pytest.mark.parametrize("name", list(TASKS))
def test_no_verifier_raises_or_hangs_in_a_thread(name):
    task, row, pieces = TASKS[name]
    example = task.normalize(row)
    assert POOL.submit(task.verify, example, "warm up").result(timeout=HANG).correct is False

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(completions(pieces))
    def check(completion):
        verdict = POOL.submit(task.verify, example, completion).result(timeout=HANG)
        assert isinstance(verdict.correct, bool) and isinstance(verdict.reason, str) and verdict.reason
        assert not (verdict.correct and verdict.error)

    check()


def test_the_known_hang_is_bounded_in_a_thread():
    task, row, _ = TASKS["math"]
    verdict = POOL.submit(task.verify, task.normalize(row), "\\boxed{10^{{10}^{8}}}").result(timeout=HANG)
    assert verdict.correct is False
    json.dumps(verdict.reason)  # a plain, serialisable reason
