"""`evaluate` with a stand-in task and generator: files, resume after Ctrl-C, refusal, overwrite, compare."""

from __future__ import annotations

import json
from typing import Any

import pytest

import r3.tasks
from r3.errors import DataError, R3Error
from r3.evaluation.compare import compare_runs
from r3.evaluation.config import EvalConfig
from r3.evaluation.run import evaluate, read_episodes
from r3.tasks.base import Task, require
from r3.types import Completion, Verdict


class EchoTask(Task):
    """Problem q is solved by the text in `answer`."""

    name = "echo"
    fields = ("q", "answer")
    reflection_instruction = "REFLECT ({reason})"

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "q": str(require(row, "q")), "answer": str(require(row, "answer"))}

    def prompt(self, example):
        return [{"role": "user", "content": example["q"]}]

    def verify(self, example, completion):
        return Verdict(completion == example["answer"], "ok" if completion == example["answer"] else "wrong")


class ParrotGenerator:
    """First attempt of qN is right when N % 3 == 0; every retry of qN is right when N % 3 == 1; reflections say why.
    Raises KeyboardInterrupt on call number `interrupt_at` (1-based), like a user's Ctrl-C."""

    def __init__(self, interrupt_at: int | None = None):
        self.calls = 0
        self.interrupt_at = interrupt_at

    def generate(self, prompts, params):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        out = []
        for messages in prompts:
            n = int(messages[0]["content"][1:])
            if messages[-1]["content"].startswith("REFLECT"):
                text = "I should say the answer"
            elif len(messages) == 1:
                text = f"a{n}" if n % 3 == 0 else "no idea"
            else:
                text = f"a{n}" if n % 3 == 1 else "still no idea"
            out.append([Completion(text, num_tokens=len(text))])
        return out


@pytest.fixture
def echo(monkeypatch, tmp_path):
    """Register the stand-in task and write 10 problems; returns the data file."""
    real_get_task = r3.tasks.get_task
    monkeypatch.setattr(r3.tasks, "get_task", lambda name, *a, **k: EchoTask() if name == "echo" else real_get_task(name, *a, **k))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"q": f"q{i}", "answer": f"a{i}", "id": f"p{i}"}) + "\n" for i in range(10)))
    return data


def _settings(data, **changes) -> EvalConfig:
    return EvalConfig(**{"model": "parrot", "task": "echo", "data": str(data), "batch_size": 4, "temperature": 0.0,
                         "attempt_max_new_tokens": 512, "progress": False, **changes})


def test_writes_episodes_and_a_consistent_summary(echo, tmp_path):
    out = tmp_path / "run"
    result = evaluate(_settings(echo, out=out), generator=ParrotGenerator())
    episodes = read_episodes(out / "episodes.jsonl")
    assert [e.problem_id for e in episodes] == [f"p{i}" for i in range(10)]
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary == result.record["summary"]
    assert summary["n_problems"] == 10
    assert summary["first_attempt"]["correct"] == 4  # q0 q3 q6 q9
    assert summary["within_two"]["correct"] == 7  # + q1 q4 q7 after reflecting
    assert summary["reflection_successes"] == 3
    assert summary["mean_reflection_tokens"] == len("I should say the answer")
    assert result.record["instructions"]["reflection"] == "REFLECT ({reason})"
    assert result.record["sampling"]["reflection"]["max_new_tokens"] == 256


def test_ctrl_c_keeps_finished_batches_and_a_rerun_resumes(echo, tmp_path):
    out = tmp_path / "run"
    # batch 1 (q0-q3) takes calls 1-3, batch 2 is interrupted at its first retry (call 6)
    with pytest.raises(KeyboardInterrupt):
        evaluate(_settings(echo, out=out), generator=ParrotGenerator(interrupt_at=6))
    assert [e.index for e in read_episodes(out / "episodes.jsonl")] == [0, 1, 2, 3]
    assert not (out / "summary.json").exists()
    resumed_generator = ParrotGenerator()
    result = evaluate(_settings(echo, out=out), generator=resumed_generator)
    assert result.resumed_from == 4
    assert resumed_generator.calls == 3 + 3  # batches 2 and 3 only
    fresh = evaluate(_settings(echo, out=tmp_path / "fresh"), generator=ParrotGenerator())
    assert result.record["summary"] == fresh.record["summary"]
    assert (out / "episodes.jsonl").read_text() == (tmp_path / "fresh" / "episodes.jsonl").read_text()


def test_a_line_cut_off_mid_write_is_dropped_on_resume(echo, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        evaluate(_settings(echo, out=out), generator=ParrotGenerator(interrupt_at=4))
    with open(out / "episodes.jsonl", "a") as handle:
        handle.write('{"index": 4, "problem_id": "p4", "exa')
    result = evaluate(_settings(echo, out=out), generator=ParrotGenerator())
    assert [e.index for e in read_episodes(out / "episodes.jsonl")] == list(range(10))
    assert result.record["summary"]["n_problems"] == 10


def test_finished_run_resumes_with_nothing_to_do_and_other_settings_need_overwrite(echo, tmp_path):
    out = tmp_path / "run"
    evaluate(_settings(echo, out=out), generator=ParrotGenerator())
    again = ParrotGenerator()
    assert evaluate(_settings(echo, out=out), generator=again).resumed_from == 10 and again.calls == 0
    with pytest.raises(R3Error, match=r"other settings \(.*--limit 5 \(was None\).*--overwrite"):
        evaluate(_settings(echo, limit=5, out=out), generator=ParrotGenerator())
    result = evaluate(_settings(echo, limit=5, out=out, overwrite=True), generator=ParrotGenerator())
    assert result.record["summary"]["n_problems"] == 5
    assert len(read_episodes(out / "episodes.jsonl")) == 5


def test_unfinished_run_with_other_settings_is_refused(echo, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        evaluate(_settings(echo, out=out), generator=ParrotGenerator(interrupt_at=4))
    with pytest.raises(R3Error, match="other settings.*temperature"):
        evaluate(_settings(echo, temperature=0.7, out=out), generator=ParrotGenerator())


def test_row_missing_a_field_names_the_row_and_field(echo, tmp_path):
    with open(echo, "a") as handle:
        handle.write(json.dumps({"q": "q10"}) + "\n")
    with pytest.raises(DataError, match=r"data.jsonl, line 11.*field 'answer'"):
        evaluate(_settings(echo, out=tmp_path / "run"), generator=ParrotGenerator())
    assert not (tmp_path / "run").exists()  # nothing written for a run that could not start


def test_compare_reports_differences_and_overlap(echo, tmp_path):
    evaluate(_settings(echo, out=tmp_path / "a"), generator=ParrotGenerator())
    evaluate(_settings(echo, limit=6, out=tmp_path / "b"), generator=ParrotGenerator())
    comparison = compare_runs(tmp_path / "a", tmp_path / "b")
    rows = {row.metric: row for row in comparison.rows}
    assert rows["problems"].difference == "-4"
    # A: 4/10 first, 7/10 within two; B (q0-q5): 2/6 first, 4/6 within two
    assert rows["first attempt"].difference == f"{100 * (2 / 6 - 4 / 10):+.1f}"
    assert rows["within two attempts"].excludes_zero is False
    assert comparison.differing_settings == ["limit"]
    with pytest.raises(R3Error, match="no finished evaluation"):
        compare_runs(tmp_path / "a", tmp_path / "missing")
