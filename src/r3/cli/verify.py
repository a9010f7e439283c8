"""`r3 verify --task T FILE`: judge completions stored in a JSONL file.

Each line holds an example's fields plus `completion`. One verdict per line is written as JSONL (to --out, or to
FILE with `.verdicts.jsonl` in place of `.jsonl`), and the accuracy is printed.

    r3 verify --task countdown completions.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "judge the completions in a JSONL file (example fields + 'completion') and print the accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="JSONL file: one example per line, with a 'completion' field")
    parser.add_argument("--task", required=True, help="task name, or package.module:ClassName")
    parser.add_argument("--out", type=Path, help="where to write verdicts (default: FILE.verdicts.jsonl)")
    parser.add_argument("--skip-bad-lines", action="store_true", help="count and skip malformed lines")


def run(args: argparse.Namespace) -> int:
    from r3.data import read_jsonl
    from r3.errors import R3Error
    from r3.tasks import get_task

    task = get_task(args.task)
    if not args.file.is_file():
        raise R3Error(f"{args.file}: no such file")
    rows, labels, skipped = read_jsonl(args.file, skip_bad=args.skip_bad_lines)
    out = args.out or args.file.with_name(args.file.name.removesuffix(".jsonl") + ".verdicts.jsonl")
    correct = judged = 0
    with open(out, "w", encoding="utf-8") as handle:
        for index, (row, label) in enumerate(zip(rows, labels)):
            judged_row = _judge(task, row, index, label, args)
            if judged_row is None:
                skipped += 1
                continue
            problem_id, verdict = judged_row
            record = {"line": int(label.split()[-1]), "problem_id": problem_id, "correct": verdict.correct,
                      "reason": verdict.reason}
            handle.write(json.dumps(record) + "\n")
            judged += 1
            correct += verdict.correct
    accuracy = correct / judged if judged else 0.0
    print(f"{task.name}: {correct}/{judged} correct (accuracy {accuracy:.4f}); verdicts in {out}")
    if skipped:
        print(f"skipped {skipped} bad line(s)")
    return 0


def _judge(task, row: dict, index: int, label: str, args: argparse.Namespace):
    """(problem id, verdict) for one line, or None for a bad line that --skip-bad-lines lets through."""
    from r3.errors import DataError

    try:
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise DataError("missing, or not a string", field="completion")
        example = task.normalize(row)
    except DataError as error:
        if args.skip_bad_lines:
            return None
        raise error.at(source=str(args.file), row=label) from None
    return task.problem_id(example, index), task.verify(example, completion)
