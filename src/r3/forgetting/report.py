"""The forgetting table and chart: one row per benchmark, base against trained, with standard errors.

The standard error of the difference is *paired* when both models were scored on the same documents (the usual
case: same benchmark, same limit): the standard error of the mean per-document difference, which is much smaller
than the unpaired figure because both models find the same questions hard. When the per-document scores do not
reproduce the harness's number (a group averaged without weighting by size, a non-mean metric), it falls back to
sqrt(se_base^2 + se_trained^2), and the table says which one it used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from r3.errors import R3Error


@dataclass(frozen=True)
class Row:
    """One benchmark's comparison. Values are the harness's own numbers; difference = trained - base."""

    benchmark: str
    metric: str
    n: int | None
    base: float
    base_stderr: float | None
    trained: float
    trained_stderr: float | None
    difference: float
    difference_stderr: float | None
    stderr_method: str | None  # "paired", "independent", or None when a standard error is missing


@dataclass(frozen=True)
class Failure:
    """A benchmark that could not run for one model, with the one-line reason."""

    benchmark: str
    model: str
    message: str


def metric_key(results: dict[str, Any], benchmark: str, wanted: str | None) -> str:
    """The "metric,filter" key to report for `benchmark`: the requested one, or the harness's first metric."""
    scores = _scores(results, benchmark)
    keys = [key for key in scores if "," in key and "_stderr," not in key]
    if wanted is None:
        if not keys:
            raise R3Error(f"{benchmark}: the harness reported no metric (results: {sorted(scores)})")
        return keys[0]
    key = wanted if "," in wanted else f"{wanted},none"
    if key not in scores:
        raise R3Error(f"{benchmark}: no metric {key!r} in the harness's results; it reported: {', '.join(keys)}")
    return key


def _scores(results: dict[str, Any], benchmark: str) -> dict[str, Any]:
    """The harness's score dict for a benchmark (a group's aggregate lives under its own name too)."""
    for section in ("results", "groups"):
        scores = (results.get(section) or {}).get(_task_name(results, benchmark))
        if scores:
            return scores
    raise R3Error(f"{benchmark}: not found in the harness's results (it has: {sorted(results.get('results', {}))})")


def _task_name(results: dict[str, Any], benchmark: str) -> str:
    """A benchmark given as a YAML path is reported under the task name inside the file."""
    if benchmark.endswith((".yaml", ".yml")):
        names = list(results.get("results", {}))
        return names[0] if len(names) == 1 else benchmark
    return benchmark


def metric_value(results: dict[str, Any], benchmark: str, key: str) -> tuple[float, float | None]:
    """(value, standard error) of `key`; the harness writes "N/A" where it has no standard error."""
    scores = _scores(results, benchmark)
    metric, _, filter_name = key.partition(",")
    stderr = scores.get(f"{metric}_stderr,{filter_name}")
    stderr = float(stderr) if isinstance(stderr, (int, float)) and math.isfinite(stderr) else None
    return float(scores[key]), stderr


def sample_count(results: dict[str, Any]) -> int | None:
    """Documents scored: the sum of the harness's effective sample counts over the benchmark's tasks."""
    counts = [entry.get("effective") for entry in (results.get("n-samples") or {}).values()]
    return sum(counts) if counts and all(isinstance(c, int) for c in counts) else None


def _per_document(items: Sequence[dict[str, Any]], key: str) -> dict[tuple[str, Any], float]:
    metric, _, filter_name = key.partition(",")
    scores = {}
    for item in items:
        value = item.get(metric)
        if item.get("filter", "none") == filter_name and isinstance(value, (int, float)):  # bools count as 0/1
            scores[(item["task"], item["doc_id"])] = float(value)
    return scores


def paired_stderr(
    base_items: Sequence[dict[str, Any]], trained_items: Sequence[dict[str, Any]], key: str, base: float, trained: float
) -> float | None:
    """Standard error of the mean per-document difference, or None when the items do not support a paired figure.

    Paired only if both models scored the same documents and the per-document means reproduce the harness's
    numbers (so the figure is the standard error of the very difference the table shows).
    """
    base_scores, trained_scores = _per_document(base_items, key), _per_document(trained_items, key)
    if len(base_scores) < 2 or base_scores.keys() != trained_scores.keys():
        return None
    n = len(base_scores)
    if abs(sum(base_scores.values()) / n - base) > 1e-9 or abs(sum(trained_scores.values()) / n - trained) > 1e-9:
        return None
    diffs = [trained_scores[doc] - base_scores[doc] for doc in base_scores]
    mean = sum(diffs) / n
    return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n)


def build_row(
    benchmark: str,
    wanted_metric: str | None,
    base: dict[str, Any],
    trained: dict[str, Any],
    base_items: Sequence[dict[str, Any]],
    trained_items: Sequence[dict[str, Any]],
) -> Row:
    """Compare one benchmark's harness results for the two models."""
    key = metric_key(base, benchmark, wanted_metric)
    base_value, base_se = metric_value(base, benchmark, key)
    trained_value, trained_se = metric_value(trained, benchmark, key)
    diff_se, method = paired_stderr(base_items, trained_items, key, base_value, trained_value), "paired"
    if diff_se is None and base_se is not None and trained_se is not None:
        diff_se, method = math.hypot(base_se, trained_se), "independent"
    elif diff_se is None:
        method = None
    return Row(
        benchmark=benchmark,
        metric=key,
        n=sample_count(base),
        base=base_value,
        base_stderr=base_se,
        trained=trained_value,
        trained_stderr=trained_se,
        difference=trained_value - base_value,
        difference_stderr=diff_se,
        stderr_method=method,
    )


def _pm(value: float, stderr: float | None, signed: bool = False) -> str:
    text = f"{value:+.4f}" if signed else f"{value:.4f}"
    return f"{text} ± {stderr:.4f}" if stderr is not None else text


def format_table(rows: Sequence[Row], failures: Sequence[Failure] = ()) -> str:
    """A Markdown table (value ± one standard error); failures are listed under it."""
    lines = [
        "| benchmark | metric | n | base | trained | trained - base | stderr of difference |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.benchmark} | {row.metric} | {row.n if row.n is not None else '-'} | "
            f"{_pm(row.base, row.base_stderr)} | {_pm(row.trained, row.trained_stderr)} | "
            f"{_pm(row.difference, row.difference_stderr, signed=True)} | {row.stderr_method or '-'} |"
        )
    if failures:
        lines.append("")
        lines.extend(f"FAILED ({failure.model}) {failure.message}" for failure in failures)
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Row], path: Path, labels: tuple[str, str] = ("base", "trained"),
         title: str | None = None) -> None:
    """Grouped bars, base and trained per benchmark, with 95% intervals (1.96 standard errors) as error bars.

    Scores in [0, 1] are drawn on an axis from 0 (never below), and every bar carries its value, so a score of 0 is
    a visible "0.000" rather than a missing bar. `title` should name the models compared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 1.8 * len(rows) + 1.5), 4.0))
    xs = range(len(rows))
    width = 0.38
    # accuracies live in [0, 1]: clip the normal-approximation interval there rather than draw it below zero
    bounded = all(0.0 <= value <= 1.0 for row in rows for value in (row.base, row.trained))
    low, high = (0.0, 1.0) if bounded else (-math.inf, math.inf)
    tops = [0.0] * len(rows)
    for offset, (label, attr) in zip((-width / 2, width / 2), ((labels[0], "base"), (labels[1], "trained"))):
        values = [getattr(row, attr) for row in rows]
        halves = [1.96 * (getattr(row, f"{attr}_stderr") or 0.0) for row in rows]
        errors = [
            [v - max(low, v - h) for v, h in zip(values, halves)],
            [min(high, v + h) - v for v, h in zip(values, halves)],
        ]
        bars = ax.bar([x + offset for x in xs], values, width, yerr=errors, capsize=4, label=label)
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], label_type="edge", padding=2, fontsize=7)
        tops = [max(top, v + e) for top, v, e in zip(tops, values, errors[1])]
    highest = max(tops, default=0.0)
    if bounded:
        ax.set_ylim(0.0, min(1.12, max(0.1, 1.25 * highest)))
    for x, row, top in zip(xs, rows, tops):
        ax.annotate(f"Δ {row.difference:+.3f}", (x, top + 0.06 * (ax.get_ylim()[1] - ax.get_ylim()[0])),
                    ha="center", va="bottom", fontsize=9)
    ax.set_xticks(list(xs), [f"{row.benchmark}\n{row.metric}" for row in rows], fontsize=8)
    ax.set_ylabel("score (accuracy, from 0)" if bounded else "score")
    ax.set_title(title or "Before and after training (error bars: 95% interval)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    out_dir: Path, rows: Sequence[Row], failures: Sequence[Failure], settings: dict[str, Any], models: dict[str, str],
    provenance: dict[str, Any] | None = None, run: Any = None,
) -> str:
    """Write table.md, table.json and forgetting.png (when a row exists); returns the Markdown table.
    `provenance` (r3.provenance: versions, commit, start, command) joins table.json."""
    from r3.rundir import write_atomic

    def save(name: str, data: str | bytes) -> None:  # through the run directory (its manifest, no link followed)
        run.write_atomic(name, data) if run is not None else write_atomic(out_dir / name, data)

    table = format_table(rows, failures)
    save("table.md", table)
    payload = {
        "models": models,
        "rows": [asdict(row) for row in rows],
        "failed": [asdict(failure) for failure in failures],
        "settings": settings,
        "provenance": provenance or {},
    }
    save("table.json", json.dumps(payload, indent=2))
    if rows:
        import io

        title = (f"{models.get('trained', 'trained')} vs base {models.get('base', 'base')}\n"
                 "(error bars: 95% interval)")
        image = io.BytesIO()
        plot(rows, image, title=title)
        save("forgetting.png", image.getvalue())
    return table
