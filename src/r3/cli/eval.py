"""`r3 eval`: first-attempt and within-two-attempts accuracy of a model, with reflect-retry episodes.

    r3 eval --model runs/tiny --task countdown --data sample:countdown --limit 50 --out runs/eval-tiny
    r3 eval --config my_eval.yaml --temperature 0 --backend vllm --vllm-tensor-parallel-size 2
    r3 eval --compare runs/eval-base runs/eval-trained      # the same as r3 compare

Writes OUT/episodes.jsonl (one episode per line, appended batch by batch; a rerun with the same settings resumes)
and OUT/summary.json, and prints the summary table. See docs/eval.md.
"""

from __future__ import annotations

HELP = "evaluate a model with reflect-retry episodes (accuracy at the first attempt and within two)"


def parser():
    from r3.config.parser import ConfigParser
    from r3.evaluation.config import EvalConfig

    return ConfigParser([EvalConfig], prog="r3 eval", description=HELP,
                        epilog="r3 eval --compare DIR_A DIR_B compares two finished runs (see r3 compare --help); "
                               "r3 eval merge OUT [SHARD_DIR ...] joins finished shards.")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--compare":
        from r3.cli import compare

        return compare.main(argv[1:])
    if argv and argv[0] == "merge":
        from r3.cli.merge import merge_main

        return merge_main("eval", argv[1:])
    (config,) = parser().parse(argv)

    from rich.console import Console

    from r3 import api
    from r3.evaluation.tables import summary_table

    result = api.evaluate(config)
    console = Console()
    if not hasattr(result, "record"):  # one shard of a sharded run (r3.sharding): the merged record, or None
        if result is None:
            console.print(f"this shard is done; {config.out} is merged when the last shard finishes")
            return 0
        console.print(summary_table(result))
        console.print(f"every shard is done; merged into {config.out}")
        return 0
    console.print(summary_table(result.record))
    if result.resumed_from:
        console.print(f"resumed after {result.resumed_from} episodes already in {config.out}")
    console.print(f"episodes: {result.out / 'episodes.jsonl'}  summary: {result.out / 'summary.json'}")
    return 0
