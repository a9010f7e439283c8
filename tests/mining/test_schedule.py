"""The round schedule, its expected cost, per-sample seeds and the per-query bookkeeping."""

from __future__ import annotations

import math
import random

import pytest

from r3.mining.schedule import QueryState, RoundSchedule, expected_samples, sample_seed
from r3.types import Completion


def test_default_rounds_grow_1_1_2_4_and_end_at_the_budget():
    schedule = RoundSchedule(max_samples=64)
    sizes, drawn = [], 0
    while size := schedule.next_round(drawn):
        sizes.append(size)
        drawn += size
    assert sizes == [1, 1, 2, 4, 8, 16, 32]
    assert schedule.boundaries() == [1, 2, 4, 8, 16, 32, 64]


def test_last_round_is_capped_by_the_remaining_budget():
    assert RoundSchedule(max_samples=10).boundaries() == [1, 2, 4, 8, 10]
    assert RoundSchedule(max_samples=1).boundaries() == [1]
    assert RoundSchedule(max_samples=64, growth=4.0).boundaries() == [1, 4, 16, 64]


def test_fixed_schedule_is_one_round_of_the_whole_budget():
    assert RoundSchedule.fixed(64).boundaries() == [64]


@pytest.mark.parametrize("bad", [{"max_samples": 0}, {"first": 0}, {"growth": 1.0}])
def test_invalid_schedules_are_rejected(bad):
    with pytest.raises(ValueError):
        RoundSchedule(**bad)


@pytest.mark.parametrize("needed, drawn", [(1, 1), (2, 2), (3, 4), (5, 8), (33, 64), (64, 64), (100, 64)])
def test_samples_until_is_the_first_round_end_at_or_after_the_needed_sample(needed, drawn):
    assert RoundSchedule(max_samples=64).samples_until(needed) == drawn


def _exact_expectation(p: float, schedule: RoundSchedule, keep: int) -> float:
    """Sum over the index n of the keep-th failure (negative binomial), plus the never-enough case."""
    budget = schedule.max_samples
    total, covered = 0.0, 0.0
    for n in range(keep, budget + 1):
        probability = math.comb(n - 1, keep - 1) * p**keep * (1 - p) ** (n - keep)
        total += probability * schedule.samples_until(n)
        covered += probability
    return total + (1 - covered) * budget


@pytest.mark.parametrize("p", [0.0, 0.01, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("keep", [1, 2, 5])
def test_expected_samples_matches_the_negative_binomial_sum(p, keep):
    schedule = RoundSchedule(max_samples=64)
    assert expected_samples(p, schedule, keep) == pytest.approx(_exact_expectation(p, schedule, keep))


def test_expected_samples_at_the_extremes():
    schedule = RoundSchedule(max_samples=64)
    assert expected_samples(1.0, schedule) == 1  # fails at once
    assert expected_samples(0.0, schedule) == 64  # never fails: the whole budget
    assert expected_samples(0.3, RoundSchedule.fixed(64)) == 64


def test_sample_seeds_are_stable_distinct_and_fit_int64():
    seeds = {sample_seed(0, f"q{q}", i) for q in range(50) for i in range(64)}
    assert len(seeds) == 50 * 64
    assert all(0 <= seed < 2**63 for seed in seeds)
    assert sample_seed(0, "q1", 3) == sample_seed(0, "q1", 3)
    assert sample_seed(1, "q1", 3) != sample_seed(0, "q1", 3)


def test_query_state_keeps_the_first_failures_in_sample_order():
    state = QueryState(index=0, problem_id="p", example={}, prompt=[])
    outcomes = [True, False, True, False, False, False]
    for i, correct in enumerate(outcomes):
        state.record(Completion(f"s{i}", num_tokens=i + 1), correct, "ok" if correct else f"wrong {i}", keep=2)
    assert state.drawn == 6 and state.tokens == sum(range(1, 7))
    assert state.failures_seen == 4 and state.first_failure_at == 2
    assert [f["text"] for f in state.failed] == ["s1", "s3"]
    assert state.failed[0] == {"text": "s1", "reason": "wrong 1", "num_tokens": 2}
    assert state.done(RoundSchedule(max_samples=64), keep=2)
    assert not state.done(RoundSchedule(max_samples=64), keep=5)


def test_expected_samples_agrees_with_simulating_the_schedule():
    """A direct simulation of the stopping rule (independent of the closed form) lands on the expectation."""
    rng, schedule, p = random.Random(7), RoundSchedule(max_samples=64), 0.1
    runs = 20_000
    total = 0
    for _ in range(runs):
        first = next((i for i in range(1, 65) if rng.random() < p), 65)
        total += schedule.samples_until(first)
    mean = total / runs
    assert mean == pytest.approx(expected_samples(p, schedule), rel=0.03)
