"""`r3 demo`: Reflect, Retry, Reward improving a tiny model on a laptop CPU, with real numbers.

    r3 demo                              # (make demo) eval -> mine -> train -> eval -> runs/demo/report.md
    r3 demo --control                    # also the control arm: same budget, reflection left out
    r3 demo --test-puzzles 50 --mine-puzzles 20 --steps 5 --out runs/demo-quick   # a quick look

Uses the model shipped with r3 (built by scripts/build_demo_model.py) and the recipe configs/demo_cpu.yaml.
Rerunning the same command resumes after the last finished stage. See docs/demo.md.
"""

from __future__ import annotations

HELP = "run the embedded demo: evaluate, mine, train reflections and evaluate a tiny model; write a report"


def parser():
    from r3.config.parser import ConfigParser
    from r3.demo.config import DemoConfig

    return ConfigParser([DemoConfig], prog="r3 demo", description=HELP)


def main(argv: list[str]) -> int:
    from rich.console import Console
    from rich.markdown import Markdown

    from r3.demo.pipeline import run_demo

    (settings,) = parser().parse(argv)
    console = Console()

    def announce(number: int, total: int, stage) -> None:
        console.rule(f"[bold]{number}/{total} {stage.title}")
        console.print(f"$ {stage.command}", highlight=False, soft_wrap=True)

    report = run_demo(settings, announce=announce)
    console.rule("[bold]result")
    console.print(Markdown(report.read_text(encoding="utf-8").split("## What the reflections", 1)[0]))
    console.print(f"report: {report}")
    page = report.parent / "view.html"  # r3.demo.pipeline.VIEW_FILE: every stage's episodes and reflections
    if page.is_file():
        console.print(f"page: {page} (open it in a browser)")
    return 0
