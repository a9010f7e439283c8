"""Sharded mining: each process (or job of an array) mines its share of the queries into its own crash-safe run
directory, and a merge gives exactly the run one process would have made.

    r3 mine ... --out runs/mine --num-shards 3 --shard-index 0     # job-array style, one command per shard
    accelerate launch --num_processes 8 -m r3 mine ... --out runs/mine   # or torchrun: RANK / WORLD_SIZE decide
    r3 mine merge runs/mine                                         # automatic once the last shard finishes

Why it is built this way:
- Shard i of N takes the queries whose index is i modulo N. Striding (not blocks) spreads hard and easy queries, and
  data sorted by difficulty or source, evenly over the shards.
- A query keeps its global index, so its problem id, its per-sample seeds (a function of run seed, problem id and
  sample index: r3.mining.schedule.sample_seed) and so its samples are those of the unsharded run. The merged
  failures, ledger and statistics are therefore the unsharded run's: the same kept rows, the same counts.
- Each shard is an ordinary mining run directory, OUT/shard-I-of-N, with the unsharded identity plus the shard's
  place in it (`num_shards`, `shard_index`, `queries_total`): resuming a shard resumes only that shard, and a shard
  started with other arguments, or a different N, is refused by the run directory's own rule.
- The merge re-commits every finished query, in index order, through `MiningStore` into OUT, so OUT is a complete
  mining run with the unsharded identity: `r3 train --data OUT` reads it, and `r3 mine` with the same arguments and
  no shards finds nothing left to do.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r3.errors import R3Error

logger = logging.getLogger(__name__)

SHARD_FIELDS = ("num_shards", "shard_index", "queries_total", "shard_batch_size")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the queries whose index is `index` modulo `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise R3Error(f"shard_index must be in 0..num_shards-1, got shard_index {self.index} of num_shards "
                          f"{self.count}")

    def indices(self, total: int) -> range:
        """Global indices of this shard's queries among `total`."""
        return range(self.index, total, self.count)

    def directory(self, out: str | Path) -> Path:
        """Where this shard's run lives: OUT/shard-I-of-N (numbers padded so that names sort)."""
        return Path(out) / f"shard-{self.index:05d}-of-{self.count:05d}"

    def identity(self, total: int) -> dict[str, int]:
        """What a shard adds to the run's identity."""
        return {"num_shards": self.count, "shard_index": self.index, "queries_total": total}

    def batches(self, total: int, batch_size: int) -> range:
        """Evaluation: this shard's contiguous block of whole batches, as a range of example indices. Whole batches,
        so a shard runs exactly the batches the unsharded run runs: with the HF and vLLM backends an episode's seeds
        are its own (r3.episodes.engine) and any split would do, but a generator without per-prompt seeds is seeded
        by batch and phase."""
        count = -(-total // batch_size)
        per_shard = -(-count // self.count)
        return range(min(self.index * per_shard * batch_size, total),
                     min((self.index + 1) * per_shard * batch_size, total))


def resolve_shard(num_shards: int | None = None, shard_index: int | None = None,
                  environ: Mapping[str, str] | None = None) -> Shard | None:
    """The shard this process works on: explicit `num_shards`/`shard_index` (job arrays across machines), else
    WORLD_SIZE/RANK as torchrun and `accelerate launch` set them (one process per GPU), else None (unsharded)."""
    environ = os.environ if environ is None else environ
    if num_shards is not None or shard_index is not None:
        if num_shards is None or shard_index is None:
            raise R3Error("give both num_shards and shard_index (or neither, to take them from RANK/WORLD_SIZE)")
        return Shard(shard_index, num_shards) if num_shards > 1 else None
    try:
        world, rank = int(environ.get("WORLD_SIZE", "1")), int(environ.get("RANK", "0"))
    except ValueError:
        raise R3Error(f"WORLD_SIZE/RANK are not integers: {environ.get('WORLD_SIZE')!r}/{environ.get('RANK')!r}") \
            from None
    return Shard(rank, world) if world > 1 else None


def shard_examples(examples: Sequence[Any], shard: Shard | None) -> list[int]:
    """Global indices of the examples `shard` takes (all of them when unsharded)."""
    return list(shard.indices(len(examples)) if shard is not None else range(len(examples)))


def shard_directories(out: str | Path) -> list[Path]:
    """The shard run directories inside `out`, sorted."""
    return sorted(p for p in Path(out).glob("shard-*-of-*") if p.is_dir())


def read_identity(directory: Path) -> dict[str, Any]:
    """The identity recorded in a run directory's run.json (without the run directory's own manifest)."""
    from r3.rundir import META_KEY, RUN_FILE

    path = directory / RUN_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise R3Error(f"{path}: not a readable run file ({error})") from None
    return {k: v for k, v in record.items() if k != META_KEY}


def check_shards(directories: Sequence[Path], free: frozenset[str] = frozenset()) -> tuple[dict[str, Any], int]:
    """The unsharded identity the shards share, and the total number of queries. Refuses (R3Error) shards of
    different runs, a missing or repeated shard index, and shards of different counts."""
    if not directories:
        raise R3Error("no shard directories to merge (expected OUT/shard-I-of-N folders, or name them)")
    identities = [read_identity(d) for d in directories]
    for directory, identity in zip(directories, identities):
        missing = [k for k in SHARD_FIELDS[:3] if k not in identity]  # shard_batch_size: evaluation only
        if missing:
            raise R3Error(f"{directory} is not a shard of a sharded run (run.json has no {missing[0]})")
    counts = {i["num_shards"] for i in identities}
    if len(counts) != 1:
        raise R3Error(f"the shards were made with different num_shards: {sorted(counts)}")
    (count,) = counts
    found = sorted(i["shard_index"] for i in identities)
    if found != list(range(count)):
        lacking = sorted(set(range(count)) - set(found))
        raise R3Error(f"expected shards 0..{count - 1} once each, found {found}"
                      + (f" (shard {lacking[0]} is missing)" if lacking else ""))
    reference = _unsharded(identities[0], free)
    for directory, identity in zip(directories[1:], identities[1:]):
        other = _unsharded(identity, free)
        changed = sorted(k for k in set(reference) | set(other) if reference.get(k) != other.get(k))
        if changed:
            raise R3Error(f"{directory} belongs to another run than {directories[0]} (they differ in "
                          f"{', '.join(changed)})")
    return _unsharded(identities[0], frozenset()) | {"queries_total": identities[0]["queries_total"]}, count


def _unsharded(identity: dict[str, Any], free: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k not in SHARD_FIELDS and k not in free}


def merge_mining_shards(out: str | Path, directories: Sequence[str | Path] | None = None, *,
                        overwrite: bool = False):
    """Merge finished mining shards into `out` (default shards: OUT/shard-*-of-*); returns the merged MiningStats.

    Refuses, naming the shard, an unfinished shard or one of another run. The merged run is what one process mining
    all queries writes: the same kept rows (in query order), ledger and stats.json.
    """
    from r3.mining.stats import MiningStats
    from r3.mining.store import FREE_ARGUMENTS, FinishedQuery, MiningStore, read_ledger
    from r3.rundir import read_json_lines

    out = Path(out)
    shards = [Path(d) for d in directories] if directories else shard_directories(out)
    identity, count = check_shards(shards, FREE_ARGUMENTS)
    total = identity.pop("queries_total")
    ledger: dict[int, dict[str, Any]] = {}
    rows: dict[int, dict[str, Any]] = {}
    for directory in shards:
        shard = Shard(read_identity(directory)["shard_index"], count)
        entries = read_ledger(directory)
        done = {e["index"] for e in entries}
        expected = set(shard.indices(total))
        if done != expected:
            raise R3Error(f"{directory} is unfinished: {len(expected - done)} of its {len(expected)} queries are not "
                          "mined yet; rerun that shard (it resumes) before merging")
        ledger.update((e["index"], e) for e in entries)
        kept, _ = read_json_lines(directory / "failures.jsonl")
        rows.update((row["mining"]["index"], row) for row in kept)
    finished = [FinishedQuery(i, ledger[i]["problem_id"], _ledger_fields(ledger[i]), rows.get(i))
                for i in sorted(ledger)]
    with MiningStore.open(out, identity, overwrite=overwrite) as store:
        if store.ledger:
            raise R3Error(f"{out} already holds mined queries; pass overwrite to merge the shards again")
        store.commit(finished)
        stats = MiningStats.from_ledger(store.ledger.values(), identity["max_samples"], total)
        store.write_stats(json.dumps(stats.to_dict(), indent=2) + "\n")
    logger.info("merged %d shards into %s: %s", count, out, stats.summary())
    return stats


def _ledger_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """A ledger line as the miner hands it to the store (the store adds index, problem_id, kept, failures_end)."""
    return {k: v for k, v in entry.items() if k not in ("index", "problem_id", "kept", "failures_end")}


def merge_when_complete(out: str | Path, count: int):
    """Merge if every one of the `count` shards in `out` is finished and no merge happened yet; else None.

    Every shard calls this when it finishes, so the last one to finish merges. A shard still running holds its own
    lock and its ledger is short of its share, so the check below sees it as unfinished."""
    from r3.mining.store import read_ledger

    out = Path(out)
    shards = shard_directories(out)
    if len(shards) != count or (out / "progress.jsonl").exists():
        return None
    for directory in shards:
        identity = read_identity(directory)
        share = len(Shard(identity["shard_index"], count).indices(identity["queries_total"]))
        if len(read_ledger(directory)) < share:
            return None
    try:
        return merge_mining_shards(out, shards)
    except R3Error as error:  # another shard merging at the same moment (its lock), or a real problem: say which
        if (out / "progress.jsonl").exists():
            logger.info("another shard is merging %s", out)
        else:
            logger.warning("shards of %s are finished but were not merged: %s; run `r3 mine merge %s`", out, error,
                           out)
        return None


def mine_shard(config, shard: Shard, *, generator=None):
    """`r3 mine` for one shard (`r3.mining.run.mine_run` with `shard`): mine this shard's share into
    OUT/shard-I-of-N, then merge into OUT if it was the last shard to finish. Returns (shard stats, merged stats or
    None). `generator` replaces loading `config.model` (tests)."""
    from r3.mining.run import mine_run

    stats = mine_run(config, generator=generator, shard=shard)
    return stats, merge_when_complete(config.out, shard.count)


# ------------------------------------------------------------------------------------------------ evaluation
GLOBAL_INDEX = "shard_global_index"  # an episode's index in the unsharded run, kept in Episode.extra in a shard


def evaluate_shard(settings, shard: Shard, *, generator=None):
    """`r3 eval` for one shard: its block of whole batches into OUT/shard-I-of-N (episodes numbered from 0 there,
    their global index in `extra`), then the merge into OUT if it was the last shard. Returns the merged summary
    record, or None while other shards are unfinished."""
    from r3.evaluation.run import load_model, prepare
    from r3.evaluation.store import EvalStore

    task, examples, identity = prepare(settings, generator=generator)
    identity |= shard.identity(len(examples)) | {"shard_batch_size": settings.batch_size}
    block = shard.batches(len(examples), settings.batch_size)
    generator = generator or load_model(settings)
    with EvalStore(shard.directory(settings.out), identity, overwrite=settings.overwrite) as store:
        episodes = store.done + _run_block(task, generator, examples, settings, store, block)
        store.write_summary(_record(settings, task, episodes))
    return merge_eval_when_complete(settings.out, shard.count)


def _run_block(task, generator, examples, settings, store, block: range) -> list:
    import dataclasses

    from r3.episodes import run_episodes

    start = block.start + len(store.done)
    finished: list = []
    for batch in run_episodes(task, generator, examples[: block.stop], settings.episode_config(), start_index=start):
        first = len(store.done) + len(finished)
        local = [dataclasses.replace(e, index=first + k, extra={**e.extra, GLOBAL_INDEX: e.index})
                 for k, e in enumerate(batch)]
        store.append(local)
        finished.extend(local)
    return finished


def _record(settings, task, episodes: list) -> dict[str, Any]:
    """summary.json of an evaluation, as `r3.evaluation.run` writes it (timing left out: it is per process)."""
    from r3.evaluation.run import summary_record

    return summary_record(settings, task, episodes)


def merge_eval_shards(out: str | Path, directories: Sequence[str | Path] | None = None, *,
                      overwrite: bool = False) -> dict[str, Any]:
    """Merge finished evaluation shards into `out`: episodes.jsonl and summary.json equal to the unsharded run's
    (episodes back at their global index, summary recomputed over all). Returns the summary record."""
    import dataclasses

    from r3.evaluation.stats import summarize
    from r3.evaluation.store import SUMMARY_FILE, EvalStore, read_episodes

    out = Path(out)
    shards = [Path(d) for d in directories] if directories else shard_directories(out)
    identity, _ = check_shards(shards, frozenset({"out", "overwrite", "progress", "batch_size"}))
    total = identity.pop("queries_total")
    episodes: dict[int, Any] = {}
    record: dict[str, Any] = {}
    for directory in shards:
        if not (directory / SUMMARY_FILE).exists():
            raise R3Error(f"{directory} is unfinished (no {SUMMARY_FILE}); rerun that shard (it resumes) first")
        record = json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))
        for e in read_episodes(directory / "episodes.jsonl"):
            extra = {k: v for k, v in e.extra.items() if k != GLOBAL_INDEX}
            episodes[e.extra[GLOBAL_INDEX]] = dataclasses.replace(e, index=e.extra[GLOBAL_INDEX], extra=extra)
    if sorted(episodes) != list(range(total)):
        raise R3Error(f"the shards in {out} hold {len(episodes)} of {total} episodes; rerun the unfinished shard")
    ordered = [episodes[i] for i in range(total)]
    record["summary"] = summarize(ordered, record["settings"]["attempts"])
    with EvalStore(out, identity, overwrite=overwrite) as store:
        if store.done:
            raise R3Error(f"{out} already holds episodes; pass overwrite to merge the shards again")
        store.append(ordered)
        store.write_summary(record)
    return record


def merge_eval_when_complete(out: str | Path, count: int) -> dict[str, Any] | None:
    """Merge if all `count` evaluation shards in `out` have their summary.json and OUT has none yet; else None."""
    out = Path(out)
    shards = shard_directories(out)
    if len(shards) != count or (out / "summary.json").exists():
        return None
    if not all((d / "summary.json").exists() for d in shards):
        return None
    try:
        return merge_eval_shards(out, shards)
    except R3Error as error:
        if (out / "run.json").exists():
            logger.info("another shard is merging %s", out)
            return None
        logger.warning("evaluation shards of %s are finished but were not merged: %s; run `r3 eval merge %s`",
                       out, error, out)
        return None
