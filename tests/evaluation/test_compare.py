"""`r3 compare`: each share's difference with its 95% interval, in a table that fits 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from r3.evaluation.compare import compare_runs, comparison_table, share_row
from r3.evaluation.stats import difference_interval, proportion


def _summary(first: int, two: int, n: int, truncated: int) -> dict:
    return {"n_problems": n, "max_attempts": 2, "first_attempt": proportion(first, n).to_dict(),
            "within_two": proportion(two, n).to_dict(), "within_attempts": {},
            "reflection_success_rate": proportion(two - first, n - first).to_dict(),
            "mean_reflection_tokens": 20.5, "mean_attempt_tokens": 30.0,
            "truncated_attempts": proportion(truncated, n + n - first).to_dict(),
            "truncated_reflections": proportion(truncated, n - first).to_dict()}


def _run(path: Path, summary: dict, model: str, **settings) -> Path:
    path.mkdir(parents=True)
    record = {"task": "countdown", "model": model, "summary": summary,
              "settings": {"task": "countdown", "limit": 500, **settings}}
    (path / "summary.json").write_text(json.dumps(record))
    return path


def test_readme_demo_numbers_give_the_published_difference_interval() -> None:
    # README: within two attempts 18.8% -> 30.6% on 500 puzzles: +11.8 points (+6.5 to +17.0)
    d, low, high = difference_interval(proportion(94, 500).to_dict(), proportion(153, 500).to_dict())
    assert (round(100 * d, 1), round(100 * low, 1), round(100 * high, 1)) == (11.8, 6.5, 17.0)


def test_share_row_marks_an_interval_that_excludes_zero() -> None:
    row = share_row("within two attempts", proportion(94, 500).to_dict(), proportion(153, 500).to_dict())
    assert (row.a, row.b, row.difference, row.interval, row.excludes_zero) == (
        "18.8%", "30.6%", "+11.8", "[+6.5, +17.0]", True)
    same = share_row("x", proportion(5, 10).to_dict(), proportion(6, 10).to_dict())
    assert same.excludes_zero is False and same.interval.startswith("[-")


def test_comparison_fits_80_columns_with_long_run_names_and_reports_truncation(tmp_path: Path) -> None:
    a = _run(tmp_path / ("before-" + "x" * 60), _summary(52, 94, 500, 31), "org/base-model")
    b = _run(tmp_path / ("after-" + "y" * 60), _summary(75, 153, 500, 2), "runs/train", limit=400)
    comparison = compare_runs(a, b)
    rows = {row.metric: row for row in comparison.rows}
    assert rows["truncated reflections"].a == f"{100 * 31 / 448:.1f}%"
    assert rows["within two attempts"].interval == "[+6.5, +17.0]"
    assert rows["reflection length (tokens)"].difference == "+0.0"
    assert comparison.differing_settings == ["limit"]
    console = Console(width=80, record=True)
    console.print(comparison_table(comparison, str(a), str(b)))
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    table_rows = [line for line in lines if line.strip().startswith(("first attempt", "within two", "failures"))]
    assert len(table_rows) == 3 and all("%" in line and "[" in line for line in table_rows)  # no wrapped cells


def test_runs_from_before_truncation_was_recorded_still_compare(tmp_path: Path) -> None:
    old = _summary(5, 7, 10, 0)
    del old["truncated_attempts"], old["truncated_reflections"]
    a = _run(tmp_path / "a", old, "m")
    b = _run(tmp_path / "b", _summary(6, 8, 10, 1), "m")
    metrics = [row.metric for row in compare_runs(a, b).rows]
    assert "truncated reflections" not in metrics and "within two attempts" in metrics
