"""Judge stored completions: the library side of `r3 verify`.

A file of rows, each an example's fields plus `completion`, is read through `r3.data.load_rows` (the loader every
command uses, so JSONL, JSON, Parquet and whatever else it reads work here too), judged with `Task.verify`, and one
verdict per row is written as JSONL. A malformed row is one line naming file, row and field, or, with
`skip_bad_lines`, counted and skipped.

    from r3.tasks import get_task, verify_file
    summary = verify_file(get_task("gsm8k"), "completions.parquet")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from r3.data import load_rows
from r3.errors import DataError, R3Error

if TYPE_CHECKING:
    from r3.tasks.base import Task


@dataclass(frozen=True)
class VerifySummary:
    """What `verify_file` judged: counts and where the verdicts are."""

    judged: int
    correct: int
    skipped: int
    verifier_errors: int
    out: Path

    @property
    def accuracy(self) -> float:
        return self.correct / self.judged if self.judged else 0.0


def default_out(path: Path) -> Path:
    """`FILE.verdicts.jsonl` beside FILE, its extension dropped (`c.parquet` -> `c.verdicts.jsonl`)."""
    return path.with_name(f"{path.stem if path.suffix else path.name}.verdicts.jsonl")


def verify_file(task: Task, path: str | Path, *, out: str | Path | None = None, split: str | None = None,
                limit: int | None = None, skip_bad_lines: bool = False) -> VerifySummary:
    """Judge every row of `path` with `task` and write the verdicts as JSONL to `out` (default: `default_out`).

    Each verdict record holds `row` (the loader's label, "line 3" or "row 2"), `line` (the line number, for JSONL),
    `problem_id`, `correct`, `reason` and `error` (True when the verifier itself failed).
    """
    path = Path(path)
    if not path.exists():
        raise R3Error(f"{path}: no such file")
    rows, labels, skipped = _load(path, split, limit, skip_bad_lines)
    out_path = Path(out) if out is not None else default_out(path)
    judged = correct = errors = 0
    with open(out_path, "w", encoding="utf-8") as handle:
        for index, (row, label) in enumerate(zip(rows, labels)):
            result = _judge(task, row, index, label, str(path), skip_bad_lines)
            if result is None:
                skipped += 1
                continue
            problem_id, verdict = result
            record: dict[str, Any] = {"row": label}
            if label.startswith("line "):
                record["line"] = int(label.split()[-1])
            record.update(problem_id=problem_id, correct=verdict.correct, reason=verdict.reason, error=verdict.error)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            judged += 1
            correct += verdict.correct
            errors += verdict.error
    return VerifySummary(judged, correct, skipped, errors, out_path)


def _load(path: Path, split: str | None, limit: int | None, skip_bad: bool) -> tuple[list, list, int]:
    """Rows, labels and the number of unreadable rows the loader skipped."""
    loaded = load_rows(str(path), split, limit, skip_bad=skip_bad)
    return loaded.rows, loaded.labels, loaded.skipped


def _judge(task: Task, row: dict, index: int, label: str, source: str, skip_bad: bool):
    """(problem id, verdict) for one row, or None for a bad row that `skip_bad` lets through."""
    try:
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise DataError("missing, or not a string", field="completion")
        example = task.normalize(task.map_columns(row))
    except DataError as error:
        if skip_bad:
            return None
        raise error.at(source=source, row=label) from None
    return task.problem_id(example, index), task.verify(example, completion)
