"""`r3 compare`: each share's difference with its 95% interval, in a table that fits 80 columns."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from rich.console import Console

from r3.evaluation.compare import compare_runs, comparison_table, share_row
from r3.evaluation.stats import difference_interval, proportion
from r3.stats import paired_difference_interval
from r3.types import Attempt, Completion, Episode, Verdict


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


def test_paired_interval_equals_the_independent_one_when_pairs_are_uncorrelated() -> None:
    # 25 problems in each cell: phi = 0, so the paired interval is Newcombe's independent one on the same counts
    paired = paired_difference_interval(25, 25, 25, 25)
    independent = difference_interval(proportion(50, 100).to_dict(), proportion(50, 100).to_dict())
    assert paired == pytest.approx(independent)


def test_paired_interval_is_narrower_when_the_runs_agree_and_keeps_its_coverage() -> None:
    # 200 problems, 80 solved by both, 90 by neither, 4 only before, 26 only after: +11 points
    d, low, high = paired_difference_interval(80, 4, 26, 90)
    _, ilow, ihigh = difference_interval(proportion(84, 200).to_dict(), proportion(106, 200).to_dict())
    assert d == pytest.approx(0.11) and ilow < low < d < high < ihigh
    rng, covered, trials = random.Random(0), 0, 2000
    for _ in range(trials):  # correlated pairs: true accuracies 0.3 and 0.4, so the true difference is 0.1
        cells = [0, 0, 0, 0]
        for _ in range(60):
            u = rng.random()
            a, b = u < 0.3, (u < 0.4) if rng.random() < 0.7 else rng.random() < 0.4
            cells[0 if a and b else 1 if a else 2 if b else 3] += 1
        _, low, high = paired_difference_interval(*cells)
        covered += low <= 0.1 <= high
    assert 0.93 <= covered / trials <= 0.98


def _episodes_file(path: Path, solved: list[tuple[bool, bool]]) -> None:
    lines = []
    for index, (first, second) in enumerate(solved):
        verdicts = [first] if first else [False, second]
        episode = Episode(index, f"p{index}", {"q": index}, ({"role": "user", "content": f"q{index}"},),
                          tuple(Attempt("x", 1, Verdict(ok, "r")) for ok in verdicts),
                          tuple(Completion("why", 2) for _ in verdicts[1:]))
        lines.append(json.dumps(episode.to_dict()))
    (path / "episodes.jsonl").write_text("\n".join(lines) + "\n")


def test_runs_of_the_same_problems_get_paired_intervals(tmp_path: Path) -> None:
    # before: 10 of 40 within two; after: the same 10 and 8 more (none broken)
    a = _run(tmp_path / "a", _summary(4, 10, 40, 0), "m")
    b = _run(tmp_path / "b", _summary(4, 18, 40, 0), "m")
    _episodes_file(a, [(i < 4, i < 10) for i in range(40)])
    _episodes_file(b, [(i < 4, i < 18) for i in range(40)])
    comparison = compare_runs(a, b)
    rows = {row.metric: row for row in comparison.rows}
    _, low, high = paired_difference_interval(10, 0, 8, 22)
    assert comparison.paired == 40
    assert rows["within two attempts"].interval == f"[{100 * low:+.1f}, {100 * high:+.1f}]"
    assert rows["within two attempts"].excludes_zero is True  # the independent interval includes 0 here
    assert difference_interval(proportion(10, 40).to_dict(), proportion(18, 40).to_dict())[1] < 0
    console = Console(width=80, record=True)
    console.print(comparison_table(comparison))
    assert "paired over the 40 problems" in console.export_text()
    _episodes_file(b, [(i < 4, i < 18) for i in range(39)])  # a problem missing: not the same problems
    assert compare_runs(a, b).paired == 0
