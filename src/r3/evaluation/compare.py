"""`r3 eval --compare DIR_A DIR_B`: two finished evaluations side by side, with the difference B - A.

    r3 eval --compare runs/eval-base runs/eval-trained

Accuracy differences are in percentage points, with whether the two 95% intervals overlap (non-overlap is a
conservative sign that the difference is not chance; overlap alone does not prove there is none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from r3.evaluation.run import read_run
from r3.evaluation.stats import intervals_overlap
from r3.evaluation.tables import number, percent

# settings worth a warning when they differ between the two runs (the model is expected to)
_COMPARABLE = ("task", "data", "split", "limit", "attempts", "temperature", "top_p", "max_new_tokens",
               "reflection_max_new_tokens", "seed", "reflection_instruction", "retry_instruction")


@dataclass(frozen=True)
class ComparisonRow:
    metric: str
    a: str
    b: str
    difference: str
    overlap: str  # "yes" / "no" for accuracies, "" otherwise


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
    rows = [ComparisonRow("problems", str(sa["n_problems"]), str(sb["n_problems"]),
                          f"{sb['n_problems'] - sa['n_problems']:+d}", "")]
    rows.append(_accuracy_row("accuracy, first attempt", sa["first_attempt"], sb["first_attempt"]))
    rows.append(_accuracy_row("accuracy within two attempts", sa["within_two"], sb["within_two"]))
    k = min(sa["max_attempts"], sb["max_attempts"])
    if k > 2:
        rows.append(_accuracy_row(f"accuracy within {k} attempts", sa["within_attempts"][str(k)],
                                  sb["within_attempts"][str(k)]))
    rows.append(_accuracy_row("share of failures fixed by reflection", sa["reflection_success_rate"],
                              sb["reflection_success_rate"]))
    for key, label in (("mean_reflection_tokens", "mean reflection length (tokens)"),
                       ("mean_attempt_tokens", "mean attempt length (tokens)")):
        rows.append(ComparisonRow(label, number(sa[key]), number(sb[key]), _difference(sa[key], sb[key]), ""))
    differing = [k for k in _COMPARABLE if a["settings"].get(k) != b["settings"].get(k)]
    return Comparison(a, b, rows, differing)


def _accuracy_row(metric: str, pa: dict[str, Any], pb: dict[str, Any]) -> ComparisonRow:
    points = 100 * (pb["accuracy"] - pa["accuracy"])
    return ComparisonRow(metric, percent(pa), percent(pb), f"{points:+.1f} pts",
                         "yes" if intervals_overlap(pa, pb) else "no")


def _difference(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.1f}"


def comparison_table(comparison: Comparison, name_a: str = "A", name_b: str = "B") -> Table:
    table = Table(title=f"{comparison.a['task']}: A = {comparison.a['model']}  vs  B = {comparison.b['model']}",
                  caption="accuracies with 95% Wilson intervals; difference = B - A")
    for column, justify in ((("metric"), "left"), (name_a, "right"), (name_b, "right"),
                            ("B - A", "right"), ("CIs overlap", "center")):
        table.add_column(column, justify=justify)
    for row in comparison.rows:
        table.add_row(row.metric, row.a, row.b, row.difference, row.overlap)
    return table
