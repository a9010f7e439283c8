"""`r3 verify --task T FILE`: judge completions stored in a data file.

Each row holds an example's fields plus `completion`; the file is read by the loader every command uses (JSONL, JSON,
CSV, TSV, Parquet). One verdict per row is written as JSONL (to --out, or beside FILE as FILE.verdicts.jsonl) and the
accuracy is printed. The verdicts replace --out only once every row is judged; an --out that is the input (also
through a hard link) or a file that does not hold r3 verdicts is refused (--overwrite replaces the latter).

    r3 verify --task countdown completions.jsonl
    r3 verify --task function_calling --task-option match=bfcl answers.parquet --out verdicts.jsonl
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from r3.config import CommandConfig, TaskArgs, option

HELP = "judge the completions in a data file (example fields + 'completion') and print the accuracy"


@dataclass
class VerifyConfig(CommandConfig, TaskArgs):
    file: str | None = option(None, "data file: one example per row, with a 'completion' field")
    out: str | None = option(None, "where to write the verdicts (default: FILE.verdicts.jsonl beside FILE)")
    overwrite: bool = option(False, "replace an existing --out that does not hold r3 verdicts")

    required: ClassVar[tuple[str, ...]] = ("task", "file")


def main(argv: list[str]) -> int:
    from pathlib import Path

    from r3.config.parser import ConfigParser
    from r3.rundir import check_input_file
    from r3.tasks import verify_file
    from r3.tasks.verify_file import check_out, default_out

    (config,) = ConfigParser([VerifyConfig], prog="r3 verify", description=HELP,
                             positionals={"file": "?"}).parse(argv)
    source = check_input_file(config.file, "data file")
    out = Path(config.out) if config.out else default_out(source)
    check_out(source, out, overwrite=config.overwrite)  # before the task loads: nothing is written if refused
    task = config.build_task()
    summary = verify_file(task, source, out=out, split=config.split, limit=config.limit,
                          skip_bad_lines=config.skip_bad_lines, overwrite=config.overwrite)
    print(f"{task.name}: {summary.correct}/{summary.judged} correct (accuracy {summary.accuracy:.4f}); "
          f"verdicts in {summary.out}")
    if summary.verifier_errors:
        print(f"verifier errors: {summary.verifier_errors} (counted as incorrect; reasons in {summary.out})")
    if summary.skipped:
        print(f"skipped {summary.skipped} bad row(s)")
    return 0
