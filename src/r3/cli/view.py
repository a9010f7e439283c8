"""`r3 view RUN [RUN ...] --out page.html`: one HTML page to read what runs wrote, offline, in any browser.

    r3 view runs/eval-before runs/eval-after --out before-after.html   # each problem's change, both episodes
    r3 view runs/train runs/mine --out train.html                         # reflections over steps, mined failures
    r3 view runs/demo --out demo.html                                     # a demo directory: all its stages

Eval runs show every episode (filters, search, sort by reflection length) under their summary; two or more eval runs
of the same problems add a before / after table with paired intervals; training runs show reflections by step,
curves and alarms; mining runs the failed attempts kept per problem. See docs/view.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from r3.config import CommandConfig, option

HELP = "write one self-contained HTML page of eval, mine and train runs: episodes, reflections, before / after"


@dataclass
class ViewConfig(CommandConfig):
    runs: list[str] = option([], "run directories: r3 eval, r3 mine or r3 train outputs, or an r3 demo directory")
    out: str = option("view.html", "the page to write (one file; open it in a browser, no server needed)")


def parser():
    from r3.config.parser import ConfigParser

    return ConfigParser([ViewConfig], prog="r3 view", description=HELP, positionals={"runs": "*"})


def main(argv: list[str]) -> int:
    from r3 import api
    from r3.errors import R3Error

    (config,) = parser().parse(argv)
    if not config.runs:
        raise R3Error("r3 view needs at least one run directory, e.g. r3 view runs/eval --out page.html")
    path = api.view(config.runs, config.out)
    print(f"page: {path} ({path.stat().st_size / 1e6:.1f} MB); open it in a browser")
    return 0
