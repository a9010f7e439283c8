"""`r3 data GENERATOR ...`: make task data. One generator today: `countdown`.

    r3 data countdown --n 1000 --seed 0 --out puzzles.jsonl
    r3 data countdown --n 200 --seed 1 --sizes 4 --max-target 999 --with-solution --out hard.jsonl

Rows are streamed to a temporary file beside OUT, which replaces OUT only once all N are written (fsynced), so an
interrupted run never leaves a file that looks finished; an N whose file cannot fit on the disk is refused at once. Generation is deterministic for a seed.
To add a generator, add its config class and maker to `GENERATORS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from r3.config import CommandConfig, option

HELP = "generate task data (e.g. solvable Countdown puzzles) as JSONL"


@dataclass
class CountdownDataConfig(CommandConfig):
    n: int | None = option(None, "how many puzzles to write")
    out: str | None = option(None, "JSONL file to write")
    seed: int = option(42, "random seed")
    overwrite: bool = option(False, "replace OUT if it is a regular file")
    min_target: int = option(10, "smallest target")
    max_target: int = option(100, "largest target")
    min_number: int = option(1, "smallest number")
    max_number: int = option(99, "largest number")
    sizes: list[int] = option([3, 4], "how many numbers a puzzle has, chosen uniformly per puzzle")
    with_solution: bool = option(False, "also write one solution per puzzle")

    required: ClassVar[tuple[str, ...]] = ("n", "out")

    def __post_init__(self) -> None:
        super().__post_init__()
        from r3.errors import R3Error

        if self.n is not None and self.n < 1:
            raise R3Error(f"field 'n' must be at least 1, got {self.n}")


def _make_countdown(config: CountdownDataConfig) -> int:
    from r3.tasks.countdown_generator import PuzzleRanges, generate_puzzles

    ranges = PuzzleRanges(min_target=config.min_target, max_target=config.max_target, min_number=config.min_number,
                          max_number=config.max_number, sizes=tuple(config.sizes))
    rows = (puzzle.to_row(config.with_solution) for puzzle in generate_puzzles(config.n, config.seed, ranges))
    _write_rows(rows, config.n, config.out, config.overwrite, unit="puzzle")
    print(f"wrote {config.n} Countdown puzzles to {config.out}")
    return 0


GENERATORS = {"countdown": (CountdownDataConfig, _make_countdown)}


def main(argv: list[str]) -> int:
    from r3.config.parser import ConfigParser
    from r3.errors import R3Error

    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: r3 data GENERATOR [--field value ...]\n\n{HELP}\n\ngenerators: {', '.join(GENERATORS)} "
              "(r3 data GENERATOR --help lists its settings)")
        return 0 if argv else 2
    if argv[0] not in GENERATORS:
        raise R3Error(f"unknown generator {argv[0]!r}; available: {', '.join(GENERATORS)}")
    config_class, make = GENERATORS[argv[0]]
    (config,) = ConfigParser([config_class], prog=f"r3 data {argv[0]}", description=HELP).parse(argv[1:])
    return make(config)


def _write_rows(rows, total: int, out: str, overwrite: bool, unit: str) -> None:
    """Stream rows as JSONL to a temporary file beside OUT, with a progress bar; replace OUT when complete. Rows are
    never all held in memory; a total whose file could not fit on the disk is refused before the first row."""
    import shutil
    from pathlib import Path

    from tqdm import tqdm

    from r3.errors import R3Error
    from r3.rundir import atomic_output, check_writable, dumps_line

    path = Path(out)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise R3Error(f"--out {path} exists and is not a regular file; r3 does not replace it")
    if path.exists() and not overwrite:
        raise R3Error(f"--out {path} already exists (pass --overwrite to replace it)")
    check_writable(path.parent, "--out's folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    needed, free = total * MIN_ROW_BYTES, shutil.disk_usage(path.parent).free
    if needed > free:
        raise R3Error(f"--n {total}: that many {unit}s need at least {needed / 1e9:.3g} GB, and {path.parent} has "
                      f"{free / 1e9:.3g} GB free")
    progress = tqdm(rows, total=total, unit=unit, disable=total < 1000, desc=f"writing {path.name}")
    with atomic_output(path) as handle:
        for row in progress:
            handle.write(dumps_line(row))


MIN_ROW_BYTES = 30  # the shortest row a generator writes ({"nums": [1, 2, 3], "target": 10}, about 32 bytes)
