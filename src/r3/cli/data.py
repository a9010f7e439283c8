"""`r3 data GENERATOR ...`: make task data. One sub-subcommand per generator; today `countdown`.

    r3 data countdown --n 1000 --seed 0 --out puzzles.jsonl
    r3 data countdown --n 200 --seed 1 --sizes 4 --max-target 999 --with-solution --out hard.jsonl

Rows are written one per line as they are made, into OUT.partial, which becomes OUT only once all N are written, so
an interrupted run never leaves a file that looks finished. Generation is deterministic for a seed: rerun to redo.
To add a generator, add a function `_add_NAME(subparsers)` that registers its parser with `set_defaults(_make=...)`
and list it in `GENERATORS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "generate task data (e.g. solvable Countdown puzzles) as JSONL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="generator", metavar="GENERATOR", required=True)
    for add in GENERATORS:
        add(sub)


def run(args: argparse.Namespace) -> int:
    return args._make(args)


def _add_countdown(sub: argparse._SubParsersAction) -> None:
    help_text = "Countdown puzzles solvable by construction (defaults: the public 3-to-4-number set's ranges)"
    parser = sub.add_parser("countdown", help=help_text, description=help_text)
    _add_output_arguments(parser)
    parser.add_argument("--min-target", type=int, default=10, help="smallest target (default: 10)")
    parser.add_argument("--max-target", type=int, default=100, help="largest target (default: 100)")
    parser.add_argument("--min-number", type=int, default=1, help="smallest number (default: 1)")
    parser.add_argument("--max-number", type=int, default=99, help="largest number (default: 99)")
    parser.add_argument("--sizes", type=_sizes, default=(3, 4), metavar="K[,K...]",
                        help="how many numbers a puzzle has, chosen uniformly per puzzle (default: 3,4)")
    parser.add_argument("--with-solution", action="store_true", help="also write one solution per puzzle")
    parser.set_defaults(_make=_make_countdown)


GENERATORS = (_add_countdown,)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=_positive, required=True, help="how many rows to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def _make_countdown(args: argparse.Namespace) -> int:
    from r3.tasks.countdown_generator import PuzzleRanges, generate_puzzles

    ranges = PuzzleRanges(min_target=args.min_target, max_target=args.max_target, min_number=args.min_number,
                          max_number=args.max_number, sizes=args.sizes)
    rows = (puzzle.to_row(args.with_solution) for puzzle in generate_puzzles(args.n, args.seed, ranges))
    _write_rows(rows, args.n, args.out, args.overwrite, unit="puzzle")
    print(f"wrote {args.n} Countdown puzzles to {args.out}")
    return 0


def _write_rows(rows, total: int, out: Path, overwrite: bool, unit: str) -> None:
    """Write rows as JSONL through OUT.partial, with a progress bar, and rename it to OUT when complete."""
    import json

    from tqdm import tqdm

    from r3.errors import R3Error

    if out.is_dir():
        raise R3Error(f"{out} is a directory")
    if out.exists() and not overwrite:
        raise R3Error(f"{out} already exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    progress = tqdm(rows, total=total, unit=unit, disable=total < 1000, desc=f"writing {out.name}")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in progress)
    partial.replace(out)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 3,4, got {text!r}") from None
    return sizes
