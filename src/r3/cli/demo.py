"""`r3 demo`: Reflect, Retry, Reward improving a tiny model on a laptop CPU, with real numbers.

    r3 demo                              # (make demo) eval -> mine -> train -> eval -> runs/demo/report.md
    r3 demo --control                    # also the control arm: same budget, reflection left out
    r3 demo --test-puzzles 50 --mine-puzzles 20 --steps 5 --out runs/demo-quick   # a quick look

Uses the model committed in demo_model/ (built by scripts/build_demo_model.py) and the recipe configs/demo_cpu.yaml.
Rerunning the same command resumes after the last finished stage. See docs/demo.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the embedded demo: evaluate, mine, train reflections and evaluate a tiny model; write a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from r3.demo.pipeline import DEFAULT_MODEL, DEFAULT_RECIPE, DemoSettings

    defaults = DemoSettings()
    parser.add_argument("--out", type=Path, default=defaults.out, help=f"output directory (default: {defaults.out})")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="demo model directory (default: demo_model)")
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE,
                        help="r3 train recipe (default: configs/demo_cpu.yaml)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--test-puzzles", type=int, default=defaults.test_puzzles,
                        help=f"held-out puzzles to evaluate on (default: {defaults.test_puzzles})")
    parser.add_argument("--mine-puzzles", type=int, default=defaults.mine_puzzles,
                        help=f"puzzles to mine failures from (default: {defaults.mine_puzzles})")
    parser.add_argument("--steps", type=int, help="training steps (default: the recipe's max_steps)")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"torch threads (default: {defaults.threads}; a tiny model gains nothing from more)")
    parser.add_argument("--attempt-tokens", type=int, default=defaults.attempt_tokens,
                        help=f"max new tokens of an attempt (default: {defaults.attempt_tokens}; 48 for a demo model "
                        "whose attempts show their work: built with --first-attempts greedy_worked or worked)")
    parser.add_argument("--control", action="store_true",
                        help="also train and evaluate the control arm (reflection left out, same budget)")
    parser.add_argument("--overwrite", action="store_true", help="delete --out and start again")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markdown import Markdown

    from r3.demo.pipeline import DemoSettings, run_demo
    from r3.errors import R3Error

    for flag, value in (("--test-puzzles", args.test_puzzles), ("--mine-puzzles", args.mine_puzzles),
                        ("--steps", args.steps), ("--threads", args.threads),
                        ("--attempt-tokens", args.attempt_tokens)):
        if value is not None and value < 1:
            raise R3Error(f"{flag} must be at least 1, got {value}")
    console = Console()
    settings = DemoSettings(model=args.model, out=args.out, recipe=args.recipe, seed=args.seed,
                            test_puzzles=args.test_puzzles, mine_puzzles=args.mine_puzzles, steps=args.steps,
                            control=args.control, threads=args.threads,
                            attempt_tokens=args.attempt_tokens)

    def announce(number: int, total: int, stage) -> None:
        console.rule(f"[bold]{number}/{total} {stage.title}")
        console.print(f"$ {stage.command}", highlight=False, soft_wrap=True)

    report = run_demo(settings, overwrite=args.overwrite, announce=announce)
    console.rule("[bold]result")
    console.print(Markdown(report.read_text(encoding="utf-8").split("## What the reflections", 1)[0]))
    console.print(f"report: {report}")
    return 0
