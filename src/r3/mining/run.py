"""`r3 mine` end to end: configured task and data, the crash-safe store, the model, the mining loop.

    stats = mine_run(MineConfig(model="runs/tiny", task="countdown", data="sample:countdown", out="runs/m"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r3.config import generator_options
from r3.mining.config import MineConfig
from r3.mining.miner import mine, run_identity
from r3.mining.stats import MiningStats
from r3.mining.store import MiningStore
from r3.types import Generator


def mine_run(config: MineConfig, *, generator: Generator | None = None, shard: Any = None) -> MiningStats:
    """Mine (or resume mining) into `config.out`; `generator` replaces loading `config.model` (tests, the demo).

    `shard` (an `r3.sharding.Shard`) mines only its share of the queries into its own run directory,
    OUT/shard-I-of-N, whose identity adds the shard's place; `r3.sharding` merges the shards."""
    from r3.generation import check_model_source, load_generator

    config.check_required()
    task = config.build_task()
    if generator is None:
        check_model_source(config.model)
    examples = task.load(config.data, config.split, config.limit, skip_bad=config.skip_bad_lines,
                         config=config.data_config)
    identity = run_identity(config, examples)
    out, indices = Path(config.out), None
    if shard is not None:
        identity |= shard.identity(len(examples))
        out, indices = shard.directory(config.out), list(shard.indices(len(examples)))
    if generator is None and examples:  # what the model will see: template, its options, first prompt
        from r3.generation.templates import load_template_fingerprint

        identity["chat_template"] = load_template_fingerprint(config.model, config.chat_template_kwargs,
                                                              task.prompt(examples[0]))
    # the store refuses a different run in `out` before the (slow) model load
    with MiningStore.open(out, identity, overwrite=config.overwrite) as store:
        unfinished = len(store.ledger) < len(examples if indices is None else indices)
        if generator is None and unfinished:
            generator = load_generator(config.model, config.backend, **generator_options(config))
        return mine(task, generator, examples, config, store, progress=config.progress, indices=indices)
