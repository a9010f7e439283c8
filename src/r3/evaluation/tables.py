"""Tables of an evaluation's summary, as `rich` tables the CLI prints (library code builds, the CLI prints).

`METRIC_NAMES` gives every metric its one name: `r3 eval`, `r3 compare`, the demo report and the docs use these.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

# summary.json key -> the metric's name wherever r3 shows it
METRIC_NAMES = {
    "n_problems": "problems",
    "first_attempt": "first attempt",
    "within_two": "within two attempts",
    "within_attempts": "within {k} attempts",
    "reflection_success_rate": "failures fixed after reflecting",
    "mean_reflection_tokens": "reflection length (tokens)",
    "mean_attempt_tokens": "attempt length (tokens)",
    "truncated_attempts": "truncated attempts",
    "truncated_reflections": "truncated reflections",
    "verifier_errors": "verifier errors",
}
ACCURACIES = ("first_attempt", "within_two", "reflection_success_rate")
LENGTHS = ("mean_reflection_tokens", "mean_attempt_tokens")
TRUNCATIONS = ("truncated_attempts", "truncated_reflections")  # absent from summaries written before r3 0.2


def percent(p: dict[str, Any]) -> str:
    """'41.2% [36.1, 46.5] (103/250)' for a Proportion dict."""
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}] ({p['correct']}/{p['n']})"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def proportions(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, Proportion dict) of every share a summary holds, in reading order."""
    rows = [(METRIC_NAMES["first_attempt"], summary["first_attempt"]),
            (METRIC_NAMES["within_two"], summary["within_two"])]
    k = summary["max_attempts"]
    if k > 2:
        rows.append((METRIC_NAMES["within_attempts"].format(k=k), summary["within_attempts"][str(k)]))
    rows.append((METRIC_NAMES["reflection_success_rate"], summary["reflection_success_rate"]))
    rows += [(METRIC_NAMES[key], summary[key]) for key in TRUNCATIONS if key in summary]
    return rows


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value) rows of one summary, in reading order."""
    rows = [(METRIC_NAMES["n_problems"], str(summary["n_problems"]))]
    rows += [(name, percent(p)) for name, p in proportions(summary)]
    rows += [(METRIC_NAMES[key], number(summary[key])) for key in LENGTHS]
    if summary.get("verifier_errors"):  # shown only when the verifier failed: then it matters
        rows.append((METRIC_NAMES["verifier_errors"], str(summary["verifier_errors"])))
    return rows


def summary_table(record: dict[str, Any]) -> Table:
    """The table `r3 eval` prints for a finished run's summary record (under 80 columns)."""
    title = f"{record['task']} | {record['model']} | {record['summary']['max_attempts']} attempts"
    table = Table(title=title, caption="95% Wilson intervals; truncated = stopped at the token budget",
                  box=box.SIMPLE_HEAD)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in summary_rows(record["summary"]):
        table.add_row(metric, value)
    return table
