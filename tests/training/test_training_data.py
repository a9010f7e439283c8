"""Training rows from `r3 mine` output and plain task data; bad data stops before training, naming row and field."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from train_fakes import ParityTask, write_failures, write_words
from transformers import AutoTokenizer

from r3.errors import DataError, R3Error
from r3.training.config import TrainConfig
from r3.training.data import build_rows, check_lengths


def _config(data: Path, **extra) -> TrainConfig:
    return TrainConfig(task="train_fakes:ParityTask", model="m", data=str(data), **extra)


def test_offline_rows_are_reflection_prompts(tmp_path: Path) -> None:
    write_failures(tmp_path / "mine" / "failures.jsonl", count=3)
    rows = build_rows(ParityTask(), _config(tmp_path / "mine"))  # the directory: its failures.jsonl
    assert len(rows) == 3
    row = rows[0]
    roles = [m["role"] for m in row["prompt"]]
    assert roles == ["user", "assistant", "user"]
    assert row["prompt"][1]["content"] == row["r3_attempt"] == "apples!"
    assert row["prompt"][2]["content"] == ParityTask.reflection_instruction
    assert json.loads(row["r3_example"])["word"] == "apple" and row["problem_id"] == "0"
    assert row["r3_task_prompt"] == [{"role": "user", "content": "Say the word apple."}]


def test_failures_per_problem(tmp_path: Path) -> None:
    path = write_failures(tmp_path / "f.jsonl", count=2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["failed_attempts"].append({"text": "pear", "reason": "odd", "num_tokens": 1})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert len(build_rows(ParityTask(), _config(path))) == 2
    assert [r["r3_attempt"] for r in build_rows(ParityTask(), _config(path, failures_per_problem=2))][:2] == [
        "apples!", "pear"]


def _broken(tmp_path: Path, edit) -> Path:
    path = write_failures(tmp_path / "f.jsonl", count=3)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    edit(lines[1])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.pop("word"), r"f.jsonl, line 2, field 'word': missing required field"),
    (lambda r: r.update(task="countdown"), r"line 2, field 'task': .*mined for task 'countdown'.*'parity'"),
    (lambda r: r.pop("task"), r"line 2, field 'task': missing"),
    (lambda r: r.update(failed_attempts=[]), r"line 2, field 'failed_attempts'"),
    (lambda r: r.update(failed_attempts=[{"text": "x"}]), r"line 2, field 'failed_attempts': attempt 0"),
    (lambda r: r.update(prompt_messages="hi"), r"line 2, field 'prompt_messages'"),
])
def test_bad_failure_rows(tmp_path: Path, edit, message: str) -> None:
    with pytest.raises(DataError, match=message):
        build_rows(ParityTask(), _config(_broken(tmp_path, edit)))


def test_offline_needs_data_and_online_reads_task_data(tmp_path: Path) -> None:
    with pytest.raises(R3Error, match="offline mode needs 'data'"):
        build_rows(ParityTask(), TrainConfig(task="t", model="m"))
    rows = build_rows(ParityTask(), _config(write_words(tmp_path / "w.jsonl", ["apple", "pear"]), mode="online"))
    assert [r["prompt"] for r in rows][1] == [{"role": "user", "content": "Say the word pear."}]
    assert rows[1]["r3_attempt"] == ""
    (tmp_path / "bad.jsonl").write_text('{"other": 1}\n')
    with pytest.raises(DataError, match="bad.jsonl, line 1, field 'word'"):
        build_rows(ParityTask(), _config(tmp_path / "bad.jsonl", mode="online"))


def test_prompts_too_long_for_the_budget(tmp_path: Path, tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    long_prompt = [{"role": "user", "content": "Say the word pear." + " very long" * 200}]
    rows = build_rows(ParityTask(), _config(_broken(tmp_path, lambda r: r.update(prompt_messages=long_prompt))))
    training = SimpleNamespace(max_completion_length=16, chat_template_kwargs=None)
    config = _config(tmp_path, attempt_max_new_tokens=16)
    assert len(check_lengths(rows, tokenizer, ParityTask(), config, training, 4096, "limit")) == 3
    with pytest.raises(R3Error, match=r"row 1 \(problem 1\): reflect and retry need \d+ tokens .* over "
                                      r"vllm_max_model_length \(200\)"):
        check_lengths(rows, tokenizer, ParityTask(), config, training, 200, "vllm_max_model_length")
    with pytest.raises(R3Error, match=r"row 1 .*over max_prompt_length \(100\)"):
        check_lengths(rows, tokenizer, ParityTask(), _config(tmp_path, max_prompt_length=100), training, None, "x")
    dropping = _config(tmp_path, drop_long_prompts=True, attempt_max_new_tokens=16)
    kept = check_lengths(rows, tokenizer, ParityTask(), dropping, training, 200, "limit")
    assert [r["problem_id"] for r in kept] == ["0", "2"]


def test_mined_token_ids_are_what_training_shows(tmp_path: Path, tiny_model_dir: Path) -> None:
    """`r3 mine` keeps each failed attempt's generated ids; the reflection prompt holds them, not re-encoded text."""
    from r3.generation.templates import ChatTemplate
    from r3.training.data import attempt_ids, row_prompt_ids, to_dataset

    template = ChatTemplate(AutoTokenizer.from_pretrained(tiny_model_dir))
    text = "rivers!"  # row 1's failed attempt
    generated = template.encode_text("r") + template.encode_text("ivers!")  # other ids, same text
    assert generated != template.encode_text(text) and template.decode(generated) == text
    path = _broken(tmp_path, lambda r: r["failed_attempts"][0].update(token_ids=generated))
    rows = build_rows(ParityTask(), _config(path))
    assert rows[1]["r3_attempt_ids"] == generated and rows[0]["r3_attempt_ids"] is None
    assert attempt_ids(template, rows[1]) == generated
    assert attempt_ids(template, rows[0]) == template.encode_text("apples!")  # no ids kept: the text, encoded
    foreign = dict(rows[1], r3_attempt_ids=[5, 6, 7])  # ids of another tokenizer: they do not decode to the text
    assert attempt_ids(template, foreign) == template.encode_text(text)
    ids = row_prompt_ids(template, rows[1], "Reflect.", "Retry.", strip_reasoning=False)
    start = len(template.encode(rows[1]["r3_task_prompt"]))
    assert ids[start: start + len(generated)] == generated
    assert "r3_attempt_ids" not in to_dataset(rows).column_names


def test_bad_mined_token_ids(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda r: r["failed_attempts"][0].update(token_ids=["a"]))
    with pytest.raises(DataError, match=r"line 2, field 'failed_attempts': attempt 0: 'token_ids' must be"):
        build_rows(ParityTask(), _config(path))


def test_an_unfinished_mining_run_is_refused_unless_allowed(tmp_path):
    import json

    from r3.errors import R3Error

    write_failures(tmp_path / "mine" / "failures.jsonl", count=3)
    (tmp_path / "mine" / "run.json").write_text("{}")
    (tmp_path / "mine" / "stats.json").write_text(json.dumps({"complete": False}))
    with pytest.raises(R3Error, match="has not finished.*allow_incomplete_data"):
        build_rows(ParityTask(), _config(tmp_path / "mine"))
    rows = build_rows(ParityTask(), _config(tmp_path / "mine", allow_incomplete_data=True))
    assert len(rows) == 3
    (tmp_path / "mine" / "stats.json").write_text(json.dumps({"complete": True}))
    assert len(build_rows(ParityTask(), _config(tmp_path / "mine"))) == 3


def test_instruction_templates_are_filled_per_example(tmp_path):
    """`{word}` in a reflection instruction is the example's word in training prompts too, as in eval and mining."""
    from r3.tasks import get_task
    from r3.types import PromptTemplates

    write_failures(tmp_path / "mine" / "failures.jsonl", count=2)
    task = get_task("train_fakes:ParityTask", prompts=PromptTemplates(
        reflection_instruction="The word was {word} and it failed ({reason}). Reflect.",
        retry_instruction="Again, for {word}."))
    rows = build_rows(task, _config(tmp_path / "mine"))
    words = [json.loads(row["r3_example"])["word"] for row in rows]
    assert [row["r3_reflection_instruction"] for row in rows] == [
        f"The word was {word} and it failed ({{reason}}). Reflect." for word in words]
    assert [row["r3_retry_instruction"] for row in rows] == [f"Again, for {word}." for word in words]
    assert all(f"The word was {word} and it failed" in row["prompt"][-1]["content"] for row, word in zip(rows, words))
