"""The math task on literal strings, in the main thread and in a worker thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from r3.errors import DataError
from r3.tasks import get_task


@pytest.fixture(scope="module")
def task():
    return get_task("math")


def ex(task, answer):
    return task.normalize({"problem": "p", "answer": answer})


@pytest.mark.parametrize("answer, completion, correct", [
    ("\\frac{7}{12}", "So the answer is $\\boxed{\\frac{7}{12}}$.", True),
    ("\\frac{7}{12}", "\\boxed{7/12}", True),
    ("\\frac{7}{12}", "\\boxed{\\frac{14}{24}}", True),
    ("\\frac{7}{12}", "\\boxed{\\frac{7}{13}}", False),
    ("25\\pi", "The area is $\\boxed{25\\pi}$", True),
    ("25\\pi", "The area is $\\boxed{25}$", False),
    ("5\\sqrt{2}", "\\boxed{\\sqrt{50}}", True),
    ("-7, 7", "\\boxed{7, -7}", True),
    ("-7, 7", "\\boxed{7}", False),
    ("17", "First I thought \\boxed{16}. Correction: \\boxed{17}", True),
    ("17", "I don't know.", False),
    ("17", "", False),
])
def test_verdicts(task, answer, completion, correct):
    verdict = task.verify(ex(task, answer), completion)
    assert verdict.correct is correct, verdict.reason


def test_numeric_answer_column_is_accepted(task):
    assert task.verify(ex(task, 17), "\\boxed{17}").correct


def test_safe_in_a_worker_thread(task):
    cases = [("17", "\\boxed{17}", True), ("17", "\\boxed{18}", False),
             ("17", "\\boxed{10^{10^{10}}}", False), ("17", "\\boxed{99999!}", False)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        verdicts = list(pool.map(lambda case: task.verify(ex(task, case[0]), case[1]), cases))
    assert [v.correct for v in verdicts] == [case[2] for case in cases]
    assert "too large" in verdicts[2].reason


def test_hostile_inputs_never_raise(task):
    for completion in ["\\boxed{" * 5000, "}" * 10000 + "\\boxed{}", "$" * 9999, "\\frac{" * 3000, None]:
        verdict = task.verify(ex(task, "17"), completion)
        assert verdict.correct is False


def test_rows_need_problem_and_answer(task):
    with pytest.raises(DataError, match="answer"):
        task.normalize({"problem": "p"})
    with pytest.raises(DataError, match="problem"):
        task.normalize({"problem": " ", "answer": "1"})


def test_sample_answers_verify(task):
    examples = task.load("sample:math")
    assert len(examples) >= 20
    for example in examples:
        assert task.verify(example, f"Final answer: $\\boxed{{{example['answer']}}}$").correct
    assert "\\boxed{}" in task.prompt(examples[0])[0]["content"]
