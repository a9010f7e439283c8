"""Per-sample random draws: each row of a batch samples from its own seeded `torch.Generator`.

    sampler = RowSampler(row_seeds, temperature=0.7, top_p=0.95, top_k=0, device="cpu")
    tokens = sampler.draw(scores, rows)   # scores [rows, vocab] -> one token per row, from that row's stream

Why: `model.generate(do_sample=True)` draws every row's next token from one global random stream
(`torch.multinomial` over the whole batch), so what a prompt samples depends on which other prompts share its batch.
A run resumed in the middle, or rerun with another batch size, would then sample other episodes. Here each row owns
a generator seeded from its sample's seed, so its draws depend only on that seed and on its own logits.

How: the scores are warped exactly as transformers warps them for `do_sample=True` (and so as TRL samples):
temperature, then top-k (0 = off), then top-p, with transformers' own warpers. Then the Gumbel-max trick turns
sampling into an argmax: `argmax(scores - log(E))` with `E ~ Exponential(1)` per vocabulary entry is a draw from
`softmax(scores)`, tokens filtered to -inf included. A row draws a full vocabulary of noise at every step it is in
flight, so the stream a row sees is fixed by its seed and step alone (`r3.generation.decode` runs the loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

SEED_MODULUS = 2**63
"""Row seeds are kept below 2**63: they fit a signed int64 (torch, numpy, vLLM)."""


def row_seeds(prompt_seeds: Sequence[int], n: int) -> list[int]:
    """The seed of each row, prompt-major: sample k of a prompt seeded s draws with s + k (as vLLM seeds its n)."""
    return [(int(seed) + k) % SEED_MODULUS for seed in prompt_seeds for k in range(n)]


def prompt_seeds(count: int, seed: int | None, seeds: Sequence[int] | None, n: int) -> list[int]:
    """One seed per prompt: `seeds` as given, else `seed + index * n` (as the vLLM backend), else fresh draws from
    torch's global generator (so `torch.manual_seed` still makes an unseeded call repeatable)."""
    if seeds is not None:
        if len(seeds) != count:
            raise ValueError(f"got {len(seeds)} seeds for {count} prompts")
        return [int(s) % SEED_MODULUS for s in seeds]
    if seed is not None:
        return [(seed + index * n) % SEED_MODULUS for index in range(count)]
    return torch.randint(0, 2**62, (count,)).tolist()


class RowSampler:
    """Warp scores as `do_sample=True` would, then draw one token per row from that row's own generator."""

    def __init__(self, seeds: Sequence[int], *, temperature: float, top_p: float, top_k: int, device: Any):
        self.generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        self.warpers: list[Any] = []
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))

    def draw(self, scores: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """One token for each row of `scores` [len(rows), vocab]; `rows` are the rows' indices into `seeds`."""
        for warper in self.warpers:  # the warpers do not read input_ids
            scores = warper(None, scores)
        vocab = scores.shape[-1]
        noise = torch.stack([  # [rows, vocab]: each row's Exponential(1) draws from its own stream
            torch.empty(vocab, dtype=torch.float32, device=scores.device).exponential_(generator=self.generators[row])
            for row in rows
        ])
        return (scores.float() - noise.log()).argmax(dim=-1)  # Gumbel-max: a draw from softmax(scores)
