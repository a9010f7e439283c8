"""`r3 mine` on the command line, with the simulated model standing in for load_generator."""

from __future__ import annotations

import json

import pytest
from simulate import SimulatedGenerator, coin_examples  # tests/mining/simulate.py

import r3.generation
import r3.generation.templates
from r3.cli import main

TASK = "simulate:CoinTask"


@pytest.fixture
def loads(monkeypatch):
    """Replace the model loader; the list records every model loaded."""
    loaded = []

    def fake_load_generator(model, backend="hf", **options):
        loaded.append((model, backend))
        return SimulatedGenerator()

    monkeypatch.setattr(r3.generation, "load_generator", fake_load_generator)
    # the simulated model has no tokenizer: its template fingerprint is a constant
    monkeypatch.setattr(r3.generation.templates, "load_template_fingerprint", lambda *a, **k: {"template": "sim"})
    return loaded


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "coins.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in coin_examples([0.0, 0.3, 1.0] * 4)))
    return path


def mine_args(data, out, *extra):
    return ["mine", "--model", "sim", "--task", TASK, "--data", str(data), "--out", str(out),
            "--max-samples", "16", "--no-progress", *extra]


def test_mine_writes_the_dataset_and_a_rerun_resumes_without_loading_the_model(tmp_path, data, loads, capsys):
    out = tmp_path / "run"
    assert main(mine_args(data, out, "--keep", "2")) == 0
    assert "of the fixed budget of 192" in capsys.readouterr().out
    assert loads == [("sim", "hf")]
    rows = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert {row["problem_id"] for row in rows} >= {"q2", "q5", "q8", "q11"}  # p_fail = 1: always kept
    assert not {row["problem_id"] for row in rows} & {"q0", "q3", "q6", "q9"}  # p_fail = 0: never
    run = json.loads((out / "run.json").read_text())
    assert run["keep"] == 2 and run["max_samples"] == 16 and run["model"] == "sim" and run["task"] == TASK
    assert json.loads((out / "stats.json").read_text())["complete"]

    assert main(mine_args(data, out, "--keep", "2", "--batch-size", "3")) == 0  # finished: nothing to load
    assert loads == [("sim", "hf")]


def test_different_arguments_are_refused_in_one_line_and_overwrite_starts_again(tmp_path, data, loads, capsys):
    out = tmp_path / "run"
    assert main(mine_args(data, out)) == 0
    capsys.readouterr()
    assert main(mine_args(data, out, "--keep", "3", "--seed", "5")) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--keep 3 (was 1)" in error and "--seed 5 (was 42)" in error
    assert len(loads) == 1  # refused before loading the model

    assert main(mine_args(data, out, "--keep", "3", "--overwrite")) == 0
    assert json.loads((out / "run.json").read_text())["keep"] == 3
    ledger = (out / "progress.jsonl").read_text().splitlines()
    assert len(ledger) == 12


def test_bad_options_are_one_line_errors(tmp_path, data, loads, capsys):
    assert main(mine_args(data, tmp_path / "run", "--keep", "17")) == 2
    assert "field 'keep' must be between 1 and max_samples (16), got 17" in capsys.readouterr().err
    assert loads == []
