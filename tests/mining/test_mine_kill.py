"""SIGKILL a real `r3 mine` (tiny model, sample:countdown) part-way, rerun, and check the output line by line.

The random tiny model fails nearly every sample, so with --keep 1 each query finishes after one sample and the run
writes lines quickly (one generate call and one commit per two queries with --batch-size 2). Each kill lands as soon
as the ledger has grown by a random 1-4 lines: tied to progress, not to wall-clock time, so a fast machine cannot
finish the whole run before the kill (a timed kill did exactly that on CI). The byte-level crash states (a kill inside a write) are
enumerated exhaustively and in-process by test_miner.py::test_a_crash_at_any_byte_resumes_to_exactly_once; this
test checks the real process end to end. Each start of Python + torch + the model costs seconds on 2 cores
(about 20 s on the shared, loaded machine), so the default test kills once and resumes; the slow one (-m slow)
kills five times.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

QUERIES = 24


def mine_command(model: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "r3", "mine", "--model", str(model), "--task", "countdown",
            "--data", "sample:countdown", "--limit", str(QUERIES), "--max-samples", "4", "--keep", "1",
            "--attempt-max-new-tokens", "3", "--batch-size", "2", "--out", str(out), "--no-progress"]


def ledger_lines(out: Path) -> int:
    path = out / "progress.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def start_and_kill(command: list[str], out: Path, rng: random.Random) -> tuple[int, int]:
    """Start mining, SIGKILL it as soon as the ledger has grown by a random 1-4 lines.

    Returns the ledger line counts (before, at the kill) as the files were seen just after the process died.
    """
    before = ledger_lines(out)
    target = before + rng.randint(1, 4)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while ledger_lines(out) < target and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()[-2000:]
    return before, ledger_lines(out)


def check_output(out: Path) -> None:
    """Every query exactly once in the ledger; every kept one exactly once in failures.jsonl; stats agree."""
    ledger = [json.loads(line) for line in (out / "progress.jsonl").read_bytes().split(b"\n")[:-1]]
    assert (out / "progress.jsonl").read_bytes().endswith(b"\n")
    assert sorted(entry["index"] for entry in ledger) == list(range(QUERIES))
    raw = (out / "failures.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    rows = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    kept = [entry["index"] for entry in ledger if entry["kept"]]
    assert [row["mining"]["index"] for row in rows] == kept
    assert len(kept) > QUERIES // 2  # the random model fails almost always
    for row in rows:
        assert row["task"] == "countdown" and {"nums", "target"} <= set(row)
        assert row["failed_attempts"] and row["prompt_messages"][-1]["role"] == "user"
        assert row["mining"]["samples"] <= 4 and row["mining"]["first_failure_at"] >= 1
    loaded = datasets.load_dataset("json", data_files=str(out / "failures.jsonl"), split="train")
    assert loaded.to_list() == rows
    stats = json.loads((out / "stats.json").read_text())
    assert stats["complete"] and stats["queries_seen"] == QUERIES and stats["queries_kept"] == len(rows)
    assert stats["samples_generated"] == sum(entry["samples"] for entry in ledger)
    assert stats["tokens_generated"] == sum(entry["tokens"] for entry in ledger)


def require_countdown_sample() -> None:
    from importlib import resources

    if not resources.files("r3.sample_data").joinpath("countdown.jsonl").is_file():
        pytest.skip("sample:countdown is not shipped yet (r3/sample_data/countdown.jsonl)")


def kill_and_resume(tiny_model_dir: Path, out: Path, kills: int, seed: int, between=None) -> None:
    require_countdown_sample()
    rng = random.Random(seed)
    command = mine_command(tiny_model_dir, out)
    landed = 0
    for _ in range(kills):
        before, after = start_and_kill(command, out, rng)
        assert after > before  # each session made progress that survived the kill
        landed += after < QUERIES
        if after >= QUERIES:
            break
    assert landed >= 1, "every kill came after the run had finished: nothing was tested"
    if between is not None:
        between()
    finish = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ}, check=False)
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert f"/{QUERIES} queries" in finish.stdout
    check_output(out)


def test_sigkilled_mining_resumes_to_every_query_exactly_once(tiny_model_dir, tmp_path, capsys):
    """Also: between the kill and the resumption, a replaced model directory is refused in one line."""
    import shutil

    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    original = (model / "config.json").read_bytes()
    out = tmp_path / "run"
    kill_and_resume(model, out, kills=1, seed=0, between=lambda: refused_with_another_model(model, out, capsys))
    assert (model / "config.json").read_bytes() == original


def refused_with_another_model(model: Path, out: Path, capsys) -> None:
    from r3.cli import main

    original, stat = (model / "config.json").read_bytes(), (model / "config.json").stat()
    (model / "config.json").write_text(json.dumps({**json.loads(original), "rope_theta": 12345.0}))
    before = (out / "progress.jsonl").read_bytes()
    capsys.readouterr()
    assert main(mine_command(model, out)[3:]) == 2
    error = capsys.readouterr().err
    assert "model-files.config.json" in error and len(error.strip().splitlines()) == 1
    assert (out / "progress.jsonl").read_bytes() == before  # refused before touching anything
    (model / "config.json").write_bytes(original)
    os.utime(model / "config.json", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the very same file again


@pytest.mark.slow
def test_sigkilled_many_times_mining_resumes_to_every_query_exactly_once(tiny_model_dir, tmp_path):
    kill_and_resume(tiny_model_dir, tmp_path / "run", kills=5, seed=1)
