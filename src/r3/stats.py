"""Proportions with 95% intervals: the one arithmetic every r3 report uses (eval, compare, training summary, demo).

Wilson's score interval rather than the normal approximation: it stays inside [0, 1] and keeps its coverage at the
small n and the accuracies near 0 or 1 that evaluations of small models produce. Differences use Newcombe's method.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

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
    # at p = 0 or 1 one bound is exactly 0 or 1; rounding leaves e.g. 6.9e-18, which a printed summary would show
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


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


def paired_difference_interval(both: int, only_a: int, only_b: int, neither: int) -> tuple[float, float, float]:
    """b - a for two proportions measured on the SAME items (each solved by both, only by a, only by b, or by
    neither) and its 95% interval: Newcombe's (1998) method 10, the Wilson intervals of both runs combined with the
    correlation of the pairs. Narrower than `difference_interval` when the runs agree on most items, as a model
    before and after training usually does on the same problems; equal to it when the pairs are uncorrelated.
    Both runs' results must be in the same order of items: the counts are of pairs, not of runs."""
    n = both + only_a + only_b + neither
    if min(both, only_a, only_b, neither) < 0 or n == 0:
        raise ValueError(f"need non-negative counts of at least one pair, got {(both, only_a, only_b, neither)}")
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = wilson_interval(both + only_a, n)
    lb, ub = wilson_interval(both + only_b, n)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    agreement = both * neither - only_a * only_b
    # Newcombe's corrected phi: a positive association is reduced by n / 2 (a continuity correction), never below 0
    corrected = agreement - n / 2 if agreement > n / 2 else min(agreement, 0)
    phi = corrected / math.sqrt(margins) if margins else 0.0
    d = pb - pa
    below = (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2
    above = (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2
    return d, max(-1.0, d - math.sqrt(max(below, 0.0))), min(1.0, d + math.sqrt(max(above, 0.0)))
