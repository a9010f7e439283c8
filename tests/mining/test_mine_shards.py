"""Sharded mining (r3.sharding) with the simulated model: 3 shards, one interrupted and resumed, merge to exactly
the unsharded run (same kept rows, same ledger, same statistics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from simulate import SimulatedGenerator, coin_examples  # tests/mining/simulate.py

from r3.errors import R3Error
from r3.mining import MineConfig
from r3.mining.run import mine_run
from r3.sharding import Shard, merge_mining_shards, mine_shard, resolve_shard, shard_directories, shard_examples

MIXED = [0.0, 0.02, 0.1, 0.3, 0.5, 0.9, 1.0]


class Interrupted(Exception):
    """Stands in for a crash: raised from inside a generate call, after some queries were committed."""


class CrashingGenerator(SimulatedGenerator):
    def __init__(self, calls_before_crash: int):
        super().__init__()
        self.calls_before_crash = calls_before_crash

    def generate(self, prompts, params, seeds=None):
        if len(self.calls) == self.calls_before_crash:
            raise Interrupted
        return super().generate(prompts, params, seeds=seeds)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_index(rows: list[dict], key) -> list[dict]:
    return sorted(rows, key=key)


@pytest.fixture
def config(tmp_path: Path):
    data = tmp_path / "coins.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in coin_examples(MIXED * 7)), encoding="utf-8")

    def make(out: Path) -> MineConfig:
        return MineConfig(model="sim", task="simulate:CoinTask", data=str(data), out=str(out), max_samples=16,
                          batch_size=4, progress=False)

    return make


def test_three_shards_one_interrupted_merge_to_the_unsharded_run(tmp_path: Path, config) -> None:
    whole = tmp_path / "whole"
    mine_run(config(whole), generator=SimulatedGenerator())
    out = tmp_path / "sharded"

    first, merged = mine_shard(config(out), Shard(0, 3), generator=SimulatedGenerator())
    assert merged is None and first.queries_seen == len(range(0, 49, 3))  # shard 0 of 3 holds 17 of 49 queries
    with pytest.raises(Interrupted):
        mine_shard(config(out), Shard(1, 3), generator=CrashingGenerator(calls_before_crash=3))
    interrupted = Shard(1, 3).directory(out)
    done_before = len(lines(interrupted / "progress.jsonl"))
    assert 0 < done_before < 16  # some queries committed, not all
    _, merged = mine_shard(config(out), Shard(2, 3), generator=SimulatedGenerator())
    assert merged is None  # shard 1 is unfinished: no merge yet
    with pytest.raises(R3Error, match="shard-00001-of-00003 is unfinished"):
        merge_mining_shards(out)
    shard0_before = (Shard(0, 3).directory(out) / "progress.jsonl").read_bytes()

    generator = SimulatedGenerator()
    resumed, merged = mine_shard(config(out), Shard(1, 3), generator=generator)  # resumes shard 1 only
    assert sum(generator.calls) < resumed.samples  # the queries finished before the interruption were not redone
    assert (Shard(0, 3).directory(out) / "progress.jsonl").read_bytes() == shard0_before
    assert merged is not None  # the last shard to finish merged

    key = lambda row: row["mining"]["index"]
    assert by_index(lines(out / "failures.jsonl"), key) == by_index(lines(whole / "failures.jsonl"), key)
    assert 0 < len(lines(out / "failures.jsonl")) < 49
    ledger = [{k: v for k, v in e.items() if k != "failures_end"} for e in lines(out / "progress.jsonl")]
    expected = [{k: v for k, v in e.items() if k != "failures_end"} for e in lines(whole / "progress.jsonl")]
    assert by_index(ledger, lambda e: e["index"]) == by_index(expected, lambda e: e["index"])
    assert json.loads((out / "stats.json").read_text()) == json.loads((whole / "stats.json").read_text())

    # the merged directory is the unsharded run: mining it again without shards finds nothing left to do
    again = SimulatedGenerator()
    mine_run(config(out), generator=again)
    assert again.calls == []


def test_merge_refuses_shards_of_different_runs(tmp_path: Path, config) -> None:
    out = tmp_path / "sharded"
    mine_shard(config(out), Shard(0, 2), generator=SimulatedGenerator())
    other = config(out)
    other.max_samples = 8
    mine_shard(other, Shard(1, 2), generator=SimulatedGenerator())
    assert not (out / "failures.jsonl").exists()
    with pytest.raises(R3Error, match="differ in max_samples"):
        merge_mining_shards(out)


def test_merge_needs_every_shard_once(tmp_path: Path, config) -> None:
    out = tmp_path / "sharded"
    mine_shard(config(out), Shard(0, 3), generator=SimulatedGenerator())
    with pytest.raises(R3Error, match="shard 1 is missing"):
        merge_mining_shards(out, shard_directories(out))


def test_resolve_shard_explicit_or_from_the_launcher() -> None:
    assert resolve_shard(4, 2, environ={}) == Shard(2, 4)
    assert resolve_shard(environ={"WORLD_SIZE": "8", "RANK": "5"}) == Shard(5, 8)
    assert resolve_shard(environ={"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert resolve_shard(environ={}) is None
    with pytest.raises(R3Error, match="both num_shards and shard_index"):
        resolve_shard(num_shards=2, environ={})
    with pytest.raises(R3Error, match="shard_index must be in 0..num_shards-1"):
        resolve_shard(2, 2, environ={})


def test_shards_cover_every_example_once() -> None:
    examples = list(range(10))
    shares = [shard_examples(examples, Shard(i, 3)) for i in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert shard_examples(examples, None) == examples


def test_merge_refuses_a_mix_of_shard_counts(tmp_path: Path, config) -> None:
    out = tmp_path / "sharded"
    mine_shard(config(out), Shard(0, 2), generator=SimulatedGenerator())
    mine_shard(config(out), Shard(1, 3), generator=SimulatedGenerator())
    with pytest.raises(R3Error, match=r"different num_shards: \[2, 3\]"):
        merge_mining_shards(out)
