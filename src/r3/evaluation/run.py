"""`r3 eval`: run reflect-retry episodes of a model on a task and write what happened, batch by batch.

    r3 eval --model Qwen/Qwen2.5-1.5B-Instruct --task countdown --data sample:countdown --limit 200 --out runs/eval

OUT/run.json      the run's identity (settings, model and data fingerprints) and the files it wrote; see store.py.
OUT/episodes.jsonl one `Episode.to_dict()` per line, appended and fsynced as each batch finishes, so Ctrl-C (or a
                  kill) leaves every finished episode on disk and a rerun with the same identity continues after them.
OUT/summary.json  written once all episodes are done: the summary of `r3.evaluation.stats.summarize`, the settings,
                  model, task, sampling and instructions. Rerunning a finished run rewrites it (docs/runs.md).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r3.episodes import run_episodes
from r3.errors import R3Error
from r3.evaluation.config import EvalConfig
from r3.evaluation.stats import summarize
from r3.evaluation.store import (  # noqa: F401 - read_episodes and read_run: the public readers, re-exported
    EPISODES_FILE,
    EvalStore,
    check_out,
    eval_identity,
    read_episodes,
    read_run,
)
from r3.types import Episode, Generator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalResult:
    """What `evaluate` hands back to the CLI: the summary record and where it lies."""

    out: Path
    record: dict[str, Any]
    resumed_from: int


def evaluate(settings: EvalConfig, *, generator: Generator | None = None,
             identity_extra: dict[str, Any] | None = None) -> EvalResult:
    """Run (or resume) an evaluation into `settings.out` and return its summary record (also in OUT/summary.json).

    `generator` replaces loading `settings.model` (tests, benchmarks and the demo pass one they already hold).
    `identity_extra` joins the run's identity (e.g. {"chat_template": fingerprint}): a rerun must match it to resume.
    """
    out, overwrite = Path(settings.out), settings.overwrite
    task, examples, identity = prepare(settings, generator=generator, identity_extra=identity_extra)
    check_out(out, identity, overwrite=overwrite)  # a refused run is refused before the model loads
    if generator is None:
        generator = load_model(settings)
        check_prompts_fit(generator, task, examples, settings.data)  # also a refusal that writes nothing
    with EvalStore(out, identity, overwrite=overwrite) as store:  # only now: a bad model leaves OUT untouched
        return _evaluate_into(store, settings, task, generator, examples, settings.episode_config())


def prepare(settings: EvalConfig, *, generator: Generator | None = None,
            identity_extra: dict[str, Any] | None = None) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Everything before the model loads: the task, its examples and the run's identity (with the chat template's
    fingerprint when the model will be loaded: what it will see). Bad settings and data fail here, in one line."""
    settings.check_required()
    task = settings.build_task()
    if generator is None:
        from r3.generation import check_model_source

        check_model_source(settings.model)  # a missing local directory: one line, before data and model loading
    examples = task.load(settings.data, settings.split, settings.limit, skip_bad=settings.skip_bad_lines,
                         config=settings.data_config)
    if not examples:
        raise R3Error(f"no examples to evaluate in {settings.data or task.default_source}")
    extra = dict(identity_extra or {})
    if generator is None and "chat_template" not in extra:
        from r3.generation.templates import load_template_fingerprint

        extra["chat_template"] = load_template_fingerprint(settings.model, settings.chat_template_kwargs,
                                                           task.prompt(examples[0]))
    return task, examples, eval_identity(settings.identity(), settings.model, examples, extra)


def check_prompts_fit(generator: Generator, task, examples: list[dict[str, Any]], data: str | None) -> None:
    """Refuse, before the run directory exists, an example whose first prompt leaves no room in the model's context
    (the HF backend's `context_length`; vLLM checks its own when it starts)."""
    limit = getattr(generator, "context_length", None)
    if not isinstance(limit, int):
        return
    for index, ids in enumerate(generator.encode([task.prompt(example) for example in examples])):
        if len(ids) >= limit:
            raise R3Error(f"{data or task.default_source}, example {index}: its prompt has {len(ids)} tokens, which "
                          f"leaves no room in the model's context of {limit} tokens")


def load_model(settings: EvalConfig) -> Generator:
    """The generation backend `settings` name, with its template and vLLM options."""
    from r3.config import generator_options
    from r3.generation import load_generator

    return load_generator(settings.model, settings.backend, **generator_options(settings))


def _evaluate_into(store: EvalStore, settings: EvalConfig, task, generator, examples, config) -> EvalResult:
    out, done = store.path, store.done
    if len(done) > len(examples):
        raise R3Error(f"{out / EPISODES_FILE} holds {len(done)} episodes but the data has only {len(examples)}")
    started = time.perf_counter()
    episodes = done + _run_and_append(task, generator, examples, config, store, len(done), settings.progress)
    elapsed = time.perf_counter() - started
    record = summary_record(settings, task, episodes)
    record["timing"] = {"episodes_this_session": len(episodes) - len(done), "seconds": round(elapsed, 3),
                        "resumed_after": len(done)}
    record["provenance"] = store.run.sessions[-1]  # versions, commit, start, command: r3.provenance
    store.write_summary(record)
    return EvalResult(out=out, record=record, resumed_from=len(done))


def summary_record(settings: EvalConfig, task, episodes: list[Episode]) -> dict[str, Any]:
    """summary.json of an evaluation (without its timing): the summary, settings, sampling and instructions."""
    config = settings.episode_config()
    return {
        "summary": summarize(episodes, settings.attempts),
        "settings": settings.identity(),
        "model": settings.model,
        "task": task.name,
        "sampling": {
            "attempt": dataclasses.asdict(config.attempt_params),
            "reflection": dataclasses.asdict(config.reflection_params),
            "retry": dataclasses.asdict(config.retry_params or config.attempt_params),
        },
        "instructions": {
            "reflection": settings.reflection_instruction or task.reflection_instruction,
            "retry": settings.retry_instruction or task.retry_instruction,
        },
    }


def _run_and_append(task, generator, examples, config, store: EvalStore, start: int, progress: bool) -> list[Episode]:
    """Run the remaining episodes, appending each finished batch to the store (flushed and fsynced)."""
    from r3.episodes.progress import GenerationProgress

    finished: list[Episode] = []
    # the bar moves within a batch (phase by phase, token by token) and names the phase in progress
    bar = GenerationProgress(total=len(examples), initial=start, enabled=progress,
                             batches=-(-(len(examples) - start) // config.batch_size))
    try:
        for batch in run_episodes(task, generator, examples, config, start_index=start, hooks=bar):
            store.append(batch)
            finished.extend(batch)
            solved = sum(e.solved_at == 1 for e in finished)
            bar.batch_done(len(batch), note=f"{solved} solved at once")
    finally:
        bar.close()
    return finished
