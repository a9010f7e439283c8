"""The gsm8k task on literal strings and on real rows: gold after ####, last box or final line, exact rationals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from r3.errors import DataError
from r3.tasks import get_task
from r3.tasks.answers import parse_number

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real"
needs_real = pytest.mark.skipif(not (REAL / "gsm8k_gpt3_solutions_first25.jsonl").exists(),
                                reason="../shared/real (real public data) is not beside the checkout")


@pytest.fixture(scope="module")
def task():
    return get_task("gsm8k")


@pytest.fixture(scope="module")
def final():
    return get_task("gsm8k", {"answer_format": "boxed_or_final"})


def ex(task, gold):
    return task.normalize({"question": "q", "answer": f"Some steps <<1+1=2>>.\n#### {gold}"})


@pytest.mark.parametrize("gold, completion, correct", [
    ("1,000", "\\boxed{1000}", True), ("1000", "\\boxed{1,000}", True), ("1000", "\\boxed{1000.0}", True),
    ("1000", "\\boxed{1000.00}", True), ("0.5", "\\boxed{\\frac{1}{2}}", True), ("0.5", "\\boxed{1/2}", True),
    ("18", "\\boxed{\\$18}", True), ("18", "\\boxed{18 \\text{ dollars}}", True), ("18", "$\\boxed{18}$.", True),
    ("-3", "\\boxed{-3}", True), ("20", "\\boxed{20\\%}", True), ("18", "\\boxed{18.000000000000001}", False),
    ("18", "\\boxed{17}", False), ("18", "\\boxed{18 or 19}", False), ("18", "\\boxed{9*2}", False),
    ("18", "\\boxed{18, 19}", False), ("18", "\\boxed{1,8}", False), ("18", "18", False),
    ("18", "\\boxed{18} wait, no: \\boxed{19}", False), ("18", "\\boxed{19} wait, no: \\boxed{18}", True),
])
def test_verdicts(task, gold, completion, correct):
    verdict = task.verify(ex(task, gold), completion)
    assert verdict.correct is correct, verdict.reason


def test_final_line_only_with_the_option(task, final):
    assert task.verify(ex(task, 18), "so 18.\n#### 18").reason == "no \\boxed{} answer"
    for completion in ["Work.\nThe answer is 18.", "Work.\n#### 18", "Work.\nThe final answer is $18", "\\boxed{18}",
                       "Work.\n**Final answer:** 18", "I boxed \\boxed{17} first.\nThe answer is 18.",
                       "The answer is $\\boxed{18}$."]:
        assert final.verify(ex(task, 18), completion).correct, completion
    for completion in ["The answer is 18.\nActually I am not sure.", "The answer is 17.", "#### 18 or 19",
                       "The answer is 18 or maybe 19", "no answer"]:
        assert not final.verify(ex(task, 18), completion).correct, completion


def test_gold_is_the_number_after_the_last_hashes(task):
    assert task.normalize({"question": "q", "answer": "a #### 3\nb\n#### 1,234"})["gold"] == "1234"
    assert task.normalize({"question": "q", "answer": 42})["gold"] == "42"
    assert task.normalize({"question": "q", "answer": "#### 0.25"})["gold"] == "1/4"
    for bad, message in [("no hashes here", "no number \\(no '#### N' line\\)"), ("#### many", "after '####'"),
                         (None, "missing required field"), (["18"], "expected a solution ending in")]:
        with pytest.raises(DataError, match=message) as error:
            task.normalize({"question": "q", "answer": bad})
        assert error.value.field == "answer"
    with pytest.raises(DataError, match="field 'question'"):
        task.normalize({"answer": "#### 1"})


def test_prompt_asks_for_a_boxed_number_and_sample_data_loads(task):
    examples = task.load("sample:gsm8k")
    assert len(examples) == 25 and examples[0]["gold"] == "18"
    content = task.prompt(examples[0])[0]["content"]
    assert "\\boxed{}" in content and examples[0]["question"] in content
    for example in examples:
        assert task.verify(example, f"\\boxed{{{example['gold']}}}").correct


def test_parse_number_is_exact_and_strict():
    assert parse_number("1,000.5") == parse_number("2001/2") == parse_number("\\dfrac{2001}{2}")
    assert parse_number("1/0") is None and parse_number("") is None and parse_number("1e5") == 100_000
    assert parse_number("9" * 50) == int("9" * 50) and parse_number("9" * 200) is None


@needs_real
def test_gpt3_solutions_agree_with_openai_labels(final):
    disagreements = []
    for row in (json.loads(line) for line in (REAL / "gsm8k_gpt3_solutions_first25.jsonl").read_text().splitlines()):
        example = final.normalize({"question": row["question"], "answer": row["ground_truth"].replace("A:", "####")})
        for key in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            solution = re.sub(r"\nA:\s*([^\n]*)\s*$", r"\n#### \1", row[key]["solution"])
            if final.verify(example, solution).correct != row[key]["is_correct"]:
                disagreements.append((row["question"][:30], key))
    assert disagreements == []
