"""SIGKILL a real `python -m r3 train`, change its inputs, rerun: the train run directory's identity rule.

The kill is tied to progress: it lands once checkpoint-2 is complete (its trainer_state.json, written last, exists).
Then the data changes and the same command is refused in one line naming the data, with nothing written; with the
data changed back the same command resumes and ends with the weights of an uninterrupted run, bit for bit, and a
metrics.jsonl holding each step once. A rerun of the finished run changes no file and says it is finished. A second
run is killed once its LAST checkpoint is complete (before, during or after the final save): the rerun trains no step
past max_steps and ends with the same final model (slow; tests/training/test_train_resume.py tears the final save
in-process on every run).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_train_kill import environment, train_command, write_config
from train_fakes import write_failures

from r3.training.callbacks import is_training_record, read_jsonl
from r3.training.checkpoints import inspect_checkpoint

STEPS = 6  # test_train_kill's: a checkpoint every 2 steps


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment(), check=False)


def kill_when_complete(command: list[str], checkpoint: Path) -> None:
    """Start training and SIGKILL it once `checkpoint` is complete (progress, not a delay)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment())
    deadline = time.monotonic() + 900  # only a guard against a hung process

    def complete() -> bool:
        return checkpoint.is_dir() and inspect_checkpoint(checkpoint).complete

    while not complete() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert complete(), f"{checkpoint.name} was never completed: {stderr.decode()[-2000:]}"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def steps(directory: Path) -> list[int]:
    return [r["step"] for r in read_jsonl(directory / "metrics.jsonl") if is_training_record(r)]


def test_killed_train_refuses_changed_data_resumes_when_restored_and_a_finished_rerun_changes_nothing(
        tiny_model_dir, tmp_path):
    data = write_failures(tmp_path / "mine" / "failures.jsonl")
    original = data.read_bytes()
    config = write_config(tmp_path / "config.yaml", tiny_model_dir, tmp_path / "mine")
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    done = run(train_command(config, reference))
    assert done.returncode == 0, done.stderr[-3000:]

    kill_when_complete(train_command(config, killed), killed / "checkpoint-2")
    before = snapshot(killed)
    data.write_bytes(original.replace(b'"word": "river"', b'"word": "rover"'))
    refused = run(train_command(config, killed))
    assert refused.returncode == 2, refused.stderr[-3000:]
    error = [line for line in refused.stderr.splitlines() if line.startswith("r3 train: ")]
    assert len(error) == 1 and "the training data changed" in error[0] and "data_rows.sha256" in error[0], error
    assert snapshot(killed) == before  # refused before anything was written

    data.write_bytes(original)
    resumed = run(train_command(config, killed))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (killed / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()
    assert steps(killed) == list(range(1, STEPS + 1))  # each step once, the resumed ones included

    finished = snapshot(killed)
    again = run(train_command(config, killed))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"finished at step {STEPS}: nothing to do" in again.stderr
    assert snapshot(killed) == finished  # not one byte changed, run.json included


@pytest.mark.slow
def test_killed_after_the_last_checkpoint_the_rerun_trains_no_step_past_max_steps(tiny_model_dir, tmp_path):
    write_failures(tmp_path / "mine" / "failures.jsonl")
    config = write_config(tmp_path / "config.yaml", tiny_model_dir, tmp_path / "mine")
    reference, late = tmp_path / "reference", tmp_path / "late"
    assert run(train_command(config, reference)).returncode == 0
    kill_when_complete(train_command(config, late), late / f"checkpoint-{STEPS}")
    if (late / "r3_train_done.json").exists():  # the kill came after the final save: tear it as a kill in it would
        (late / "r3_train_done.json").unlink()
        model = late / "model.safetensors"
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    rerun = run(train_command(config, late))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not (late / f"checkpoint-{STEPS + 1}").exists()
    assert (late / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()
    assert max(steps(late)) == STEPS
