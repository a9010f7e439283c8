"""report.md for one training run, and an overlay report for several (`r3 report RUN [RUN ...]`).

    write_run_report("runs/train-tiny")                      # runs/train-tiny/report.md + training_curves.png
    report_runs(["runs/a", "runs/b"], out="runs/compare")    # curves of both on the same axes, one table
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from r3.errors import R3Error
from r3.report.curves import PANELS, render_training_curves, series
from r3.report.runs import Run, load_run
from r3.training.summary import TrainSummary, summary_lines

CURVES_FILE = "training_curves.png"
REPORT_FILE = "report.md"
SHOWN_SAMPLES = 3
CONFIG_KEYS_FIRST = ("task", "model", "mode", "data", "max_steps", "learning_rate", "num_generations",
                     "per_device_train_batch_size", "reflection_max_new_tokens", "attempt_max_new_tokens", "beta",
                     "loss_type", "temperature", "seed")


def window_means(records: list[dict[str, Any]]) -> list[tuple[str, float | None, float | None]]:
    """(panel title, mean over the first tenth of the logged steps, mean over the last tenth) for each panel."""
    out = []
    for title, _, value, _ in PANELS:
        _, values = series(records, value)
        if not values:
            out.append((title, None, None))
            continue
        k = max(1, math.ceil(len(values) / 10))
        out.append((title, sum(values[:k]) / k, sum(values[-k:]) / k))
    return out


def _number(value: float | None, title: str) -> str:
    if value is None:
        return "-"
    if "share" in title or "success" in title or "spread" in title:
        return f"{100 * value:.1f}%"
    return f"{value:.3g}" if "KL" in title else f"{value:.1f}"


def _steps(run: Run) -> int:
    return max((int(r.get("step", 0)) for r in run.records), default=0)


def _sample_section(samples: list[dict[str, Any]]) -> list[str]:
    if not samples:
        return ["(no samples were recorded: log_samples was 0)"]
    steps = sorted({int(s["step"]) for s in samples})
    lines = []
    for label, step in (("early", steps[0]), ("late", steps[-1])) if len(steps) > 1 else (("only", steps[0]),):
        lines += ["", f"{label}, step {step}:", ""]
        for sample in [s for s in samples if int(s["step"]) == step][:SHOWN_SAMPLES]:
            verdict = "solved" if sample.get("correct") else "wrong"
            lines.append(f"- problem {sample.get('problem_id')}, retry {verdict}: reflection "
                         f"`{_inline(sample.get('reflection', ''))}` -> retry `{_inline(sample.get('retry', ''))}`")
    return lines


def _inline(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _config_block(config: dict[str, Any]) -> list[str]:
    if not config:
        return ["(no r3_train_config.yaml in the run directory)"]
    first = {k: config[k] for k in CONFIG_KEYS_FIRST if k in config}
    rest = {k: v for k, v in config.items() if k not in first}
    return ["```yaml", yaml.safe_dump(first, sort_keys=False, allow_unicode=True).rstrip(), "```", "",
            "<details><summary>every setting</summary>", "", "```yaml",
            yaml.safe_dump(rest, sort_keys=False, allow_unicode=True).rstrip(), "```", "", "</details>"]


def write_run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write report.md and training_curves.png for one run (into the run directory unless `out` is given)."""
    run = load_run(run_dir)
    image, plotted = render_training_curves({run.name: run.records}, title=f"{run.name}: {run.task} | {run.model}")
    lines = [f"# r3 training run: {run.name}", "",
             (f"Reflection-only GRPO ([r3](https://arxiv.org/abs/2505.24726)) of **{run.model}** on task "
              f"**{run.task}**, data `{run.config.get('data')}` ({run.config.get('mode', 'offline')}), "
              f"{_steps(run)} steps."), ""]
    if run.summary:
        known = {k: v for k, v in run.summary.items() if k in TrainSummary.__dataclass_fields__}
        lines += ["```", *summary_lines(TrainSummary(**known)), "```", ""]
    lines += ["| metric | start (first tenth of steps) | end (last tenth) |", "|---|---|---|"]
    for title, start, end in window_means(run.records):
        lines.append(f"| {title} | {_number(start, title)} | {_number(end, title)} |")
    lines += ["", f"![training curves]({CURVES_FILE})" if plotted else "(no training metrics were logged)", ""]
    if run.summary and run.summary.get("alarms"):
        lines += ["## Alarms", ""] + [f"- step {a['step']}: {a['message']}" for a in run.summary["alarms"]] + [""]
    lines += ["## Sample reflections, early and late", *_sample_section(run.samples), "", "## Config", "",
              *_config_block(run.config), ""]
    written = _write(Path(out) if out is not None else run.directory, image, lines)
    if out is None and run.config.get("task"):  # the model card picks up evaluations made since training
        from r3.training.model_card import write_model_card

        write_model_card(run.directory, run.config)
    return written


def _write(out: Path, image: bytes, lines: list[str]) -> Path:
    """report.md and the curves into `out` through its run directory (`RunDir.attach`: the training run there, or a
    new report run): a report.md or training_curves.png that no r3 run wrote is refused, never replaced, and
    nothing is written through a link."""
    from r3.rundir import RunDir

    with RunDir.attach(out, "report", claims=(CURVES_FILE, REPORT_FILE)) as run:
        run.write_atomic(CURVES_FILE, image)
        return run.write_atomic(REPORT_FILE, "\n".join(lines))


def report_runs(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """`r3 report`: one run -> its report.md; several -> their curves overlaid and a table, in `out`."""
    if not run_dirs:
        raise R3Error("r3 report: name at least one training run directory")
    if len(run_dirs) == 1:
        return write_run_report(run_dirs[0], out)
    if out is None:
        raise R3Error("r3 report: with several runs, say where the overlay goes (--out DIR)")
    runs = [load_run(d) for d in run_dirs]
    labels = _labels(runs)
    image, _ = render_training_curves({label: run.records for label, run in zip(labels, runs)},
                                      title="r3 runs: " + " vs ".join(labels))
    lines = ["# r3 training runs compared", "",
             ("| run | model | task | steps | retry success, start -> end | reflection tokens, start -> end | "
              "model changed |"), "|---|---|---|---|---|---|---|"]
    for label, run in zip(labels, runs):
        means = {title: (a, b) for title, a, b in window_means(run.records)}
        success, length = means["retry success"], means["reflection length"]
        changed = (run.summary or {}).get("model_changed")
        lines.append(f"| {label} | {run.model} | {run.task} | {_steps(run)} | "
                     f"{_number(success[0], 'success')} -> {_number(success[1], 'success')} | "
                     f"{_number(length[0], 'tokens')} -> {_number(length[1], 'tokens')} | "
                     f"{'?' if changed is None else 'yes' if changed else 'NO'} |")
    lines += ["", "Start and end: means over the first and last tenth of each run's logged steps.", "",
              f"![training curves]({CURVES_FILE})", "", "Runs: " + ", ".join(f"`{r.directory}`" for r in runs), ""]
    return _write(Path(out), image, lines)


def _labels(runs: list[Run]) -> list[str]:
    """Run directory names, made unique with their parent's name when two are the same."""
    names = [run.name for run in runs]
    return [f"{run.directory.parent.name}/{run.name}" if names.count(run.name) > 1 else run.name for run in runs]


__all__ = ["CURVES_FILE", "REPORT_FILE", "report_runs", "window_means", "write_run_report"]
