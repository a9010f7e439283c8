"""The adaptive round schedule of failure mining, and the state of one query while it is being mined.

The paper samples up to 64 first attempts per query and keeps the queries where at least one failed. Most of that
budget goes to queries a strong model always solves, and for a query that fails, everything drawn after its first
failure is wasted. So each query is sampled in growing rounds (1, 1, 2, 4, 8, ... samples, capped by what is left
of the budget) and stops as soon as it has `keep` failures. A round of a query that fails at sample f ends at the
first round boundary at or after f, so at most about twice the samples the query needed are drawn, while a query
that never fails costs the full budget in log2(budget) + 1 rounds.

Exactness: sample i of a query is identified by its index and drawn with its own seed (`sample_seed`), so with a
backend that honours per-sample seeds, the samples adaptive mining draws are exactly the first samples of a fixed
full pass, and both keep the same queries with the same failures (see docs/mining.md).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from r3.types import Completion, Message


@dataclass(frozen=True)
class RoundSchedule:
    """How many samples the next round of a query draws, given how many it has drawn so far.

    The first round draws `first` samples; every later round draws `growth - 1` times what was drawn so far (so the
    total grows by the factor `growth`), at least one, never more than the budget left. `first=max_samples` is the
    fixed full pass of the paper.
    """

    max_samples: int = 64
    first: int = 1
    growth: float = 2.0

    def __post_init__(self) -> None:
        if self.max_samples < 1 or self.first < 1 or self.growth <= 1.0:
            raise ValueError(f"invalid schedule {self}: need max_samples >= 1, first >= 1, growth > 1")

    @classmethod
    def fixed(cls, max_samples: int) -> RoundSchedule:
        """All `max_samples` samples in one round: the paper's fixed-budget pass."""
        return cls(max_samples=max_samples, first=max_samples)

    def next_round(self, drawn: int) -> int:
        """Samples to draw in the round after `drawn` samples; 0 when the budget is spent."""
        remaining = self.max_samples - drawn
        if remaining <= 0:
            return 0
        size = self.first if drawn == 0 else max(1, math.ceil(drawn * (self.growth - 1.0)))
        return min(size, remaining)

    def boundaries(self) -> list[int]:
        """Cumulative samples drawn at the end of each round: [1, 2, 4, ..., 64] for the default schedule."""
        ends, drawn = [], 0
        while (size := self.next_round(drawn)) > 0:
            drawn += size
            ends.append(drawn)
        return ends

    def samples_until(self, needed: int) -> int:
        """Samples drawn by a query whose stopping sample (1-based) is `needed`: the first boundary >= it."""
        return next((end for end in self.boundaries() if end >= needed), self.max_samples)


def expected_samples(fail_probability: float, schedule: RoundSchedule, keep: int = 1) -> float:
    """Expected samples drawn per query when each sample fails independently with `fail_probability`.

    A round runs iff fewer than `keep` failures were seen in the samples before it, so the expectation is the sum
    over rounds of (round size) x P(Binomial(samples before the round, p) < keep).
    """
    total, before = 0.0, 0
    for end in schedule.boundaries():
        p_runs = sum(
            math.comb(before, k) * fail_probability**k * (1 - fail_probability) ** (before - k)
            for k in range(min(keep, before + 1))
        )
        total += (end - before) * p_runs
        before = end
    return total


def sample_seed(run_seed: int, problem_id: str, sample_index: int) -> int:
    """The seed of sample `sample_index` (0-based) of a query: the same whatever else is drawn in the run.

    A hash rather than arithmetic on the seed, so that neighbouring queries and samples get unrelated streams.
    """
    digest = hashlib.sha256(f"r3-mine/{run_seed}/{problem_id}/{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits a signed int64 (torch, vLLM, numpy)


@dataclass
class QueryState:
    """One query being mined: what it asked and what its samples so far gave, in sample order."""

    index: int
    problem_id: str
    example: dict[str, Any]
    prompt: list[Message]
    drawn: int = 0
    tokens: int = 0
    failures_seen: int = 0
    first_failure_at: int | None = None
    failed: list[dict[str, Any]] = field(default_factory=list)

    def done(self, schedule: RoundSchedule, keep: int) -> bool:
        return self.failures_seen >= keep or self.drawn >= schedule.max_samples

    def record(self, completion: Completion, correct: bool, reason: str, keep: int) -> None:
        """Add the next sample (index `self.drawn`). The first `keep` failures in sample order are kept."""
        self.drawn += 1
        self.tokens += completion.num_tokens
        if correct:
            return
        self.failures_seen += 1
        if self.first_failure_at is None:
            self.first_failure_at = self.drawn
        if len(self.failed) < keep:
            failed = {"text": completion.text, "reason": reason, "num_tokens": completion.num_tokens}
            if completion.token_ids:  # the generated ids: training shows them, not re-encoded text (issue 12)
                failed["token_ids"] = list(completion.token_ids)
            self.failed.append(failed)

    @property
    def kept(self) -> bool:
        return self.failures_seen > 0
