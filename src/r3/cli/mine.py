"""`r3 mine`: build the dataset of failed first attempts that training learns to reflect on.

    r3 mine --model Qwen/Qwen2.5-1.5B-Instruct --task countdown --data Jiayi-Pan/Countdown-Tasks-3to4 --limit 1000 \
        --max-samples 64 --out runs/mine-countdown
    r3 mine --model runs/tiny --task countdown --data sample:countdown --max-samples 8 --out runs/mine-tiny

Writes DIR/failures.jsonl (one line per kept query), DIR/progress.jsonl (one line per finished query), DIR/stats.json
and DIR/run.json. Rerunning the same command resumes; see docs/mining.md.
"""

from __future__ import annotations

HELP = "sample first attempts until they fail (adaptively, resumably) and write the failure dataset"


def parser():
    from r3.config.parser import ConfigParser
    from r3.mining.config import MineConfig

    return ConfigParser([MineConfig], prog="r3 mine", description=HELP,
                        epilog="r3 mine merge OUT [SHARD_DIR ...] joins finished shards (see r3 mine merge --help).")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "merge":
        from r3.cli.merge import merge_main

        return merge_main("mine", argv[1:])
    (config,) = parser().parse(argv)

    from r3 import api

    stats = api.mine(config)
    print(stats.summary())
    print(f"failures: {config.out}/failures.jsonl; statistics: {config.out}/stats.json")
    return 0
