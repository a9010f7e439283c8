"""Reruns of `r3 train` into an existing output_dir, in-process on the tiny model (r3.training.resume).

A final save torn by a kill is finished from the last checkpoint without a step; metrics.jsonl and samples.jsonl
torn inside a UTF-8 character are repaired; a changed model is refused; an output_dir that is (or holds, or sits in)
the model is refused before anything loads. The real SIGKILLs are in test_train_resume_kill.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from train_fakes import write_config, write_failures

from r3.cli import main
from r3.training.callbacks import console_line, is_training_record, per_step, read_jsonl
from r3.training.summary import build_summary, summary_lines


def train(config: Path, *extra: str) -> int:
    return main(["train", "--config", str(config), "--save_strategy", "steps", "--save_steps", "1", *extra])


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def setup(tiny_model_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A config training a copy of the tiny model (2 steps, a checkpoint each), its output_dir, the model copy."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    write_failures(tmp_path / "mine" / "failures.jsonl", count=4)
    return write_config(tmp_path / "config.yaml", model, tmp_path / "mine", tmp_path / "out"), tmp_path / "out", model


def test_a_final_save_torn_by_a_kill_is_finished_from_the_last_checkpoint_without_a_step(setup) -> None:
    config, out, _ = setup
    assert train(config) == 0
    final = snapshot(out)
    (out / "r3_train_done.json").unlink()  # what a kill during the final save leaves: no record, half a model
    model = out / "model.safetensors"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    assert train(config) == 0
    assert not (out / "checkpoint-3").exists()
    after = snapshot(out)
    del final["run.json"], after["run.json"]  # it records each session (r3.rundir)
    assert after == final  # the final model bit for bit, metrics.jsonl untouched


def test_a_rerun_of_a_finished_run_loads_nothing_and_changes_nothing(setup, monkeypatch, caplog) -> None:
    config, out, _ = setup
    assert train(config) == 0
    final = snapshot(out)
    from r3.training import trainer

    def no_trainer(*args, **kwargs):
        raise AssertionError("a finished run must not build a trainer")

    monkeypatch.setattr(trainer, "build_trainer", no_trainer)
    with caplog.at_level("INFO"):
        assert train(config) == 0
    assert "finished at step 2: nothing to do" in caplog.text
    assert snapshot(out) == final


def test_torn_utf8_metrics_and_samples_are_repaired_and_a_resumed_run_logs_each_step_once(setup) -> None:
    config, out, _ = setup
    assert train(config) == 0
    for name in ("metrics.jsonl", "samples.jsonl"):
        with open(out / name, "ab") as handle:  # a kill in the middle of appending "é" (two bytes in UTF-8)
            handle.write(b'{"step": 3, "reflection": "caf' + "é".encode()[:1])
    assert train(config, "--max_steps", "3", "--resume_from_checkpoint", "last") == 0
    records = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in records if is_training_record(r)] == [1, 2, 3]
    assert [r["step"] for r in records if not is_training_record(r)] == [3]  # one end-of-training record, the last
    for name in ("metrics.jsonl", "samples.jsonl"):
        lines = (out / name).read_bytes().splitlines()
        assert all(json.loads(line) for line in lines)  # every line whole: the torn one was cut off


def test_a_changed_model_is_refused_naming_the_model_files(setup, capsys) -> None:
    config, out, model_dir = setup
    assert train(config, "--max_steps", "1") == 0
    model = json.loads((out / "run.json").read_text())["model_files"]
    assert "model.safetensors" in model
    (model_dir / "generation_config.json").write_text('{"do_sample": true}\n')
    before = snapshot(out)
    capsys.readouterr()
    assert train(config, "--max_steps", "2") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "the model files changed" in error[0]
    assert "model_files.generation_config.json" in error[0]
    assert snapshot(out) == before


@pytest.mark.parametrize("where", ["same", "inside", "holds"])
def test_output_dir_over_the_model_is_refused_before_anything_loads(tiny_model_dir, tmp_path, capsys,
                                                                    where) -> None:
    model = tmp_path / "m" / "model"
    shutil.copytree(tiny_model_dir, model)
    out = {"same": model, "inside": model / "run", "holds": tmp_path / "m"}[where]
    data = write_failures(tmp_path / "mine" / "failures.jsonl", count=2)
    before = snapshot(tmp_path / "m")
    config = write_config(tmp_path / "c.yaml", model, data, out)
    assert main(["train", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "training would write over the model" in error[0], error
    assert snapshot(tmp_path / "m") == before and not (model / "run").exists()


def test_speeds_read_like_durations() -> None:
    assert [per_step(s) for s in (0.2413, 3.0, 37.4, 1400)] == ["0.24 s/step", "3 s/step", "37 s/step",
                                                                 "23m20s/step"]
    line = console_line({"learning_rate": 1e-5}, 1, 500, 1400.0)
    assert "23m20s/step" in line and "e+" not in line


def test_a_one_step_summary_does_not_repeat_a_line() -> None:
    summary = build_summary({1: (3, 8)}, [{"step": 1, "completions/mean_length": 8.0}], 1, 0, 12.0, True, [], "")
    lines = summary_lines(summary)
    assert len(lines) == len(set(lines))
    assert sum("retry success" in line for line in lines) == 1
    assert any("steps 1-1: 37.5%" in line for line in lines)


def test_a_run_resumed_in_its_second_epoch_ends_where_the_uninterrupted_run_ends(setup) -> None:
    config, out, _ = setup  # 4 rows, 2 prompts a step: an epoch is 2 steps
    assert train(config, "--max_steps", "3") == 0
    resumed = out.parent / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoint-3")  # killed during step 3: it resumes at checkpoint-2, an epoch's end
    (resumed / "r3_train_done.json").unlink()
    (resumed / "model.safetensors").unlink()
    assert train(config, "--max_steps", "3", "--output_dir", str(resumed)) == 0
    assert (resumed / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
