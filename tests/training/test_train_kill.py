"""SIGKILL a real `python -m r3 train` while it writes a checkpoint, rerun the same command, compare final weights.

The kill is tied to progress: it lands the moment `checkpoint-4/` appears, i.e. while transformers is writing it
(weights first, trainer_state.json last), so the folder is usually torn. The rerun (same command, no
resume_from_checkpoint) must pick the newest COMPLETE checkpoint by itself, skip the torn one, and end with exactly
the weights of an uninterrupted run: transformers restores the RNG state, the optimizer and the scheduler from the
checkpoint, and TRL's sampler is seeded, so nothing differs. A torn folder is also planted by hand when the kill
happened to land after the save finished, so the skip is exercised on every run. Each start of Python + torch costs
seconds to tens of seconds on the shared 2-core machine: the test runs three processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fakes import TASK_SPEC, write_failures

from r3.training.checkpoints import inspect_checkpoint, list_checkpoints

STEPS, SAVE_EVERY, KILL_AT = 6, 2, 4
HERE = Path(__file__).resolve().parent


def write_config(path: Path, model: Path, data: Path) -> Path:
    """2 prompts x 4 reflections per step on CPU, a checkpoint every SAVE_EVERY steps."""
    config = {
        "task": TASK_SPEC, "model": str(model), "data": str(data), "num_generations": 4,
        "per_device_train_batch_size": 8, "reflection_max_new_tokens": 8, "attempt_max_new_tokens": 8,
        "learning_rate": 1e-2, "save_strategy": "steps", "save_steps": SAVE_EVERY, "report_to": "none", "seed": 0,
        "use_cpu": True, "bf16": False, "logging_steps": 1, "dataloader_num_workers": 0, "disable_tqdm": True,
    }
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items()), encoding="utf-8")
    return path


def train_command(config: Path, output_dir: Path) -> list[str]:
    return [sys.executable, "-m", "r3", "train", "--config", str(config), "--output_dir", str(output_dir),
            "--max_steps", str(STEPS)]


def environment() -> dict[str, str]:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])  # train_fakes:ParityTask
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_to_the_end(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def kill_when_checkpoint_appears(command: list[str], output_dir: Path) -> None:
    """Start training and SIGKILL it as soon as checkpoint-KILL_AT exists (progress, not a delay)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment())
    target = output_dir / f"checkpoint-{KILL_AT}"
    deadline = time.monotonic() + 900  # only a guard against a hung process; the kill waits for the folder
    while not target.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, stderr.decode()[-3000:]
    assert target.exists(), "training ended before the checkpoint to kill at was written"


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


@pytest.mark.slow
def test_killed_while_checkpointing_the_rerun_resumes_to_the_same_weights(tiny_model_dir, tmp_path):
    write_failures(tmp_path / "mine" / "failures.jsonl")
    config = write_config(tmp_path / "config.yaml", tiny_model_dir, tmp_path / "mine")
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run_to_the_end(train_command(config, reference))
    assert all(status.complete for status in list_checkpoints(reference))  # what transformers 5 writes is complete

    kill_when_checkpoint_appears(train_command(config, killed), killed)
    if inspect_checkpoint(killed / f"checkpoint-{KILL_AT}").complete:  # the kill came after the save: plant a torn
        torn = killed / f"checkpoint-{KILL_AT + 1}"  # folder as a kill during the next save would leave it
        torn.mkdir()
        (torn / "config.json").write_text("{}")
    first = killed / f"checkpoint-{SAVE_EVERY}" / "trainer_state.json"
    written = first.stat().st_mtime_ns
    run_to_the_end(train_command(config, killed))
    assert first.stat().st_mtime_ns == written  # resumed: a restart at step 0 would have rewritten checkpoint-2

    final_reference, final_resumed = weights(reference), weights(killed)
    assert final_reference.keys() == final_resumed.keys()
    different = [name for name in final_reference if not torch.equal(final_reference[name], final_resumed[name])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    assert any(not torch.equal(base[name], final_reference[name]) for name in base)  # training changed the model
    assert inspect_checkpoint(killed / f"checkpoint-{STEPS}").complete


def test_a_second_training_into_the_same_output_dir_is_refused_before_the_model_loads(tiny_model_dir, tmp_path,
                                                                                        capsys):
    from r3.cli import main
    from r3.rundir import RunDir

    write_failures(tmp_path / "mine" / "failures.jsonl")
    config = write_config(tmp_path / "config.yaml", tiny_model_dir, tmp_path / "mine")
    with RunDir.open(tmp_path / "out", "train", {}):  # what a running `r3 train` holds for its whole run
        code = main(["train", "--config", str(config), "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])
    assert code == 2
    error = capsys.readouterr().err
    assert "in use by another process" in error and len(error.strip().splitlines()) == 1
    assert not list((tmp_path / "out").glob("checkpoint-*")) and not (tmp_path / "out" / "model.safetensors").exists()
