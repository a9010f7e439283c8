"""`r3 report RUN [RUN ...]`: redraw a training run's curves and report.md, or overlay several runs.

    r3 report runs/train-tiny                          # rewrites runs/train-tiny/report.md and training_curves.png
    r3 report runs/a runs/b --out runs/a-vs-b          # one figure and one report comparing the runs
"""

from __future__ import annotations

from dataclasses import dataclass

from r3.config import CommandConfig, option

HELP = "redraw a training run's curves and report, or overlay several runs for comparison"


@dataclass
class ReportConfig(CommandConfig):
    runs: list[str] = option([], "training output directories (each with metrics.jsonl or trainer_state.json)")
    out: str | None = option(None, "where the report goes (default: the run itself; required for several runs)")


def main(argv: list[str]) -> int:
    from r3.config.parser import ConfigParser
    from r3.report import report_runs

    (config,) = ConfigParser([ReportConfig], prog="r3 report", description=HELP,
                             positionals={"runs": "*"}).parse(argv)
    print(f"report: {report_runs(config.runs, config.out)}")
    return 0
