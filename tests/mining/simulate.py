"""A simulated model whose failure probability per query is known: a test double for mining tests and benchmarks.

`CoinTask` is a task whose examples carry their own failure probability `p_fail`; `SimulatedGenerator` answers
"ok" or "fail" to its prompts, failing with that probability, with realistic token counts. With per-sample seeds
(the default) every outcome is a deterministic function of the sample's seed, i.e. of (query, sample index), which
is what a real backend with per-request seeds gives; `UnseededSimulatedGenerator` draws from one random stream
shared by the whole run instead, like `transformers`' `generate` with a seed per call.

    from simulate import CoinTask, SimulatedGenerator, coin_examples   # tests/mining is on sys.path under pytest

It lives under tests/ (not in the package) because it is a test double; benchmarks/mining_adaptive.py puts this
folder on sys.path to use it. As a task name it is "simulate:CoinTask".
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from r3.tasks.base import Task
from r3.types import Completion, Message, SamplingParams, Verdict


class CoinTask(Task):
    """Examples {"id", "p_fail", ...}; the prompt carries p_fail so the simulated model knows how often to fail."""

    name = "coin"
    fields = ("id", "p_fail")

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        return dict(row)

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        return [{"role": "user", "content": json.dumps({"id": example["id"], "p_fail": example["p_fail"]})}]

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        correct = completion == "ok"
        return Verdict(correct, "correct" if correct else "wrong answer")


def coin_examples(fail_probabilities: Sequence[float], **extra: Any) -> list[dict[str, Any]]:
    """One CoinTask example per probability, with ids "q0", "q1", ... and any extra fields."""
    return [{"id": f"q{i}", "p_fail": p, **extra} for i, p in enumerate(fail_probabilities)]


@dataclass
class SimulatedGenerator:
    """Fails each sample with the prompt's p_fail. Token counts: normal around `tokens_ok` / `tokens_fail`.

    `calls` records the number of prompts of every generate call.
    """

    tokens_ok: int = 150
    tokens_fail: int = 220
    rng_seed: int = 0
    calls: list[int] = field(default_factory=list)

    def generate(
        self, prompts: Sequence[Sequence[Message]], params: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        if seeds is None:
            raise ValueError("SimulatedGenerator needs one seed per prompt")
        self.calls.append(len(prompts))
        return [[self._sample(prompt, params, random.Random(seed))] for prompt, seed in zip(prompts, seeds)]

    def _sample(self, prompt: Sequence[Message], params: SamplingParams, rng: random.Random) -> Completion:
        p_fail = json.loads(prompt[-1]["content"])["p_fail"]
        failed = rng.random() < p_fail
        mean = self.tokens_fail if failed else self.tokens_ok
        tokens = min(params.max_new_tokens, max(1, round(rng.gauss(mean, mean / 4))))
        text = f"fail {rng.getrandbits(32):08x}" if failed else "ok"
        return Completion(text, tokens, "length" if tokens == params.max_new_tokens else "stop")


@dataclass
class UnseededSimulatedGenerator(SimulatedGenerator):
    """Like SimulatedGenerator, but every sample comes from one random stream: outcomes depend on the batching."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.rng_seed)

    def generate(self, prompts: Sequence[Sequence[Message]], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append(len(prompts))
        return [[self._sample(prompt, params, self._rng) for _ in range(params.n)] for prompt in prompts]
