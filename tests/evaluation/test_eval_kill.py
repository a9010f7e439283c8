"""SIGKILL a real `r3 eval` after its first batch, then rerun: changed data rows and a replaced model directory are
refused (one line, naming them); the same command resumes to exactly the episodes of an uninterrupted run.

The kill is tied to progress: it lands as soon as episodes.jsonl holds a first complete batch. The reruns run
in-process (`r3.cli.main`) to save a Python + torch start each.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from r3.cli import main
from r3.data import sample_path

LIMIT, BATCH = 12, 4


def eval_args(model: Path, data: Path, out: Path) -> list[str]:
    return ["eval", "--model", str(model), "--task", "countdown", "--data", str(data), "--out", str(out),
            "--limit", str(LIMIT), "--attempt-max-new-tokens", "6", "--reflection-max-new-tokens", "4",
            "--batch-size", str(BATCH), "--no-progress", "--temperature", "1.0"]


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_after_first_batch(args: list[str], out: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "r3", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # a guard against a hung process only; the kill waits for the batch
    while lines(out / "episodes.jsonl") < BATCH and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()[-2000:]


def test_killed_eval_refuses_changed_data_or_model_and_resumes_to_the_same_episodes(tiny_model_dir, tmp_path,
                                                                                     capsys):
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    data = tmp_path / "data.jsonl"
    rows = sample_path("countdown").read_text(encoding="utf-8").splitlines(keepends=True)[:LIMIT]
    data.write_text("".join(rows), encoding="utf-8")
    reference, out = tmp_path / "reference", tmp_path / "run"
    assert main(eval_args(model, data, reference)) == 0

    kill_after_first_batch(eval_args(model, data, out), out)
    done = lines(out / "episodes.jsonl")
    assert BATCH <= done < LIMIT, f"the kill landed after {done} episodes"
    capsys.readouterr()

    first = json.loads(rows[0])
    first["target"] = first["target"] + 1  # episode 0 would belong to another puzzle
    data.write_text(json.dumps(first) + "\n" + "".join(rows[1:]), encoding="utf-8")
    assert main(eval_args(model, data, out)) == 2
    error = capsys.readouterr().err
    assert "data-rows" in error and "other settings" in error and len(error.strip().splitlines()) == 1
    data.write_text("".join(rows), encoding="utf-8")

    original = (model / "config.json").read_bytes()
    config = json.loads(original)
    (model / "config.json").write_text(json.dumps({**config, "rope_theta": 12345.0}))  # another model, same path
    assert main(eval_args(model, data, out)) == 2
    error = capsys.readouterr().err
    assert "model-files.config.json" in error and len(error.strip().splitlines()) == 1
    (model / "config.json").write_bytes(original)
    shutil.copystat(tiny_model_dir / "config.json", model / "config.json")  # the same file again, mtime included

    assert lines(out / "episodes.jsonl") == done  # the refused reruns touched nothing
    assert main(eval_args(model, data, out)) == 0
    assert (out / "episodes.jsonl").read_text() == (reference / "episodes.jsonl").read_text()
