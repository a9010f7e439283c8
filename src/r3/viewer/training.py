"""What the page shows of a training run: reflections over the steps, the curves and the alarms that fired.

Reflections come from two files a run may hold: samples.jsonl (r3's few reflection -> retry pairs per shown step)
and TRL's completions table, OUTPUT_DIR/completions/completions_NNNNN.parquet, written when the recipe sets
`log_completions: true` (every reflection of the logged generation batch, with its reward and advantage, and the
retry columns r3's reward adds). The curves are the run's training_curves.png, drawn from metrics.jsonl when the run
has none yet.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from pathlib import Path
from typing import Any

from r3.report.curves import PANELS, plot_training_curves, series
from r3.report.runs import load_run
from r3.training.summary import TrainSummary, summary_lines

logger = logging.getLogger(__name__)

CURVES_FILE = "training_curves.png"  # r3.report.markdown's
COMPLETIONS_DIR = "completions"  # TRL's GRPOTrainer: OUTPUT_DIR/completions/completions_{step:05d}.parquet


def _contents(messages: Any, role: str) -> list[str]:
    """The contents of the messages of `role` in a chat message list, in order."""
    if not isinstance(messages, list):
        return [str(messages)] if messages and role == "assistant" else []
    return [str(m.get("content") or "") for m in messages if isinstance(m, dict) and m.get("role") == role]


def completion_records(directory: Path) -> list[dict[str, Any]]:
    """TRL's completions table as reflection records ([] when the run did not log completions)."""
    files = sorted((directory / COMPLETIONS_DIR).glob("completions_*.parquet"))
    if not files:
        return []
    import pyarrow.parquet as pq

    out = []
    for path in files:
        try:
            rows = pq.read_table(path).to_pylist()
        except (OSError, ValueError) as error:  # a table cut by a kill: the others still show
            logger.warning("%s: unreadable (%s), skipped", path, error)
            continue
        for row in rows:
            # the prompt TRL logged: [system?, user: problem, assistant: failed attempt, user: reflection instruction]
            users, answers = _contents(row.get("prompt"), "user"), _contents(row.get("prompt"), "assistant")
            out.append({"step": row.get("step"), "source": "completions", "problem_id": None,
                        "problem": users[0] if users else "", "attempt": answers[-1] if answers else "",
                        "instruction": users[-1] if len(users) > 1 else "",
                        "reflection": "".join(_contents(row.get("completion"), "assistant")),
                        "retry": row.get("retry"), "correct": row.get("retry_correct"),
                        "reason": row.get("retry_reason"), "reward": row.get("retry_success"),
                        "advantage": row.get("advantage")})
    return out


def sample_records(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """samples.jsonl's reflection -> retry pairs in the same shape as the completions table's."""
    return [{"step": s.get("step"), "source": "samples", "problem_id": s.get("problem_id"), "problem": None,
             "attempt": None, "instruction": None, "reflection": s.get("reflection"), "retry": s.get("retry"),
             "correct": s.get("correct"), "reason": s.get("reason"), "reward": None, "advantage": None}
            for s in samples]


def groups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reflections of one failed attempt at one step together (a GRPO group: its G reflections share the problem
    and the attempt), best reward first, so a reader compares the reflections that won with those that lost."""
    grouped: dict[tuple, dict[str, Any]] = {}
    for r in records:
        key = (r["step"], r["source"], r["problem_id"], r["problem"], r["attempt"], r["instruction"])
        group = grouped.setdefault(key, {"step": r["step"], "source": r["source"], "problem_id": r["problem_id"],
                                         "problem": r["problem"], "attempt": r["attempt"],
                                         "instruction": r["instruction"], "reflections": []})
        group["reflections"].append({k: r[k] for k in ("reflection", "retry", "correct", "reason", "reward",
                                                       "advantage")})
    for group in grouped.values():
        group["reflections"].sort(key=lambda r: -(r["reward"] if isinstance(r["reward"], (int, float)) else -1))
        group["right"] = sum(r["correct"] is True for r in group["reflections"])
    return list(grouped.values())


def curves_png(directory: Path, records: list[dict[str, Any]], title: str) -> str | None:
    """The training curves as a base64 PNG: the run's own file, else drawn now from its metrics; None when no step
    logged a curve's metric (a figure of empty panels says nothing)."""
    if not any(series(records, value)[0] for _, _, value, _ in PANELS):
        return None
    path = directory / CURVES_FILE
    if path.is_file():
        return base64.b64encode(path.read_bytes()).decode("ascii")
    with tempfile.TemporaryDirectory() as scratch:
        drawn = Path(scratch) / CURVES_FILE
        if plot_training_curves({directory.name: records}, drawn, title=title):
            return base64.b64encode(drawn.read_bytes()).decode("ascii")
    return None


def train_section(path: Path, name: str) -> dict[str, Any]:
    """A training run: its end-of-run summary, alarms, curves and reflections by step, grouped by failed attempt."""
    run = load_run(path)
    summary = run.summary or {}
    known = {k: v for k, v in summary.items() if k in TrainSummary.__dataclass_fields__}
    try:
        lines = summary_lines(TrainSummary(**known)) if summary else []
    except TypeError:  # a summary from another version of r3: the page still shows the rest
        lines = []
    completions = completion_records(path)
    logged = {r["step"] for r in completions}  # samples.jsonl repeats a few of the table's reflections: shown once
    reflections = completions + sample_records([s for s in run.samples if s.get("step") not in logged])
    reflections.sort(key=lambda r: (r["step"] if isinstance(r["step"], int) else -1, r["source"]))
    alarms = [{"name": a.get("name"), "step": a.get("step"), "message": a.get("message")}
              for a in summary.get("alarms", []) if isinstance(a, dict)]
    return {"kind": "train", "name": name, "path": str(path), "model": run.model, "task": run.task,
            "summary_lines": lines, "alarms": alarms, "log_completions": (path / COMPLETIONS_DIR).is_dir(),
            "curves_png": curves_png(path, run.records, f"{name}: {run.task} | {run.model}"),
            "groups": groups(reflections)}
