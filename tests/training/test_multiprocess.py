"""Two training processes on CPU (gloo) through `accelerate launch`: retries stay in step across processes."""

from __future__ import annotations

import json

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_fakes import write_config, write_failures, write_words
from transformers import AutoModelForCausalLM

REPO = Path(__file__).resolve().parents[2]
LAUNCH_CONFIG = REPO / "configs" / "accelerate" / "cpu_2proc.yaml"


def launch(config: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent), OMP_NUM_THREADS="1", TRL_EXPERIMENTAL_SILENCE="1")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(LAUNCH_CONFIG),
               "-m", "r3", "train", "--config", str(config)]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=timeout)


def _changed(before: Path, after: Path) -> bool:
    a, b = AutoModelForCausalLM.from_pretrained(before), AutoModelForCausalLM.from_pretrained(after)
    return any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_two_processes_train_two_steps(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_failures(tmp_path / "failures.jsonl", count=4)
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", per_device_train_batch_size=4)
    result = launch(config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("4 reflection prompts from 4 mined problems") == 2  # one per process
    metrics = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert any("r3/retry_success" in record for record in metrics)  # the reward logged from both processes
    assert _changed(tiny_model_dir, tmp_path / "out")


@pytest.mark.slow
def test_two_processes_online_when_one_has_nothing_to_reflect_on(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Each process holds one group: "apple" is solved at the first attempt, so that process retries a placeholder
    while the other retries its reflections; both must make the same generation calls and finish."""
    data = write_words(tmp_path / "words.jsonl", ["apple", "river"])
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", mode="online",
                          task="train_fakes:AppleTask", per_device_train_batch_size=4, shuffle_dataset=False)
    result = launch(config)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["r3/first_attempt_success"] for r in metrics if "r3/first_attempt_success" in r][0] == 0.5
