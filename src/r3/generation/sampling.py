"""Per-sample random draws inside `model.generate`: each row samples from its own seeded `torch.Generator`.

    processor = RowSampler(row_seeds, temperature=0.7, top_p=0.95, top_k=0)
    model.generate(..., do_sample=False, logits_processor=LogitsProcessorList([processor]))

Why: `generate(do_sample=True)` draws every row's next token from one global random stream
(`torch.multinomial` over the whole batch), so what a prompt samples depends on which other prompts share its batch.
A run resumed in the middle, or rerun with another batch size, would then sample other episodes. Here each row owns
a generator seeded from its sample's seed, so its draws depend only on that seed and on its own logits.

How: the scores are warped exactly as transformers warps them for `do_sample=True` (and so as TRL samples):
temperature, then top-k (0 = off), then top-p, with transformers' own warpers. Then the Gumbel-max trick turns
sampling into an argmax: `argmax(scores - log(E))` with `E ~ Exponential(1)` per vocabulary entry is a draw from
`softmax(scores)`, tokens filtered to -inf included. The processor returns a score row that is 0 at the drawn token
and -inf elsewhere, so `generate`'s greedy argmax picks it. Every row draws a full vocabulary of noise at every step
(finished rows too), so the stream a row sees is fixed by its seed and step alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

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


class RowSampler(LogitsProcessor):
    """Warp scores as `do_sample=True` would, then draw one token per row from that row's own generator."""

    def __init__(self, seeds: Sequence[int], *, temperature: float, top_p: float, top_k: int, device: Any):
        self.generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        self.warpers: list[LogitsProcessor] = []
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.generators):
            raise RuntimeError(f"RowSampler built for {len(self.generators)} rows got {scores.shape[0]}")
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        vocab = scores.shape[-1]
        noise = torch.stack([  # [rows, vocab]: each row's Exponential(1) draws from its own stream
            torch.empty(vocab, dtype=torch.float32, device=scores.device).exponential_(generator=generator)
            for generator in self.generators
        ])
        drawn = (scores.float() - noise.log()).argmax(dim=-1)  # Gumbel-max: a draw from softmax(scores)
        picked = torch.full_like(scores, float("-inf"))
        picked.scatter_(1, drawn[:, None], 0.0)
        return picked


class StepReporter(LogitsProcessor):
    """Leaves scores alone; calls `on_tokens(step, count)` at every decoding step with the rows still generating, so
    a progress display can count tokens while one long `generate` call runs."""

    def __init__(self, prompt_width: int, stop_ids: Sequence[int], on_tokens: Callable[[int, int], None]):
        self.prompt_width = prompt_width
        self.stop_ids = torch.tensor(list(stop_ids), dtype=torch.long)
        self.on_tokens = on_tokens
        self.finished: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_width
        if self.finished is None:
            self.finished = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        if step > 0:  # the token generated at the previous step may have ended its row
            self.finished |= torch.isin(input_ids[:, -1].cpu(), self.stop_ids)
        self.on_tokens(step + 1, int((~self.finished).sum()))
        return scores
