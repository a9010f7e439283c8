"""Sharded mining from the command line: `--num-shards N --shard-index I` per shard, the automatic merge, and
`r3 mine merge`, giving exactly what one unsharded `r3 mine` gives (deterministic stand-in model)."""

from __future__ import annotations

import json

import pytest
from simulate import SimulatedGenerator, coin_examples  # tests/mining/simulate.py

import r3.generation
import r3.generation.templates
from r3.cli import main


@pytest.fixture(autouse=True)
def simulated(monkeypatch):
    monkeypatch.setattr(r3.generation, "load_generator", lambda model, backend="hf", **k: SimulatedGenerator())
    monkeypatch.setattr(r3.generation.templates, "load_template_fingerprint", lambda *a, **k: {"template": "sim"})


def mine(data, out, *extra):
    return main(["mine", "--model", "sim", "--task", "simulate:CoinTask", "--data", str(data), "--out", str(out),
                 "--max-samples", "16", "--keep", "2", "--batch-size", "3", "--no-progress", *extra])


def rows(path):
    """Kept rows in query order (an unsharded run writes them in the order queries finish)."""
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["mining"]["index"])


def test_three_shards_merge_to_the_unsharded_run(tmp_path, capsys):
    data = tmp_path / "coins.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in coin_examples([0.0, 0.3, 0.7, 1.0] * 4)))
    assert mine(data, tmp_path / "whole") == 0
    for index in (2, 0, 1):  # out of order: the last one to finish merges
        assert mine(data, tmp_path / "sharded", "--num-shards", "3", "--shard-index", str(index)) == 0
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    assert rows(sharded / "failures.jsonl") == rows(whole / "failures.jsonl")
    stats = lambda d: {k: v for k, v in json.loads((d / "stats.json").read_text()).items() if "second" not in k}
    assert stats(sharded) == stats(whole)
    (sharded / "failures.jsonl").unlink()  # `r3 mine merge` redoes it
    capsys.readouterr()
    assert main(["mine", "merge", str(sharded), "--overwrite"]) == 0
    assert rows(sharded / "failures.jsonl") == rows(whole / "failures.jsonl")
    assert "merged into" in capsys.readouterr().out


def test_shard_index_without_num_shards_is_one_line(tmp_path, capsys):
    data = tmp_path / "coins.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in coin_examples([0.5] * 3)))
    assert mine(data, tmp_path / "out", "--shard-index", "1") == 2
    assert "give both num_shards and shard_index" in capsys.readouterr().err
