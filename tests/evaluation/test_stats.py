"""Wilson intervals against published values, and episode summaries on hand-built episodes."""

from __future__ import annotations

import pytest

from r3.evaluation.stats import difference_interval, intervals_overlap, proportion, summarize, wilson_interval
from r3.types import Attempt, Completion, Episode, Verdict

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson score).
NEWCOMBE = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
    ((29, 29), (0.8830, 1.0)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE)
def test_wilson_matches_published_values(counts, expected):
    low, high = wilson_interval(*counts)
    assert low == pytest.approx(expected[0], abs=5e-5)
    assert high == pytest.approx(expected[1], abs=5e-5)


def test_wilson_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric around one half
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_an_interval_at_0_or_1_has_that_bound_exactly():
    """Rounding left 6.9e-18 where the bound is 0 (the README's Python snippet printed it)."""
    for n in range(1, 200):
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0
    assert proportion(0, 50).to_dict()["low"] == 0.0


def test_overlap():
    assert intervals_overlap(proportion(5, 10).to_dict(), proportion(6, 10).to_dict())
    assert not intervals_overlap(proportion(5, 100).to_dict(), proportion(90, 100).to_dict())


def _episode(index: int, outcomes: list[bool], attempt_tokens: int = 10, reflection_tokens: int = 4) -> Episode:
    attempts = tuple(Attempt("t", attempt_tokens, Verdict(ok, "r")) for ok in outcomes)
    reflections = tuple(Completion("why", reflection_tokens) for _ in outcomes[1:])
    return Episode(index, str(index), {}, ({"role": "user", "content": "q"},), attempts, reflections)


def test_summary_counts_first_attempt_successes_within_two():
    episodes = [
        _episode(0, [True]),
        _episode(1, [False, True], reflection_tokens=6),
        _episode(2, [False, False, True], reflection_tokens=2),
        _episode(3, [False, False, False]),
    ]
    s = summarize(episodes, max_attempts=3)
    assert s["n_problems"] == 4
    assert s["first_attempt"]["correct"] == 1
    assert s["within_two"]["correct"] == 2
    assert s["within_attempts"]["3"]["correct"] == 3
    assert s["first_attempt_failures"] == 3
    assert s["reflection_successes"] == 2
    assert s["reflection_success_rate"]["n"] == 3
    assert s["solved_at"] == {"1": 1, "2": 1, "3": 1, "unsolved": 1}
    assert s["n_reflections"] == 1 + 2 + 2
    assert s["mean_reflection_tokens"] == pytest.approx((6 + 2 * 2 + 4 * 2) / 5)
    assert s["mean_attempt_tokens"] == 10
    assert s["first_attempt"]["low"] == pytest.approx(wilson_interval(1, 4)[0])


def test_summary_of_all_solved_has_no_reflection_mean():
    s = summarize([_episode(0, [True]), _episode(1, [True])], max_attempts=2)
    assert s["mean_reflection_tokens"] is None
    assert s["reflection_successes"] == 0
    assert s["within_two"]["accuracy"] == 1.0


def test_summary_counts_attempts_and_reflections_that_hit_their_token_budget():
    cut = Episode(0, "0", {}, ({"role": "user", "content": "q"},),
                  (Attempt("t" * 9, 32, Verdict(False, "r")), Attempt("t", 3, Verdict(False, "r"))),
                  (Completion("why" * 9, 16, finish_reason="length"),),
                  extra={"attempt_finish_reasons": ["length", "stop"]})
    s = summarize([cut, _episode(1, [False, True])], max_attempts=2)
    assert (s["truncated_reflections"]["correct"], s["truncated_reflections"]["n"]) == (1, 2)
    assert (s["truncated_attempts"]["correct"], s["truncated_attempts"]["n"]) == (1, 2)  # episode 1 has no reasons
    assert summarize([_episode(0, [True])], 2)["truncated_reflections"]["n"] == 0


def test_difference_interval_is_newcombes_and_contains_the_difference():
    a, b = proportion(94, 500).to_dict(), proportion(153, 500).to_dict()
    d, low, high = difference_interval(a, b)
    assert low < d < high and d == pytest.approx(0.118)
    d2, low2, high2 = difference_interval(b, a)
    assert (d2, low2, high2) == pytest.approx((-d, -high, -low))


def test_verifier_errors_are_counted_and_shown_only_when_there_are_some():
    from r3.evaluation.tables import summary_rows

    broken = Episode(0, "0", {}, ({"role": "user", "content": "q"},),
                     (Attempt("t", 3, Verdict(False, "verifier error: ValueError: x", error=True)),
                      Attempt("t", 3, Verdict(True, "ok"))), (Completion("why", 2),))
    summary = summarize([broken, _episode(1, [True])], max_attempts=2)
    assert summary["verifier_errors"] == 1
    assert ("verifier errors", "1") in summary_rows(summary)
    clean = summarize([_episode(1, [True])], max_attempts=2)
    assert clean["verifier_errors"] == 0 and all(name != "verifier errors" for name, _ in summary_rows(clean))
