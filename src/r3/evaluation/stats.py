"""The numbers of an evaluation: accuracies with 95% Wilson intervals (`r3.stats`), and what reflection changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from r3.stats import Proportion, difference_interval, intervals_overlap, proportion, wilson_interval
from r3.types import Episode

__all__ = ["Proportion", "difference_interval", "intervals_overlap", "proportion", "summarize", "wilson_interval"]

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
    finish_reason "length"; a truncated answer rarely verifies, so a high share means the budget is too small);
    verifier_errors (attempts whose verifier raised or timed out: counted as incorrect, see `r3.tasks.Task.verify`).
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
        "verifier_errors": sum(bool(getattr(a.verdict, "error", False)) for e in episodes for a in e.attempts),
    }


def _truncated(finish_reasons: Iterable[str]) -> dict[str, Any]:
    reasons = list(finish_reasons)
    return proportion(sum(reason == "length" for reason in reasons), len(reasons)).to_dict()
