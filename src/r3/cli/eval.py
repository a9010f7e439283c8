"""`r3 eval`: first-attempt and within-two-attempts accuracy of a model, with reflect-retry episodes.

    r3 eval --model runs/tiny --task countdown --data sample:countdown --limit 50 --out runs/eval-tiny
    r3 eval --model Qwen/Qwen2.5-1.5B-Instruct --task function_calling --backend vllm --out runs/eval-fc
    r3 eval --compare runs/eval-base runs/eval-trained

Writes OUT/episodes.jsonl (one episode per line, appended batch by batch; a rerun with the same arguments resumes)
and OUT/summary.json, and prints the summary table. See docs/eval.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "evaluate a model with reflect-retry episodes (accuracy at the first attempt and within two), or compare runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run an evaluation")
    run.add_argument("--model", help="hub id or local model directory (e.g. the output of r3 train)")
    run.add_argument("--task", help="task name (see r3 tasks) or package.module:ClassName")
    run.add_argument("--data", help="data source: sample:NAME, a .jsonl/.json/.parquet file, a saved dataset "
                                    "directory or a hub id (default: the task's dataset)")
    run.add_argument("--split", help="split of a hub dataset (default: the task's)")
    run.add_argument("--limit", type=int, help="evaluate the first N examples")
    run.add_argument("--out", type=Path, help="output directory")
    run.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="generation backend (default: hf)")
    run.add_argument("--attempts", type=int, default=2, help="attempts per problem: K-1 reflect-retry rounds "
                                                             "(default: 2, as in the paper)")
    run.add_argument("--temperature", type=float, default=0.0, help="sampling temperature; 0 = greedy (default)")
    run.add_argument("--top-p", type=float, default=1.0)
    run.add_argument("--max-new-tokens", type=int, default=512, help="token budget of each attempt")
    run.add_argument("--reflection-max-new-tokens", type=int, default=256, help="token budget of each reflection")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--batch-size", type=int, default=32,
                     help="episodes per batch: one generate call per phase, written to disk when done")
    run.add_argument("--reflection-instruction", help="replace the task's reflection instruction ({reason} is "
                                                      "replaced by the verifier's reason)")
    run.add_argument("--retry-instruction", help="replace the task's retry instruction")
    run.add_argument("--overwrite", action="store_true", help="replace a finished or different run in --out")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"),
                        help="print two finished runs side by side with the difference B - A")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from r3.errors import R3Error

    console = Console()
    if args.compare:
        from r3.evaluation.compare import compare_runs, comparison_table

        comparison = compare_runs(*args.compare)
        console.print(comparison_table(comparison, str(args.compare[0]), str(args.compare[1])))
        if comparison.differing_settings:
            console.print(f"note: the runs differ in {', '.join(comparison.differing_settings)}")
        return 0
    missing = [flag for flag, value in (("--model", args.model), ("--task", args.task), ("--out", args.out))
               if not value]
    if missing:
        raise R3Error(f"missing {', '.join(missing)} (or use --compare DIR_A DIR_B)")
    for flag, value in (("--limit", args.limit), ("--attempts", args.attempts), ("--batch-size", args.batch_size),
                        ("--max-new-tokens", args.max_new_tokens),
                        ("--reflection-max-new-tokens", args.reflection_max_new_tokens)):
        if value is not None and value < 1:
            raise R3Error(f"{flag} must be at least 1, got {value}")

    from r3.evaluation.run import EvalSettings, evaluate
    from r3.evaluation.tables import summary_table

    settings = EvalSettings(
        model=args.model, task=args.task, data=args.data, split=args.split, limit=args.limit, backend=args.backend,
        attempts=args.attempts, temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
        reflection_max_new_tokens=args.reflection_max_new_tokens, seed=args.seed, batch_size=args.batch_size,
        reflection_instruction=args.reflection_instruction, retry_instruction=args.retry_instruction,
    )
    result = evaluate(settings, args.out, overwrite=args.overwrite, progress=not args.no_progress)
    console.print(summary_table(result.record))
    if result.resumed_from:
        console.print(f"resumed after {result.resumed_from} episodes already in {args.out}")
    console.print(f"episodes: {args.out / 'episodes.jsonl'}  summary: {args.out / 'summary.json'}")
    return 0
