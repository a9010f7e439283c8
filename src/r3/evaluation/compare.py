"""`r3 compare DIR_A DIR_B` (and `r3 eval --compare`): two finished evaluations, with the difference B - A.

    r3 compare runs/eval-base runs/eval-trained

Each share (accuracies, failures fixed after reflecting, truncation) gets its difference in percentage points and
the difference's 95% interval (`r3.evaluation.stats.difference_interval`, Newcombe's method: conservative when both
runs used the same problems). An interval that excludes 0 is a difference chance is unlikely to explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from r3.evaluation.stats import difference_interval
from r3.evaluation.store import read_run
from r3.evaluation.tables import LENGTHS, METRIC_NAMES, number, proportions

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


def compare_runs(dir_a: str | Path, dir_b: str | Path) -> Comparison:
    """Compare the summaries of two finished runs."""
    a, b = read_run(dir_a), read_run(dir_b)
    sa, sb = a["summary"], b["summary"]
    rows = [ComparisonRow(METRIC_NAMES["n_problems"], str(sa["n_problems"]), str(sb["n_problems"]),
                          f"{sb['n_problems'] - sa['n_problems']:+d}", "")]
    shares_b = dict(proportions(sb))
    for name, pa in proportions(sa):
        if name in shares_b:
            rows.append(share_row(name, pa, shares_b[name]))
    for key in LENGTHS:
        rows.append(ComparisonRow(METRIC_NAMES[key], number(sa[key]), number(sb[key]), _difference(sa[key], sb[key]),
                                  ""))
    settings_a, settings_b = a.get("settings", {}), b.get("settings", {})
    differing = [k for k in _COMPARABLE if settings_a.get(k) != settings_b.get(k)]
    return Comparison(a, b, rows, differing)


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
                          "shares in %, differences in points with their 95% interval (* excludes 0)")
    for column, justify in (("metric", "left"), ("A", "right"), ("B", "right"), ("B - A", "right"),
                            ("95% interval", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    for row in comparison.rows:
        table.add_row(row.metric, row.a, row.b, row.difference, row.interval + (" *" if row.excludes_zero else ""))
    return table
