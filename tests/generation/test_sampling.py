"""Per-sample seeds: a sample's draws depend on its own seed alone (not on batch size or neighbours), and the
Gumbel-max sampler draws from the same distribution as transformers' `do_sample=True` (temperature, top-k, top-p)."""

from __future__ import annotations

import pytest
import torch
from test_hf_generator import make_prompts

from r3.generation import load_generator
from r3.generation.hf import HFGenerator
from r3.generation.sampling import RowSampler, prompt_seeds, row_seeds
from r3.types import SamplingParams


@pytest.fixture(scope="module")
def generator(tiny_model_dir) -> HFGenerator:
    return load_generator(str(tiny_model_dir), batch_size=8)


def with_batch_size(generator: HFGenerator, batch_size: int) -> HFGenerator:
    return HFGenerator(generator.model, generator.tokenizer, batch_size=batch_size)


def test_samples_do_not_depend_on_batch_size_or_neighbours(generator):
    prompts = make_prompts(9, seed=4)  # 1 to 30 words: different padding in every batch composition
    seeds = [1000 + 17 * i for i in range(len(prompts))]
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=12)
    reference = generator.generate(prompts, params, seeds=seeds)
    for batch_size in (1, 4, 5):
        assert with_batch_size(generator, batch_size).generate(prompts, params, seeds=seeds) == reference
    # a prompt alone, or among other prompts, samples what its seed says
    assert generator.generate([prompts[3]], params, seeds=[seeds[3]])[0] == reference[3]
    others = generator.generate([prompts[5], *make_prompts(6, seed=9), prompts[3]], params,
                                seeds=[seeds[5], *range(6), seeds[3]])
    assert others[0] == reference[5] and others[-1] == reference[3]
    assert len({c.text for samples in reference for c in samples}) > 10  # really sampled, not greedy


def test_call_seed_gives_prompt_i_seed_plus_i_times_n(generator):
    prompts, params = make_prompts(3), SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=5)
    assert generator.generate(prompts, params) == generator.generate(prompts, params, seeds=[5, 7, 9])
    assert prompt_seeds(3, 5, None, 2) == [5, 7, 9] and row_seeds([5, 9], 2) == [5, 6, 9, 10]


def test_unseeded_calls_follow_torch_global_seed(generator):
    prompts, params = make_prompts(2), SamplingParams(n=3, temperature=1.0, max_new_tokens=8)
    torch.manual_seed(3)
    first = generator.generate(prompts, params)
    torch.manual_seed(3)
    assert generator.generate(prompts, params) == first


def draw_counts(scores: torch.Tensor, rows: int, **warp) -> torch.Tensor:
    sampler = RowSampler(range(rows), device="cpu", **{"temperature": 1.0, "top_p": 1.0, "top_k": 0, **warp})
    return torch.bincount(sampler.draw(scores.repeat(rows, 1), list(range(rows))), minlength=scores.shape[-1])


def test_gumbel_max_draws_from_the_warped_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    rows = 20_000
    for temperature in (1.0, 0.5):
        expected = torch.softmax(logits[0] / temperature, dim=-1) * rows
        counts = draw_counts(logits, rows, temperature=temperature)
        # 5 sigma of a binomial count: fails only if the distribution is wrong
        assert torch.all((counts - expected).abs() <= 5 * expected.clamp(min=1).sqrt()), (counts, expected)
    assert draw_counts(logits, 2000, top_k=2)[2:].sum() == 0  # top-k keeps the 2 most likely
    # top-p 0.7: softmax is [.57, .21, .13, .08, .03] -> the nucleus is the first two tokens
    top_p = draw_counts(logits, 2000, top_p=0.7)
    assert top_p[2:].sum() == 0 and top_p[1] > 0


def test_a_row_draws_from_its_own_stream_whichever_rows_are_in_flight():
    scores = torch.randn(4, 50)
    sampler = RowSampler([7, 8, 9, 10], temperature=1.0, top_p=1.0, top_k=0, device="cpu")
    everyone = sampler.draw(scores, [0, 1, 2, 3])
    alone = RowSampler([7, 8, 9, 10], temperature=1.0, top_p=1.0, top_k=0, device="cpu")
    assert alone.draw(scores[2:3], [2]).item() == everyone[2].item()


def test_greedy_matches_transformers_generate(generator):
    """r3's own decoding loop (finished rows dropped from the batch) gives `model.generate`'s greedy tokens."""
    from transformers import GenerationConfig

    prompts = generator.encode(make_prompts(6, seed=2))
    params = SamplingParams(temperature=0, max_new_tokens=10)
    ours = [samples[0].token_ids for samples in generator.generate_ids(prompts, params)]
    config = GenerationConfig(do_sample=False, max_new_tokens=10, eos_token_id=generator.stop_token_ids,
                              pad_token_id=generator.pad_token_id)
    stops = set(generator.stop_token_ids)
    for ids, expected in zip(prompts, ours):
        output = generator.model.generate(input_ids=torch.tensor([ids]), generation_config=config)[0, len(ids):]
        tokens = output.tolist()
        cut = next((i for i, t in enumerate(tokens) if t in stops), len(tokens))
        assert tuple(tokens[:cut]) == expected


def test_generate_reports_every_step(generator):
    steps: list[tuple[int, int]] = []
    result = generator.generate(make_prompts(3), SamplingParams(n=2, temperature=1.0, max_new_tokens=6, seed=0),
                                on_tokens=lambda step, count: steps.append((step, count)))
    generated = sum(c.num_tokens for samples in result for c in samples)
    assert [step for step, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[0][1] == 6 and sum(count for _, count in steps) == generated
