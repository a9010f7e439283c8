"""Tables of an evaluation's summary, as `rich` tables the CLI prints (library code builds, the CLI prints)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def percent(p: dict[str, Any]) -> str:
    """'41.2% [36.1, 46.5] (103/250)' for a Proportion dict."""
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}] ({p['correct']}/{p['n']})"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, value) rows of one summary, in reading order."""
    rows = [
        ("problems", str(summary["n_problems"])),
        ("accuracy, first attempt", percent(summary["first_attempt"])),
        ("accuracy within two attempts", percent(summary["within_two"])),
    ]
    k = summary["max_attempts"]
    if k > 2:
        rows.append((f"accuracy within {k} attempts", percent(summary["within_attempts"][str(k)])))
    rows += [
        ("failures fixed by reflection", f"{summary['reflection_successes']} of {summary['first_attempt_failures']}"),
        ("mean reflection length (tokens)", number(summary["mean_reflection_tokens"])),
        ("mean attempt length (tokens)", number(summary["mean_attempt_tokens"])),
    ]
    return rows


def summary_table(record: dict[str, Any]) -> Table:
    """The table `r3 eval` prints for a finished run's summary record."""
    title = f"{record['task']} | {record['model']} | {record['summary']['max_attempts']} attempts"
    table = Table(title=title, caption="accuracies with 95% Wilson intervals")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in summary_rows(record["summary"]):
        table.add_row(metric, value)
    return table
