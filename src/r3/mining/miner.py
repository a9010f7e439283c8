"""Failure mining: sample first attempts of every query until one fails, in growing rounds, and keep the failures.

    r3 mine --model Qwen/Qwen2.5-1.5B-Instruct --task countdown --max-samples 64 --out runs/mine

The loop keeps up to `batch_size` queries in flight. Each step asks every one of them for its next round of samples
(1, 1, 2, 4, ... see `schedule.py`) in ONE generate call, so batches stay large although every query has its own
number of samples; verifies them; and commits the queries that are finished (enough failures, or budget spent) to
the store, whose slots are refilled with new queries. Each sample carries its own seed, a function of the run seed,
the problem id and the sample index, so a query's samples do not depend on what else is in the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from r3.episodes.progress import GenerationProgress, PhaseHooks
from r3.errors import DataError
from r3.mining.config import MineConfig
from r3.mining.schedule import QueryState, RoundSchedule, sample_seed
from r3.mining.stats import MiningStats
from r3.mining.store import STATS_FILE, FinishedQuery, MiningStore, write_atomic
from r3.tasks.base import Task
from r3.types import Completion, Generator, Message, SamplingParams

logger = logging.getLogger(__name__)

RESERVED_FIELDS = ("task", "problem_id", "prompt_messages", "failed_attempts", "mining")


def run_identity(config: MineConfig, examples: Sequence[dict[str, Any]], **arguments: Any) -> dict[str, Any]:
    """The contents of run.json: every argument that decides what is mined, plus a hash of the examples."""
    identity = config.identity()
    identity.update(arguments)
    identity["data_sha256"] = hashlib.sha256(
        json.dumps(list(examples), sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()
    return identity


def mine(
    task: Task,
    generator: Generator,
    examples: Sequence[dict[str, Any]],
    config: MineConfig,
    store: MiningStore,
    progress: bool = True,
    indices: Sequence[int] | None = None,
) -> MiningStats:
    """Mine every example not yet in `store`; return the statistics of the whole run (earlier sessions included).

    `indices` restricts the run to those examples (a shard's share, `r3.sharding`); a query keeps its global index,
    and so its problem id and per-sample seeds, which makes merged shards equal to the unsharded run.

    Finished queries are committed to the store after every generate call, so an interruption loses at most the
    queries in flight. `stats.json` is written at the end, also when interrupted.
    """
    _check_field_names(examples)
    schedule, params = config.round_schedule(), config.sampling()
    share = range(len(examples)) if indices is None else indices
    stats = MiningStats.from_ledger(store.ledger.values(), config.max_samples, len(share))
    todo = [i for i in share if i not in store.ledger]
    pending = iter(todo)
    seeded = bool(todo) and _takes(generator, "seeds")
    if todo and not seeded:
        logger.warning("%s does not take per-sample seeds: the mined set equals a fixed pass's in distribution, "
                       "not draw for draw (see docs/mining.md)", type(generator).__name__)
    # a round is a batch of 0 items: the bar moves when queries finish, its text follows the round's tokens
    bar = GenerationProgress(total=len(share), initial=stats.queries_seen, desc="mining", enabled=progress)
    in_flight: list[QueryState] = []
    step = 0
    try:
        while True:
            in_flight += _take(pending, config.batch_size - len(in_flight), task, examples)
            if not in_flight:
                break
            call_seed = sample_seed(config.seed, f"call/{len(share) - len(todo)}", step)  # fresh per session
            bar.batch_started(0, [params.max_new_tokens])
            _sample_round(task, generator, in_flight, schedule, params, config, seeded, call_seed, bar)
            step += 1
            finished = [state for state in in_flight if state.done(schedule, config.keep)]
            store.commit([_finished_query(task, state) for state in finished])
            for state in finished:
                stats.add(store.ledger[state.index])
            in_flight = [state for state in in_flight if not state.done(schedule, config.keep)]
            bar.batch_done(len(finished), note=f"kept {stats.queries_kept}, samples {stats.sample_ratio:.1%} of fixed")
    finally:
        bar.close()
        write_atomic(store.directory / STATS_FILE, json.dumps(stats.to_dict(), indent=2) + "\n")
    return stats


def _check_field_names(examples: Sequence[dict[str, Any]]) -> None:
    """Refuse, before sampling anything, an example whose field would collide with a failure-dataset column."""
    for index, example in enumerate(examples):
        clash = [name for name in RESERVED_FIELDS if name in example]
        if clash:
            raise DataError(f"the example has a field named like a failure-dataset column ({', '.join(clash)})",
                            row=f"example {index}", field=clash[0])


def _take(pending: Iterator[int], count: int, task: Task, examples: Sequence[dict[str, Any]]) -> Iterator[QueryState]:
    """Up to `count` new queries from `pending`, with their first-attempt prompts."""
    for _ in range(max(count, 0)):
        index = next(pending, None)
        if index is None:
            return
        example = examples[index]
        prompt = [dict(message) for message in task.prompt(example)]
        yield QueryState(index=index, problem_id=task.problem_id(example, index), example=example, prompt=prompt)


def _sample_round(
    task: Task,
    generator: Generator,
    states: list[QueryState],
    schedule: RoundSchedule,
    params: SamplingParams,
    config: MineConfig,
    seeded: bool,
    call_seed: int,
    hooks: PhaseHooks,
) -> None:
    """Draw the next round of every query in one generate call (one prompt per sample, n=1) and record verdicts."""
    prompts: list[list[Message]] = []
    seeds: list[int] = []
    owners: list[QueryState] = []
    for state in states:
        for offset in range(schedule.next_round(state.drawn)):
            prompts.append(state.prompt)
            seeds.append(sample_seed(config.seed, state.problem_id, state.drawn + offset))
            owners.append(state)
    hooks.phase_started(f"round of {len(states)} queries", len(prompts), params.max_new_tokens)
    completions = _generate(generator, prompts, params, seeds if seeded else None, call_seed, hooks)
    for state, completion in zip(owners, completions):  # owners are grouped by query, in sample order
        verdict = task.verify(state.example, completion.text)
        state.record(completion, verdict.correct, verdict.reason, config.keep)


def _generate(
    generator: Generator, prompts: list[list[Message]], params: SamplingParams, seeds: list[int] | None, call_seed: int,
    hooks: PhaseHooks,
) -> list[Completion]:
    """One completion per prompt: with per-sample `seeds` if given, else with one seed for the whole call."""
    options: dict[str, Any] = {"seeds": seeds} if seeds is not None else {}
    if _takes(generator, "on_tokens"):
        options["on_tokens"] = hooks.on_tokens  # the bar follows the tokens of a long call
    if seeds is None:
        params = dataclasses.replace(params, seed=call_seed)
    outputs = generator.generate(prompts, params, **options)
    if len(outputs) != len(prompts) or any(len(output) != 1 for output in outputs):
        raise RuntimeError(f"{type(generator).__name__}.generate returned {len(outputs)} outputs for "
                           f"{len(prompts)} prompts (expected one completion each)")
    hooks.phase_done("sampling", len(prompts))
    return [output[0] for output in outputs]


def _takes(generator: Generator, name: str) -> bool:
    """Whether `generator.generate` accepts the keyword `name`: `seeds` (one seed per prompt, each prompt sampled
    from its own) or `on_tokens` (progress per decoding step)."""
    try:
        return name in inspect.signature(generator.generate).parameters
    except (TypeError, ValueError):
        return False


def _finished_query(task: Task, state: QueryState) -> FinishedQuery:
    mining = {"samples": state.drawn, "failures": state.failures_seen, "first_failure_at": state.first_failure_at}
    ledger = {**mining, "tokens": state.tokens}
    if not state.kept:
        return FinishedQuery(state.index, state.problem_id, ledger)
    row = {
        **state.example,
        "task": task.name,
        "problem_id": state.problem_id,
        "prompt_messages": state.prompt,
        "failed_attempts": state.failed,
        "mining": {**mining, "index": state.index},
    }
    return FinishedQuery(state.index, state.problem_id, ledger, row)
