"""`r3 demo --model FILE.gguf`: the real-model profile (r3.demo.real) end to end on a tiny GGUF written in the test."""

import json
from pathlib import Path

import pytest

pytest.importorskip("gguf")

from r3.demo.config import DemoConfig
from r3.demo.pipeline import Paths, run_demo
from r3.demo.real import recipe_settings
from r3.models import write_qwen2_gguf
from r3.tasks.arithmetic import evaluate


def test_a_gguf_model_runs_the_real_recipe_task_and_temperature_in_every_stage(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("R3_GGUF_CACHE", str(tmp_path / "cache"))
    model = write_qwen2_gguf(tiny_model_dir, tmp_path / "tiny.gguf")
    settings = DemoConfig(out=str(tmp_path / "real"), model=str(model), test_puzzles=6, mine_puzzles=8,
                          max_samples=1, keep=1, steps=1, batch_size=16, progress=False, control=True,
                          attempt_max_new_tokens=8, reflection_max_new_tokens=8)
    assert settings.recipe_path.name == "smollm2_cpu.yaml"
    recipe = recipe_settings(settings.recipe_path)
    report = run_demo(settings).read_text()

    paths = Paths(Path(settings.out))
    rows = [json.loads(line) for line in paths.test_data.read_text().splitlines()]
    assert len(rows) == 6 and all(evaluate(row["expression"]) == row["answer"] for row in rows)
    for directory in (paths.eval_before, paths.eval_after, paths.eval_control):
        record = json.loads((directory / "summary.json").read_text())
        assert record["task"] == recipe["task"] == "arithmetic"
        assert record["summary"]["n_problems"] == 6
    run = json.loads((paths.eval_before / "run.json").read_text())
    assert run["temperature"] == recipe["temperature"] == 0.7
    assert "| control (reflection left out) |" in report and "temperature 0.7" in report
    assert "reflection kind" not in report  # the demo corpus' kinds mean nothing for arithmetic
