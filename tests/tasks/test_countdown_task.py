"""CountdownTask: row checks, the prompt and its overridability, verify through the task, the sample file."""

from __future__ import annotations

import json

import pytest

from r3.errors import DataError
from r3.tasks import get_task
from r3.tasks.countdown import CountdownTask
from r3.tasks.countdown_expr import judge_completion


@pytest.fixture(scope="module")
def task():
    return get_task("countdown")


def test_registry_and_metadata(task):
    assert isinstance(task, CountdownTask)
    assert task.fields == ("nums", "target")
    assert task.default_source == "Jiayi-Pan/Countdown-Tasks-3to4" and task.default_split == "train"
    assert task.reflection_instruction.startswith("You tried solving the problem and got the wrong answer.")


def test_normalize_keeps_other_columns_and_accepts_numpy_ints(task):
    np = pytest.importorskip("numpy")
    example = task.normalize({"nums": np.array([44, 19, 35]).tolist(), "target": np.int64(98), "source": "x"})
    assert example == {"nums": [44, 19, 35], "target": 98, "source": "x"}
    assert type(example["target"]) is int
    assert task.normalize({"nums": (np.int64(1), 2, 3), "target": 6})["nums"] == [1, 2, 3]


@pytest.mark.parametrize(
    "row, field, message",
    [
        ({"target": 5}, "nums", "missing required field"),
        ({"nums": None, "target": 5}, "nums", "missing required field"),
        ({"nums": "1,2,3", "target": 5}, "nums", "expected a list of integers"),
        ({"nums": [7], "target": 5}, "nums", "at least 2 numbers"),
        ({"nums": [1, 2.0, 3], "target": 5}, "nums", "expected integers, got 2.0"),
        ({"nums": [1, True, 3], "target": 5}, "nums", "expected integers, got True"),
        ({"nums": [1, "2", 3], "target": 5}, "nums", "expected integers, got '2'"),
        ({"nums": [1, -2, 3], "target": 5}, "nums", "must not be negative, got -2"),
        ({"nums": [1, 2, 3]}, "target", "missing required field"),
        ({"nums": [1, 2, 3], "target": 6.0}, "target", "expected an integer, got 6.0"),
        ({"nums": [1, 2, 3], "target": False}, "target", "expected an integer, got False"),
        ({"nums": [1, 2, 3], "target": "6"}, "target", "expected an integer, got '6'"),
    ],
)
def test_normalize_rejects_bad_rows(task, row, field, message):
    with pytest.raises(DataError, match="field '" + field) as caught:
        task.normalize(row)
    assert message in str(caught.value)


def test_bad_row_in_a_file_names_file_line_and_field(task, tmp_path):
    path = tmp_path / "puzzles.jsonl"
    path.write_text(json.dumps({"nums": [1, 2, 3], "target": 6}) + "\n" + json.dumps({"nums": [1, 2], "target": "x"}))
    with pytest.raises(DataError) as caught:
        task.load(str(path))
    assert str(caught.value) == f"{path}, line 2, field 'target': expected an integer, got 'x'"


def test_prompt_asks_for_the_equation_in_answer_tags(task):
    messages = task.prompt({"nums": [44, 19, 35], "target": 98})
    assert [m["role"] for m in messages] == ["user"]
    content = messages[0]["content"]
    assert "Using the numbers [44, 19, 35], create an equation that equals 98." in content
    assert "each number must be used exactly once" in content
    assert "<answer> </answer>" in content and "<answer> (1 + 2) / 3 </answer>" in content


def test_prompt_text_is_overridable_in_a_subclass():
    class Short(CountdownTask):
        system_prompt = "Be brief."
        prompt_template = "Make {target} from {nums}. Answer: <answer>equation</answer>"

    messages = Short().prompt({"nums": [1, 2, 3], "target": 6})
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Make 6 from [1, 2, 3]. Answer: <answer>equation</answer>"},
    ]


def test_verify_goes_through_the_strict_checker(task):
    example = task.normalize({"nums": [44, 19, 35], "target": 98})
    assert task.verify(example, "<think>add</think><answer>44 + 19 + 35</answer>").correct
    verdict = task.verify(example, "<answer>44**35**19</answer>")
    assert (verdict.correct, verdict.reason) == (False, "unsupported token '**'")
    assert task.verify(example, "98").reason == "no <answer> tag"


def test_verify_never_raises_even_on_a_broken_example(task, caplog):
    verdict = task.verify({"nums": None, "target": 98}, "<answer>1 + 2</answer>")
    assert verdict.correct is False and verdict.error and verdict.reason.startswith("verifier error: TypeError")
    assert "verifier error" in caplog.text  # the base class logs it with the example


def test_sample_puzzles_load_and_are_solvable(task):
    from r3.tasks.countdown_generator import solve

    examples = task.load("sample:countdown")
    assert len(examples) == 200
    for example in examples:
        assert 3 <= len(example["nums"]) <= 4 and 10 <= example["target"] <= 100
        assert all(1 <= n <= 99 for n in example["nums"])
        solution = solve(example["nums"], example["target"])
        assert judge_completion(f"<answer>{solution}</answer>", example["nums"], example["target"]).correct
