"""Per-sample seeds on the HF backend: sampled (T=1) episodes are byte-identical whatever the batch size, and a run
SIGKILLed in the middle of the run and resumed with another batch size writes the same episodes.jsonl as an
uninterrupted one. (Before, each batch drew from one random stream, so both changed the episodes.)

The kill is tied to progress: it lands as soon as episodes.jsonl holds the first batch, while the second runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from r3.evaluation.config import EvalConfig
from r3.evaluation.run import evaluate

LIMIT = 12


def fields(model: Path, out: Path, batch_size: int) -> dict:
    return {"model": str(model), "task": "countdown", "data": "sample:countdown", "limit": LIMIT, "out": str(out),
            "attempt_max_new_tokens": 6, "reflection_max_new_tokens": 5, "temperature": 1.0, "seed": 3,
            "batch_size": batch_size, "progress": False}


def settings(model: Path, out: Path, batch_size: int) -> EvalConfig:
    return EvalConfig(**fields(model, out, batch_size))


def episodes(out: Path) -> bytes:
    return (out / "episodes.jsonl").read_bytes()


def lines(out: Path) -> int:
    path = out / "episodes.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_batch_size_does_not_change_sampled_episodes(tiny_model_dir, tmp_path):
    evaluate(settings(tiny_model_dir, tmp_path / "b4", 4))
    evaluate(settings(tiny_model_dir, tmp_path / "b8", 8))
    assert episodes(tmp_path / "b4") == episodes(tmp_path / "b8")
    texts = {line for line in episodes(tmp_path / "b4").splitlines()}
    assert len(texts) == LIMIT  # sampled, and every episode its own


def test_killed_mid_run_and_resumed_with_another_batch_size_gives_the_same_episodes(tiny_model_dir, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    evaluate(settings(tiny_model_dir, reference, 8))
    script = ("import json, sys; from r3.evaluation.config import EvalConfig; from r3.evaluation.run import evaluate; "
              "evaluate(EvalConfig(**json.loads(sys.argv[1])))")
    process = subprocess.Popen([sys.executable, "-c", script, json.dumps(fields(tiny_model_dir, out, 5))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # a guard against a hung process only; the kill waits for the batch
    while lines(out) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (-signal.SIGKILL, 0), stderr.decode()[-2000:]
    done = lines(out)
    assert 5 <= done < LIMIT, f"the kill landed after {done} episodes"
    # resumed with batches of 3 from episode 5: no batch of this session matches a batch of the reference
    result = evaluate(settings(tiny_model_dir, out, 3))
    assert result.resumed_from == done
    assert episodes(out) == episodes(reference)
