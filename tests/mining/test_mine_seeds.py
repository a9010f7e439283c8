"""Per-sample seeds on the HF backend: `r3 mine` (sampled, T=1) keeps the same failures, byte for byte, whatever the
batch size, and a run SIGKILLed part-way and resumed with another batch size keeps what an uninterrupted run keeps.
No "does not take per-sample seeds" warning any more.

The kill is tied to progress: it lands as soon as the ledger (progress.jsonl) holds a first line."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

from r3.mining.config import MineConfig
from r3.mining.run import mine_run

QUERIES = 10


def fields(model: Path, out: Path, batch_size: int) -> dict:
    # keep 2 of up to 4 samples: every query runs two rounds, so a batch mixes queries at different rounds
    return {"model": str(model), "task": "countdown", "data": "sample:countdown", "limit": QUERIES, "out": str(out),
            "max_samples": 4, "keep": 2, "attempt_max_new_tokens": 5, "temperature": 1.0, "seed": 11,
            "batch_size": batch_size, "progress": False}


def mined(out: Path) -> list[str]:
    """The kept rows in query order (commit order follows batching; the rows themselves must not)."""
    rows = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    return [json.dumps(row, sort_keys=True) for row in sorted(rows, key=lambda row: row["mining"]["index"])]


def ledger_lines(out: Path) -> int:
    path = out / "progress.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_batch_size_does_not_change_mined_failures(tiny_model_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        mine_run(MineConfig(**fields(tiny_model_dir, tmp_path / "b4", 4)))
    assert "per-sample seeds" not in caplog.text
    mine_run(MineConfig(**fields(tiny_model_dir, tmp_path / "b8", 8)))
    assert mined(tmp_path / "b4") == mined(tmp_path / "b8")
    attempts = [a["text"] for row in mined(tmp_path / "b4") for a in json.loads(row)["failed_attempts"]]
    assert len(attempts) == 2 * QUERIES and len(set(attempts)) > QUERIES  # sampled, not one greedy text per query


def test_killed_and_resumed_with_another_batch_size_mines_the_same(tiny_model_dir, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    mine_run(MineConfig(**fields(tiny_model_dir, reference, 4)))
    script = ("import json, sys; from r3.mining.config import MineConfig; from r3.mining.run import mine_run; "
              "mine_run(MineConfig(**json.loads(sys.argv[1])))")
    process = subprocess.Popen([sys.executable, "-c", script, json.dumps(fields(tiny_model_dir, out, 3))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # a guard against a hung process only; the kill waits for progress
    while ledger_lines(out) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()[-2000:]
    assert 1 <= ledger_lines(out) < QUERIES, f"the kill landed after {ledger_lines(out)} queries"
    mine_run(MineConfig(**fields(tiny_model_dir, out, 7)))
    assert mined(out) == mined(reference)
