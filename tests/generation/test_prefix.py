"""Prefix KV reuse (r3.generation.prefix): reflection and retry calls start from the cache of the call before, and
the episodes come out as without it (sampled, tiny model)."""

from __future__ import annotations

import pytest
from test_hf_generator import make_prompts

from r3.episodes import EpisodeConfig, run_episodes
from r3.generation import load_generator
from r3.generation.hf import HFGenerator
from r3.tasks import get_task
from r3.types import SamplingParams


@pytest.fixture(scope="module")
def base(tiny_model_dir) -> HFGenerator:
    return load_generator(str(tiny_model_dir), batch_size=8)


def episodes(base: HFGenerator, reuse: bool, batch_size: int) -> list[dict]:
    task = get_task("countdown")
    generator = HFGenerator(base.model, base.tokenizer, batch_size=8, reuse_prefix=reuse)
    assert (generator.prefix is not None) == reuse
    params = SamplingParams(temperature=1.0, max_new_tokens=20, seed=3)
    config = EpisodeConfig(max_attempts=3, attempt_params=params, batch_size=batch_size,
                           reflection_params=SamplingParams(temperature=1.0, max_new_tokens=12, seed=3))
    examples = task.load("sample:countdown", None, 10)
    return [e.to_dict() for batch in run_episodes(task, generator, examples, config) for e in batch]


def test_episodes_with_prefix_reuse_equal_episodes_without(base):
    reference = episodes(base, False, 5)
    assert episodes(base, True, 5) == reference
    assert episodes(base, True, 3) == reference  # and whatever the batch size


def test_the_next_call_finds_its_prefix_and_feeds_only_new_tokens(base):
    generator = HFGenerator(base.model, base.tokenizer, batch_size=8, reuse_prefix=True)
    prompts = generator.encode(make_prompts(3))
    (first,) = zip(*generator.generate_ids(prompts, SamplingParams(max_new_tokens=6, seed=1)))
    extended = [ids + list(c.token_ids) + [7, 8, 9] for ids, c in zip(prompts, first)]
    lengths = [generator.prefix.lookup(ids)[0] for ids in extended]
    assert lengths == [len(ids) + len(c.token_ids) - (c.finish_reason == "length") for ids, c in zip(prompts, first)]
    input_ids, mask, _ = generator.prefix.build(generator.model, extended, generator.pad_token_id)
    assert input_ids.shape[1] <= 4  # the new tokens (and at most the last generated id), not the whole prompt
    assert mask.sum(dim=1).tolist() == [len(ids) for ids in extended]


def test_kept_rows_are_capped(base):
    generator = HFGenerator(base.model, base.tokenizer, batch_size=8, reuse_prefix=True)
    generator.prefix.max_rows = 2
    generator.generate(make_prompts(5), SamplingParams(max_new_tokens=3, seed=0))
    assert len(generator.prefix.entries) == 2
