"""The numbers of an evaluation: accuracies with 95% Wilson intervals, and what reflection changed.

Wilson's score interval rather than the normal approximation: it stays inside [0, 1] and keeps its coverage at the
small n and the accuracies near 0 or 1 that evaluations of small models produce.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from r3.types import Episode

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Proportion:
    """`correct` out of `n`, with its 95% Wilson score interval [low, high]."""

    correct: int
    n: int
    accuracy: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0.0, 1.0) when n is 0 (nothing is known)."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # at p = 0 or 1 one bound is exactly 0 or 1; clamp the rounding error
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(successes: int, n: int) -> Proportion:
    low, high = wilson_interval(successes, n)
    return Proportion(successes, n, successes / n if n else 0.0, low, high)


def intervals_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two proportions' (as dicts) 95% intervals overlap: a quick, conservative reading of 'could be
    chance'; non-overlap implies a significant difference, overlap does not imply its absence."""
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def difference_interval(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, float]:
    """b - a for two proportions (as dicts) and its 95% interval, by Newcombe's hybrid score method (from the two
    Wilson intervals). It treats the samples as independent, so for the same problems evaluated twice it is
    conservative (too wide), never too narrow."""
    pa, pb = a["accuracy"], b["accuracy"]
    d = pb - pa
    low = d - math.sqrt((pb - b["low"]) ** 2 + (a["high"] - pa) ** 2)
    high = d + math.sqrt((b["high"] - pb) ** 2 + (pa - a["low"]) ** 2)
    return d, low, high


def _mean(values: Iterable[int]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def summarize(episodes: list[Episode], max_attempts: int) -> dict[str, Any]:
    """Summary of finished episodes run with `max_attempts` attempts each (JSON-ready).

    Keys: n_problems; first_attempt and within_two (each a Proportion dict); within_attempts ({"1": ..., up to
    str(max_attempts)}); first_attempt_failures; reflection_successes (first-attempt failures solved by a later
    attempt, i.e. after reflecting) and reflection_success_rate (their share of the failures, a Proportion);
    solved_at ({"1": count, ..., "unsolved": count}); n_attempts, n_reflections; mean_attempt_tokens,
    mean_first_attempt_tokens, mean_retry_tokens, mean_reflection_tokens (None where there is nothing to average);
    truncated_attempts and truncated_reflections (Proportion dicts: the share that stopped at their token budget,
    finish_reason "length"; a truncated answer rarely verifies, so a high share means the budget is too small).
    """
    n = len(episodes)
    solved_at = [e.solved_at for e in episodes]
    within = {
        str(k): proportion(sum(s is not None and s <= k for s in solved_at), n).to_dict()
        for k in range(1, max_attempts + 1)
    }
    first_failures = sum(s != 1 for s in solved_at)
    fixed = sum(s is not None and s > 1 for s in solved_at)
    histogram = {str(k): sum(s == k for s in solved_at) for k in range(1, max_attempts + 1)}
    histogram["unsolved"] = sum(s is None for s in solved_at)
    return {
        "n_problems": n,
        "max_attempts": max_attempts,
        "first_attempt": within["1"],
        "within_two": proportion(sum(s is not None and s <= 2 for s in solved_at), n).to_dict(),
        "within_attempts": within,
        "first_attempt_failures": first_failures,
        "reflection_successes": fixed,
        "reflection_success_rate": proportion(fixed, first_failures).to_dict(),
        "solved_at": histogram,
        "n_attempts": sum(len(e.attempts) for e in episodes),
        "n_reflections": sum(len(e.reflections) for e in episodes),
        "mean_attempt_tokens": _mean(a.num_tokens for e in episodes for a in e.attempts),
        "mean_first_attempt_tokens": _mean(e.attempts[0].num_tokens for e in episodes if e.attempts),
        "mean_retry_tokens": _mean(a.num_tokens for e in episodes for a in e.attempts[1:]),
        "mean_reflection_tokens": _mean(r.num_tokens for e in episodes for r in e.reflections),
        "truncated_attempts": _truncated(r for e in episodes for r in e.extra.get("attempt_finish_reasons", [])),
        "truncated_reflections": _truncated(r.finish_reason for e in episodes for r in e.reflections),
    }


def _truncated(finish_reasons: Iterable[str]) -> dict[str, Any]:
    reasons = list(finish_reasons)
    return proportion(sum(reason == "length" for reason in reasons), len(reasons)).to_dict()
