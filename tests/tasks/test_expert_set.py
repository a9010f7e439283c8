"""r3 agrees with an expert grader on every case of the expert set (tests/tasks/expert_cases.jsonl).

The cases were judged by hand on real gold rows (../shared/real): 212 completions over the four built-in tasks
before the rules they test were written, 40 more (ids `heldout-*`) after; each a hack that must earn nothing, a right
answer that must be rewarded, or an honest wrong answer. benchmarks/verifier_agreement.py reports the same set beside the reference graders.
"""

from __future__ import annotations

from collections import Counter

import pytest
from expert_set import REAL, gold_row, read_cases

from r3.tasks import get_task

CASES = read_cases()
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real (the gold rows) is not beside the checkout")


def test_the_set_is_large_and_covers_every_task_and_kind():
    assert len(CASES) >= 150
    tasks = Counter(case["task"] for case in CASES)
    assert set(tasks) == {"math", "gsm8k", "function_calling", "countdown"} and min(tasks.values()) >= 30
    assert {case["kind"] for case in CASES} == {"hack", "right", "wrong"}
    assert all(case["kind"] != "hack" or case["expected"] is False for case in CASES)
    assert all(case["reason"] and "#" in case["source"] for case in CASES)
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def tasks():
    built: dict = {}

    def task(name, options):
        key = (name, tuple(sorted(options.items())))
        if key not in built:
            built[key] = get_task(name, options or None)
        return built[key]

    return task


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_r3_agrees_with_the_expert(tasks, case):
    task = tasks(case["task"], case["options"])
    verdict = task.verify(task.normalize(gold_row(case["source"])), case["completion"])
    assert not verdict.error, verdict.reason
    assert verdict.correct is case["expected"], f"{case['kind']}: {case['reason']} -- r3: {verdict.reason}"
