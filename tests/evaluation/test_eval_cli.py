"""End to end: `r3 eval` on the tiny model on CPU, its files and numbers, refusals, --overwrite, --compare, errors."""

from __future__ import annotations

import json

import pytest

from r3.cli import main
from r3.evaluation.run import read_episodes
from r3.evaluation.stats import summarize
from r3.tasks import get_task


def _eval(model_dir, out, *extra: str) -> int:
    return main([
        "eval", "--model", str(model_dir), "--task", "countdown", "--data", "sample:countdown", "--out", str(out),
        "--attempt-max-new-tokens", "12", "--reflection-max-new-tokens", "8", "--batch-size", "4", "--no-progress",
        "--temperature", "1.0", *extra,
    ])


@pytest.fixture(scope="module")
def finished_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    assert _eval(tiny_model_dir, out, "--limit", "8") == 0
    return out


def test_eval_writes_episodes_and_a_summary_that_agrees_with_them(finished_run, capsys):
    episodes = read_episodes(finished_run / "episodes.jsonl")
    record = json.loads((finished_run / "summary.json").read_text())
    assert [e.index for e in episodes] == list(range(8))
    assert record["summary"] == summarize(episodes, max_attempts=2)
    assert record["summary"]["n_problems"] == 8
    assert record["task"] == "countdown"
    assert record["sampling"]["attempt"]["max_new_tokens"] == 12
    assert record["sampling"]["reflection"]["max_new_tokens"] == 8
    task = get_task("countdown")
    for episode in episodes:
        assert 1 <= len(episode.attempts) <= 2
        assert len(episode.reflections) == len(episode.attempts) - 1
        assert (len(episode.attempts) == 1) == episode.attempts[0].verdict.correct
        for attempt in episode.attempts:
            assert attempt.verdict == task.verify(episode.example, attempt.text)  # stored verdicts are real
            assert 1 <= attempt.num_tokens <= 12
        assert all(1 <= r.num_tokens <= 8 for r in episode.reflections)
        assert episode.prompt == tuple(task.prompt(episode.example))


def test_a_run_cut_after_one_batch_resumes_to_the_same_episodes(finished_run, tiny_model_dir, tmp_path):
    """Per-batch seeds make a resumed run sample what the uninterrupted one sampled, with the real generator."""
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_text((finished_run / "run.json").read_text())
    lines = (finished_run / "episodes.jsonl").read_text().splitlines(keepends=True)
    (cut / "episodes.jsonl").write_text("".join(lines[:4]) + lines[4][:50])  # one batch and a torn line
    assert _eval(tiny_model_dir, cut, "--limit", "8") == 0
    assert (cut / "episodes.jsonl").read_text() == "".join(lines)


def test_eval_prints_the_table(tiny_model_dir, tmp_path, capsys):
    assert _eval(tiny_model_dir, tmp_path / "run", "--limit", "2", "--attempts", "3") == 0
    printed = capsys.readouterr().out
    for label in ("first attempt", "within two attempts", "within 3 attempts", "failures fixed after reflecting",
                  "reflection length (tokens)", "truncated reflections"):
        assert label in printed
    record = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(record["summary"]["within_attempts"]) == {"1", "2", "3"}


def test_finished_dir_is_refused_then_overwritten_and_compared(finished_run, tiny_model_dir, tmp_path, capsys):
    other = tmp_path / "other"
    assert _eval(tiny_model_dir, other, "--limit", "4") == 0
    capsys.readouterr()
    assert _eval(tiny_model_dir, other, "--limit", "4") == 0  # finished, same identity: resumes, nothing left
    capsys.readouterr()
    assert _eval(tiny_model_dir, other, "--limit", "3") == 2  # another identity: refused (docs/runs.md)
    err = capsys.readouterr().err
    assert "other settings" in err and "--limit 3 (was 4)" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert _eval(tiny_model_dir, other, "--limit", "3", "--overwrite") == 0
    assert len(read_episodes(other / "episodes.jsonl")) == 3
    capsys.readouterr()
    assert main(["eval", "--compare", str(finished_run), str(other)]) == 0
    printed = capsys.readouterr().out
    assert "B - A" in printed and "95% interval" in printed
    assert "-5" in printed  # 8 problems vs 3
    assert "differ in limit" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "/no/such/model", "--task", "countdown"], "model directory '/no/such/model' does not exist"),
        (["--model", "no-such-org/no-such-model", "--task", "countdown", "--data", "sample:countdown"],
         "cannot load the tokenizer of model 'no-such-org/no-such-model'"),
        (["--model", "MODEL", "--task", "countdwn"], "unknown task 'countdwn'. Available: arithmetic, countdown"),
        (["--model", "MODEL", "--task", "countdown", "--data", "BAD"], "line 2, field 'target'"),
    ],
)
def test_bad_input_is_one_line(argv, message, tiny_model_dir, tmp_path, capsys, hub_offline):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"nums": [1, 2, 3], "target": 6}) + "\n" + json.dumps({"nums": [4, 5, 6]}) + "\n")
    argv = [str(tiny_model_dir) if a == "MODEL" else str(bad) if a == "BAD" else a for a in argv]
    assert main(["eval", *argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
