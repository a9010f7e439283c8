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


VERDICT_KEYS = frozenset({"row", "problem_id", "correct", "reason", "error"})


def check_out(path: Path, out: Path, *, overwrite: bool = False) -> None:
    """Refuse (one line) to write verdicts over the input (also through a hard or symbolic link), over something
    that is not a regular file, or over a file r3 did not write (its first line is not a verdict) unless
    `overwrite`. Changes nothing."""
    from r3.rundir import same_file

    if same_file(out, path):
        raise R3Error(f"--out {out} is the input file (the same file on disk); choose another path")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise R3Error(f"--out {out} exists and is not a regular file; r3 does not replace it")
    if out.exists() and not overwrite and not _holds_verdicts(out):
        raise R3Error(f"--out {out} exists and does not hold r3 verdicts; pass --overwrite to replace it, or choose "
                      "another path")


def _holds_verdicts(out: Path) -> bool:
    """Whether `out` is empty or starts with a verdict line as `verify_file` writes them."""
    with open(out, "rb") as handle:
        first = handle.readline(1 << 20)
    if not first:
        return True
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and VERDICT_KEYS <= set(record)


def verify_file(task: Task, path: str | Path, *, out: str | Path | None = None, split: str | None = None,
                limit: int | None = None, skip_bad_lines: bool = False, overwrite: bool = False) -> VerifySummary:
    """Judge every row of `path` with `task` and write the verdicts as JSONL to `out` (default: `default_out`).

    Each verdict record holds `row` (the loader's label, "line 3" or "row 2"), `line` (the line number, for JSONL),
    `problem_id`, `correct`, `reason` and `error` (True when the verifier itself failed). The verdicts replace `out`
    only once every row is judged (`r3.rundir.atomic_output`): a refused input leaves an old file as it was.
    """
    from r3.rundir import atomic_output, check_input_file, dumps_line

    path = check_input_file(path, "data file")
    out_path = Path(out) if out is not None else default_out(path)
    check_out(path, out_path, overwrite=overwrite)
    rows, labels, skipped = _load(path, split, limit, skip_bad_lines)
    judged = correct = errors = 0
    with atomic_output(out_path) as handle:
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
            handle.write(dumps_line(record))
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
