"""benchmarks/gpu_check.py at tiny size on the CPU: the GPU check's code paths work before a GPU is ever lent."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
TOKENIZER = REPO / ".." / "shared" / "real" / "tokenizers" / "qwen2.5-0.5b-instruct"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str, timeout: int = 500) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def _value(report: str, measurement: str, figure: str) -> float:
    match = re.search(rf"^\| {re.escape(measurement)} \| {re.escape(figure)} \| ([0-9.]+)x? \|$", report, re.MULTILINE)
    assert match, f"no row '{measurement} | {figure}' in:\n{report}"
    return float(match.group(1))


def test_tiny_sizes_apply_unless_given() -> None:
    gpu_check = _load()
    args = gpu_check.parse_args(["--tiny", "--device", "cpu", "--episodes", "6"])
    assert args.episodes == 6  # given: kept
    assert args.eval_batch == gpu_check.TINY_SIZES["eval_batch"] and args.train_steps == 1
    assert gpu_check.parse_args(["--device", "cpu"]).episodes == 64


def test_a_failed_measurement_is_recorded_and_the_report_still_written(tmp_path: Path) -> None:
    bad = tmp_path / "tok"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    out = tmp_path / "report.md"
    result = _run("--tiny", "--device", "cpu", "--tokenizer-dir", str(bad), "--out", str(out), timeout=120)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    report = out.read_text(encoding="utf-8")
    assert "## errors" in report and "- **model**:" in report and "no-such-architecture" in report
    assert "versions: " in report  # the environment was measured before the failure


@pytest.mark.slow
def test_tiny_check_on_cpu_measures_everything(tmp_path: Path) -> None:
    if not (TOKENIZER / "config.json").exists():
        pytest.skip(f"real tokenizer folder not found at {TOKENIZER} (../shared/real beside the checkout)")
    out = tmp_path / "report.md"
    result = _run("--tiny", "--device", "cpu", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    assert "## errors" not in report, report
    assert "Qwen2ForCausalLM" in report
    assert _value(report, "r3 eval (episode engine)", "episodes/s") > 0
    assert "| r3 eval | episodes that reflected and retried | 4 of 4 |" in report  # random weights never solve
    assert _value(report, "first attempts, raw model.generate", "tokens/s") > 0
    assert _value(report, "first attempts, r3 HFGenerator", "tokens/s") > 0
    assert _value(report, "plain TRL GRPO step", "median s/step") > 0
    assert _value(report, "r3 reflection-only step (with retry)", "median s/step") > 0
    assert "| r3 reflection-only step (with retry) | mean reflection / retry tokens | 8 / 8 |" in report
    assert "| plain TRL GRPO step | mean reflection / retry tokens | 8 / 0 |" in report
