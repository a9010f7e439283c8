"""`r3 compare DIR_A DIR_B`: two finished `r3 eval` runs side by side, with the difference B - A.

    r3 compare runs/eval-before runs/eval-after
"""

from __future__ import annotations

from dataclasses import dataclass

from r3.config import CommandConfig, option

HELP = "compare two finished evaluations: each metric, the difference B - A and its 95% interval"


@dataclass
class CompareConfig(CommandConfig):
    runs: list[str] = option([], "two r3 eval output directories: A (before) and B (after)")


def main(argv: list[str]) -> int:
    from rich.console import Console

    from r3.config.parser import ConfigParser
    from r3.errors import R3Error
    from r3.evaluation.compare import compare_runs, comparison_table

    (config,) = ConfigParser([CompareConfig], prog="r3 compare", description=HELP,
                             positionals={"runs": "*"}).parse(argv)
    if len(config.runs) != 2:
        raise R3Error(f"compare takes two run directories (A then B), got {len(config.runs)}")
    first, second = config.runs
    comparison = compare_runs(first, second)
    console = Console()
    console.print(comparison_table(comparison, first, second))
    if comparison.differing_settings:
        console.print(f"note: the runs differ in {', '.join(comparison.differing_settings)}")
    return 0
