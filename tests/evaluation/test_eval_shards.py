"""Sharded evaluation (r3.sharding): 3 shards of a sampled evaluation, one interrupted and resumed, merge to exactly
the unsharded run's episodes and summary (each shard runs whole batches, whose seeds are the unsharded run's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r3.errors import R3Error
from r3.evaluation.config import EvalConfig
from r3.evaluation.run import evaluate
from r3.generation.hf import HFGenerator
from r3.sharding import Shard, evaluate_shard, merge_eval_shards
from r3.types import Completion


class Interrupted(Exception):
    pass


class CrashAfter:
    """Wraps a generator and raises on the n-th generate call: a crash in the middle of a shard. Everything else
    (the token-id path the engine prefers, the template) is the wrapped generator's."""

    def __init__(self, generator, calls: int):
        self.generator, self.calls = generator, calls

    def __getattr__(self, name: str):
        attribute = getattr(self.generator, name)
        if name not in ("generate", "generate_ids"):
            return attribute

        def counted(*args, **kwargs):
            self.calls -= 1
            if self.calls < 0:
                raise Interrupted
            return attribute(*args, **kwargs)

        return counted


class CallSeeded:
    """A stand-in model that samples like `generate` with one seed per call: each output depends on the call's seed,
    the prompt's position in the call and its text, so a shard that ran other batches would give other episodes."""

    def generate(self, prompts, params):
        import random

        outputs = []
        for position, prompt in enumerate(prompts):
            rng = random.Random(f"{params.seed}/{position}/{prompt[-1]['content']}")
            tokens = rng.randint(1, params.max_new_tokens)
            text = f"<answer> {rng.randint(1, 99)} + {rng.randint(1, 99)} </answer>" if rng.random() < 0.5 else "no"
            outputs.append([Completion(text, tokens, "stop")])
        return outputs


def settings(out: Path, model: Path) -> EvalConfig:
    return EvalConfig(model=str(model), task="countdown", data="sample:countdown", limit=10, out=str(out),
                      batch_size=2, temperature=1.0, seed=3, attempt_max_new_tokens=12, reflection_max_new_tokens=8,
                      progress=False)


def episodes(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text(encoding="utf-8").splitlines()]


def test_eval_shards_merge_to_the_unsharded_run_with_a_call_seeded_model(tmp_path: Path) -> None:
    def config(out: Path) -> EvalConfig:
        return EvalConfig(model="sim", task="countdown", data="sample:countdown", limit=23, out=str(out),
                          batch_size=4, temperature=1.0, seed=5, progress=False)

    whole = evaluate(config(tmp_path / "whole"), generator=CallSeeded())
    out = tmp_path / "sharded"
    results = [evaluate_shard(config(out), Shard(i, 4), generator=CallSeeded()) for i in (3, 1, 0, 2)]
    assert results[:3] == [None, None, None] and results[3] is not None  # the last one merged
    assert episodes(out) == episodes(tmp_path / "whole")
    assert results[3]["summary"] == whole.record["summary"]


@pytest.mark.slow  # 143 s on the loaded shared 2-core machine (four evaluations of the tiny model)
def test_three_eval_shards_one_interrupted_merge_to_the_unsharded_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    generator = HFGenerator.from_pretrained(tiny_model_dir, device="cpu")
    whole = evaluate(settings(tmp_path / "whole", tiny_model_dir), generator=generator)
    out = tmp_path / "sharded"
    assert evaluate_shard(settings(out, tiny_model_dir), Shard(0, 3), generator=generator) is None
    with pytest.raises(Interrupted):  # shard 1 holds batches 2-3: crash in its second batch
        evaluate_shard(settings(out, tiny_model_dir), Shard(1, 3), generator=CrashAfter(generator, 4))
    assert len(episodes(Shard(1, 3).directory(out))) == 2  # the first batch was kept
    assert evaluate_shard(settings(out, tiny_model_dir), Shard(2, 3), generator=generator) is None
    with pytest.raises(R3Error, match="shard-00001-of-00003 is unfinished"):
        merge_eval_shards(out)
    merged = evaluate_shard(settings(out, tiny_model_dir), Shard(1, 3), generator=generator)  # resumes, merges
    assert merged is not None
    assert episodes(out) == episodes(tmp_path / "whole")
    assert merged["summary"] == whole.record["summary"]
    assert json.loads((out / "summary.json").read_text())["summary"] == whole.record["summary"]


def test_shard_blocks_are_whole_batches_covering_everything() -> None:
    blocks = [Shard(i, 3).batches(10, 2) for i in range(3)]
    assert blocks == [range(4), range(4, 8), range(8, 10)]
    assert [Shard(i, 4).batches(3, 2) for i in range(4)] == [range(2), range(2, 3), range(3, 3), range(3, 3)]
