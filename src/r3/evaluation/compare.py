"""`r3 compare DIR_A DIR_B` (and `r3 eval --compare`): two finished evaluations, with the difference B - A.

    r3 compare runs/eval-base runs/eval-trained

Each share (accuracies, failures fixed after reflecting, truncation) gets its difference in percentage points and
the difference's 95% interval. When both runs evaluated the same problems (their episodes.jsonl hold the same problem
ids with the same examples), the accuracies are paired, problem by problem, and get the paired interval
(`r3.stats.paired_difference_interval`): the independent one (`difference_interval`) would be too wide. The other
shares (of failures, of attempts) keep the independent interval. An interval that excludes 0 is a difference chance
is unlikely to explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from r3.evaluation.stats import difference_interval
from r3.evaluation.store import EPISODES_FILE, read_episodes, read_run
from r3.evaluation.tables import LENGTHS, METRIC_NAMES, number, proportions
from r3.stats import paired_difference_interval
from r3.types import Episode

# settings worth a warning when they differ between the two runs (the model is expected to)
_COMPARABLE = ("task", "data", "split", "limit", "attempts", "temperature", "top_p", "top_k",
               "attempt_max_new_tokens", "reflection_max_new_tokens", "seed", "reflection_instruction",
               "retry_instruction")


@dataclass(frozen=True)
class ComparisonRow:
    """One metric: A, B, B - A and (for shares) the difference's 95% interval, all as display strings."""

    metric: str
    a: str
    b: str
    difference: str
    interval: str  # "[+1.5, +12.5]" in points for shares, "" otherwise
    excludes_zero: bool | None = None  # shares: whether the interval excludes 0


@dataclass(frozen=True)
class Comparison:
    a: dict[str, Any]
    b: dict[str, Any]
    rows: list[ComparisonRow]
    differing_settings: list[str]
    paired: int = 0  # the number of problems both runs evaluated, when the accuracies were paired (else 0)


def compare_runs(dir_a: str | Path, dir_b: str | Path, *,
                 episodes: tuple[list[Episode] | None, list[Episode] | None] | None = None) -> Comparison:
    """Compare the summaries of two finished runs. `episodes`: both runs' episodes when the caller has read them
    already (else they are read from the runs, to pair the problems)."""
    a, b = read_run(dir_a, complete=True), read_run(dir_b, complete=True)
    sa, sb = a["summary"], b["summary"]
    rows = [ComparisonRow(METRIC_NAMES["n_problems"], str(sa["n_problems"]), str(sb["n_problems"]),
                          f"{sb['n_problems'] - sa['n_problems']:+d}", "")]
    pairs = pair_episodes(*(episodes or (_episodes(dir_a), _episodes(dir_b))))
    within = _within(sa["max_attempts"]) if pairs and sa["max_attempts"] == sb["max_attempts"] else {}
    shares_b = dict(proportions(sb))
    for name, pa in proportions(sa):
        if name in within:
            rows.append(paired_share_row(name, pa, shares_b[name], pairs, within[name]))
        elif name in shares_b:
            rows.append(share_row(name, pa, shares_b[name]))
    for key in LENGTHS:
        rows.append(ComparisonRow(METRIC_NAMES[key], number(sa[key]), number(sb[key]), _difference(sa[key], sb[key]),
                                  ""))
    settings_a, settings_b = a.get("settings", {}), b.get("settings", {})
    differing = [k for k in _COMPARABLE if settings_a.get(k) != settings_b.get(k)]
    return Comparison(a, b, rows, differing, len(pairs or []) if within else 0)


def _within(max_attempts: int) -> dict[str, int]:
    """The per-problem accuracies of a summary (its metric name -> attempts allowed): the shares that pair."""
    names = {METRIC_NAMES["first_attempt"]: 1, METRIC_NAMES["within_two"]: 2}
    names[METRIC_NAMES["within_attempts"].format(k=max_attempts)] = max_attempts
    return names


def _episodes(out: str | Path) -> list[Episode] | None:
    path = Path(out) / EPISODES_FILE
    return read_episodes(path) if path.is_file() else None


def pair_episodes(a: list[Episode] | None, b: list[Episode] | None) -> list[tuple[Episode, Episode]] | None:
    """Each problem's episode in A and in B, in A's order, when both runs evaluated the same problems (the same
    problem ids, each once, with the same example); None otherwise (then the runs cannot be paired)."""
    if not a or not b or len(a) != len(b):
        return None
    by_id = {episode.problem_id: episode for episode in b}
    if len(by_id) != len(b) or len({episode.problem_id for episode in a}) != len(a):
        return None
    pairs = [(episode, by_id.get(episode.problem_id)) for episode in a]
    if any(other is None or other.example != episode.example for episode, other in pairs):
        return None
    return pairs


def paired_counts(pairs: list[tuple[Episode, Episode]], k: int) -> tuple[int, int, int, int]:
    """(both, only A, only B, neither) solved within `k` attempts, counted over the pairs."""
    solved = [(ea.solved_within(k), eb.solved_within(k)) for ea, eb in pairs]
    return (sum(x and y for x, y in solved), sum(x and not y for x, y in solved),
            sum(y and not x for x, y in solved), sum(not x and not y for x, y in solved))


def paired_share_row(metric: str, pa: dict[str, Any], pb: dict[str, Any], pairs: list[tuple[Episode, Episode]],
                     k: int) -> ComparisonRow:
    """An accuracy's row when both runs solved the same problems: the paired difference and its 95% interval."""
    d, low, high = paired_difference_interval(*paired_counts(pairs, k))
    return ComparisonRow(metric, f"{100 * pa['accuracy']:.1f}%", f"{100 * pb['accuracy']:.1f}%", f"{100 * d:+.1f}",
                         f"[{100 * low:+.1f}, {100 * high:+.1f}]", low > 0 or high < 0)


def share_row(metric: str, pa: dict[str, Any], pb: dict[str, Any]) -> ComparisonRow:
    """A share's row: both values in %, the difference and its 95% interval in percentage points."""
    d, low, high = difference_interval(pa, pb)
    return ComparisonRow(metric, f"{100 * pa['accuracy']:.1f}%", f"{100 * pb['accuracy']:.1f}%", f"{100 * d:+.1f}",
                         f"[{100 * low:+.1f}, {100 * high:+.1f}]", low > 0 or high < 0)


def _difference(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.1f}"


def comparison_table(comparison: Comparison, name_a: str = "A", name_b: str = "B") -> Table:
    """The table `r3 compare` prints: under 80 columns whatever the run names (they go in the caption)."""
    table = Table(title=f"{comparison.a['task']}: B - A", box=box.SIMPLE_HEAD,
                  caption=f"A = {name_a} ({comparison.a['model']})\nB = {name_b} ({comparison.b['model']})\n"
                          "shares in %, differences in points with their 95% interval (* excludes 0)"
                          + (f"\naccuracies paired over the {comparison.paired} problems both runs evaluated"
                             if comparison.paired else ""))
    for column, justify in (("metric", "left"), ("A", "right"), ("B", "right"), ("B - A", "right"),
                            ("95% interval", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    for row in comparison.rows:
        table.add_row(row.metric, row.a, row.b, row.difference, row.interval + (" *" if row.excludes_zero else ""))
    return table
