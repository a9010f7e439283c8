"""`r3 mine merge` and `r3 eval merge`: join finished shards into the run one process would have made.

    r3 mine merge runs/mine                         # the shards under runs/mine (shard-I-of-N folders)
    r3 eval merge runs/eval runs/a/shard-00000-of-00002 runs/b/shard-00001-of-00002   # shards from other machines

Merging happens on its own when the last shard finishes; this command is for shards finished on other machines
(copied together) or a merge that was interrupted. See docs/scaling.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from r3.config import CommandConfig, option


@dataclass
class MergeConfig(CommandConfig):
    dirs: list[str] = option([], "OUT, then optionally the shard directories (default: OUT/shard-*-of-*)")
    overwrite: bool = option(False, "replace a merged run already in OUT (only the files a merge wrote)")

    required: ClassVar[tuple[str, ...]] = ()


def merge_main(kind: str, argv: list[str]) -> int:
    from r3.config.parser import ConfigParser
    from r3.errors import R3Error
    from r3.sharding import merge_eval_shards, merge_mining_shards

    (config,) = ConfigParser([MergeConfig], prog=f"r3 {kind} merge", positionals={"dirs": "*"},
                             description=__doc__.splitlines()[0]).parse(argv)
    if not config.dirs:
        raise R3Error(f"r3 {kind} merge OUT [SHARD_DIR ...]: name the output directory")
    out, shards = config.dirs[0], config.dirs[1:] or None
    if kind == "mine":
        stats = merge_mining_shards(out, shards, overwrite=config.overwrite)
        print(stats.summary())
    else:
        record = merge_eval_shards(out, shards, overwrite=config.overwrite)
        print(f"merged {record['summary']['n_problems']} episodes")
    print(f"merged into {out}")
    return 0
