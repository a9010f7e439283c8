"""The arithmetic task: its own expression parser (never eval), the last-integer verifier, the generator."""

import json

import pytest

from r3.errors import DataError
from r3.tasks import get_task
from r3.tasks.arithmetic import evaluate, generate_problems, main


@pytest.mark.parametrize(("expression", "value"), [
    ("7 + 12 - 5", 14), ("3 + 4 * 2", 11), ("10 - 2 * 3 - 1", 3), ("2 * 3 * 4", 24), ("15 - 18", -3), ("9", 9),
])
def test_expressions_follow_the_usual_precedence(expression, value):
    assert evaluate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "2 ** 3", "2 +", "+ 2", "1 / 2", "(1 + 2)", "9" * 300])
def test_anything_but_integers_and_plus_minus_times_is_refused(expression):
    with pytest.raises(ValueError):
        evaluate(expression)


def test_normalize_computes_the_answer_and_refuses_a_wrong_one():
    task = get_task("arithmetic")
    assert task.normalize({"expression": "3 + 4 * 2"})["answer"] == 11
    with pytest.raises(DataError, match="answer 14 is not the value"):
        task.normalize({"expression": "3 + 4 * 2", "answer": 14})
    with pytest.raises(DataError, match="expression"):
        task.normalize({"expression": "2 ** 8"})


@pytest.mark.parametrize(("completion", "correct"), [
    ("11", True), ("3 + 4 * 2 = 11.", True), ("The answer is 11", True), ("11, not 14", False),
    ("3 + 4 * 2 = 14", False), ("eleven", False), ("", False), ("-11", False), ("1,1", False), ("11,0", False),
])
def test_the_last_integer_of_the_completion_is_the_answer(completion, correct):
    task = get_task("arithmetic")
    example = task.normalize({"expression": "3 + 4 * 2"})
    verdict = task.verify(example, completion)
    assert verdict.correct is correct and not verdict.error


def test_boxed_answer_format_reads_only_the_box():
    task = get_task("arithmetic", {"answer_format": "boxed"})
    example = task.normalize({"expression": "5 - 7"})
    assert task.verify(example, "5 - 7 = \\boxed{-2}").correct
    assert not task.verify(example, "5 - 7 = -2").correct


def test_prompt_and_instructions_restate_the_problem():
    task = get_task("arithmetic")
    example = task.normalize({"expression": "7 + 5"})
    assert "What is 7 + 5?" in task.prompt(example)[-1]["content"]
    reflect, retry = task.instructions(example)
    assert "7 + 5" in reflect and "7 + 5" in retry


def test_the_generator_is_deterministic_and_its_rows_load(tmp_path):
    rows = list(generate_problems(50, seed=3, operands=(2, 3), max_number=20))
    assert rows == list(generate_problems(50, seed=3, operands=(2, 3), max_number=20))
    assert rows != list(generate_problems(50, seed=4, operands=(2, 3), max_number=20))
    assert {len(r["expression"].split()) for r in rows} == {3, 5}
    out = tmp_path / "p.jsonl"
    assert main(["--n", "20", "--seed", "1", "--out", str(out)]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert get_task("arithmetic").load(str(out)) == written
    assert main(["--n", "5", "--ops", "/", "--out", str(out)]) == 2
