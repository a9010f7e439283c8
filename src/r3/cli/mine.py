"""`r3 mine`: build the dataset of failed first attempts that training learns to reflect on.

    r3 mine --model Qwen/Qwen2.5-1.5B-Instruct --task countdown --data Jiayi-Pan/Countdown-Tasks-3to4 --limit 1000 \
        --max-samples 64 --out runs/mine-countdown
    r3 mine --model runs/tiny --task countdown --data sample:countdown --max-samples 8 --out runs/mine-tiny

Writes DIR/failures.jsonl (one line per kept query), DIR/progress.jsonl (one line per finished query), DIR/stats.json
and DIR/run.json. Rerunning the same command resumes; see docs/mining.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "sample first attempts until they fail (adaptively, resumably) and write the failure dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="hub id or local model directory")
    parser.add_argument("--task", required=True, help="task name, or package.module:ClassName")
    parser.add_argument("--data", help="hub id, local .jsonl/.json/.parquet file or sample:NAME (default: task's)")
    parser.add_argument("--split", help="dataset split (default: the task's)")
    parser.add_argument("--limit", type=int, help="mine only the first N examples")
    parser.add_argument("--out", type=Path, required=True, help="output directory (rerun to resume)")
    parser.add_argument("--max-samples", type=int, default=64, help="sample budget per query (default: 64)")
    parser.add_argument("--keep", type=int, default=1,
                        help="failures to find and keep per query before it stops (default: 1)")
    parser.add_argument("--schedule", choices=("adaptive", "fixed"), default="adaptive",
                        help="adaptive: rounds of 1, 1, 2, 4, ... samples; fixed: all --max-samples at once")
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="generation backend (default: hf)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0, help="run seed; each sample's seed is derived from it")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="queries per generate call (may change between resumptions; default: 32)")
    parser.add_argument("--overwrite", action="store_true", help="delete the mining files in --out and start again")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from r3.generation import load_generator
    from r3.mining import MiningConfig, MiningStore, mine, run_identity
    from r3.tasks import get_task

    config = MiningConfig(
        max_samples=args.max_samples, keep=args.keep, schedule=args.schedule, temperature=args.temperature,
        top_p=args.top_p, max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=args.batch_size,
    )
    task = get_task(args.task)
    examples = task.load(args.data, args.split, args.limit)
    identity = run_identity(config, examples, model=args.model, task=args.task, data=args.data, split=args.split,
                            limit=args.limit, backend=args.backend)
    # the store refuses a different run in --out before the (slow) model load
    with MiningStore.open(args.out, identity, overwrite=args.overwrite) as store:
        unfinished = len(store.ledger) < len(examples)
        generator = load_generator(args.model, backend=args.backend) if unfinished else None
        stats = mine(task, generator, examples, config, store, progress=not args.no_progress)
    print(stats.summary())
    print(f"failures: {args.out / 'failures.jsonl'}; statistics: {args.out / 'stats.json'}")
    return 0
