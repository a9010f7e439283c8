"""`r3 eval`: run reflect-retry episodes of a model on a task and write what happened, batch by batch.

    r3 eval --model Qwen/Qwen2.5-1.5B-Instruct --task countdown --data sample:countdown --limit 200 --out runs/eval

OUT/run.json      the run's settings, written first; a rerun must match them to resume.
OUT/episodes.jsonl one `Episode.to_dict()` per line, appended and flushed as each batch finishes, so Ctrl-C (or a
                  crash) leaves every finished episode on disk and a rerun with the same settings continues after them.
OUT/summary.json  written once all episodes are done: the summary of `r3.evaluation.stats.summarize`, the settings,
                  model, task, sampling and instructions. Its presence marks the run finished: rerunning into OUT is
                  refused unless `overwrite`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r3.episodes import EpisodeConfig, run_episodes
from r3.errors import R3Error
from r3.evaluation.stats import summarize
from r3.types import Episode, Generator, SamplingParams

logger = logging.getLogger(__name__)

RUN_FILE, EPISODES_FILE, SUMMARY_FILE = "run.json", "episodes.jsonl", "summary.json"


@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides an evaluation's result (and so must match for a rerun to resume)."""

    model: str
    task: str
    data: str | None = None
    split: str | None = None
    limit: int | None = None
    backend: str = "hf"
    attempts: int = 2
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    reflection_max_new_tokens: int = 256
    seed: int | None = 0
    batch_size: int = 32
    reflection_instruction: str | None = None
    retry_instruction: str | None = None

    def episode_config(self) -> EpisodeConfig:
        attempt = SamplingParams(temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
                                 seed=self.seed)
        reflection = dataclasses.replace(attempt, max_new_tokens=self.reflection_max_new_tokens)
        return EpisodeConfig(
            max_attempts=self.attempts,
            attempt_params=attempt,
            reflection_params=reflection,
            retry_params=attempt,
            reflection_instruction=self.reflection_instruction,
            retry_instruction=self.retry_instruction,
            batch_size=self.batch_size,
        )


@dataclass(frozen=True)
class EvalResult:
    """What `evaluate` hands back to the CLI: the summary record and where it lies."""

    out: Path
    record: dict[str, Any]
    resumed_from: int


def evaluate(
    settings: EvalSettings, out: str | Path, *, overwrite: bool = False, generator: Generator | None = None,
    progress: bool = True,
) -> EvalResult:
    """Run (or resume) an evaluation into `out` and return its summary record (also in OUT/summary.json).

    `generator` replaces loading `settings.model` (tests, benchmarks and the demo pass one they already hold).
    """
    from r3.tasks import get_task

    out = Path(out)
    config = settings.episode_config()  # bad numbers: one line, before anything slow
    task = get_task(settings.task)
    resume = check_out(out, settings, overwrite=overwrite)
    if generator is None:
        from r3.generation import check_model_source

        check_model_source(settings.model)  # a missing local directory: one line, before data and model loading
    examples = task.load(settings.data, settings.split, settings.limit)
    if not examples:
        raise R3Error(f"no examples to evaluate in {settings.data or task.default_source}")
    if generator is None:
        from r3.generation import load_generator

        generator = load_generator(settings.model, settings.backend)
    done = start_out(out, settings, resume=resume)  # only now, so a bad model or data leaves OUT untouched
    if len(done) > len(examples):
        raise R3Error(f"{out / EPISODES_FILE} holds {len(done)} episodes but the data has only {len(examples)}")
    started = time.perf_counter()
    episodes = done + _run_and_append(task, generator, examples, config, out / EPISODES_FILE, len(done), progress)
    elapsed = time.perf_counter() - started
    record = {
        "summary": summarize(episodes, settings.attempts),
        "settings": dataclasses.asdict(settings),
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
        "timing": {"episodes_this_session": len(episodes) - len(done), "seconds": round(elapsed, 3),
                   "resumed_after": len(done)},
    }
    _write_json(out / SUMMARY_FILE, record)
    return EvalResult(out=out, record=record, resumed_from=len(done))


def _run_and_append(task, generator, examples, config, path: Path, start: int, progress: bool) -> list[Episode]:
    """Run the remaining episodes, appending each finished batch to `path` (flushed and synced)."""
    from tqdm.auto import tqdm

    finished: list[Episode] = []
    bar = tqdm(total=len(examples), initial=start, unit="episode", desc="episodes", disable=not progress,
               dynamic_ncols=True)
    with open(path, "a", encoding="utf-8") as handle, bar:
        for batch in run_episodes(task, generator, examples, config, start_index=start):
            handle.write("".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in batch))
            handle.flush()
            os.fsync(handle.fileno())
            finished.extend(batch)
            bar.update(len(batch))
            bar.set_postfix(solved_first=sum(e.solved_at == 1 for e in finished), refresh=False)
    return finished


def check_out(out: Path, settings: EvalSettings, *, overwrite: bool) -> bool:
    """Whether `out` holds an unfinished run with these settings to resume. Refuses (R3Error) a finished run and a run
    started with other settings, unless `overwrite`. Changes nothing on disk."""
    if out.exists() and not out.is_dir():
        raise R3Error(f"--out {out} exists and is not a directory")
    if overwrite:
        return False
    if (out / SUMMARY_FILE).exists():
        raise R3Error(f"{out} already holds a finished evaluation ({SUMMARY_FILE}); pass --overwrite to replace it "
                      "or choose another --out")
    if not (out / RUN_FILE).exists():
        return False
    try:
        previous = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except ValueError:
        raise R3Error(f"{out / RUN_FILE} is not valid JSON; pass --overwrite to start afresh") from None
    current = dataclasses.asdict(settings)
    changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
    if changed:
        first = changed[0]
        raise R3Error(
            f"{out} holds an unfinished evaluation with other settings ({', '.join(changed)}: e.g. {first} was "
            f"{previous.get(first)!r}, now {current.get(first)!r}); rerun with the same arguments to resume, or "
            "pass --overwrite"
        )
    return True


def start_out(out: Path, settings: EvalSettings, *, resume: bool) -> list[Episode]:
    """Make `out` ready: keep and return a resumable run's finished episodes, or clear it and record the settings."""
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        done = read_episodes(out / EPISODES_FILE, repair=True)
        logger.info("resuming %s after %d finished episodes", out, len(done))
        return done
    for name in (RUN_FILE, EPISODES_FILE, SUMMARY_FILE):
        (out / name).unlink(missing_ok=True)
    _write_json(out / RUN_FILE, dataclasses.asdict(settings))
    return []


def read_episodes(path: Path, *, repair: bool = False) -> list[Episode]:
    """Episodes of an episodes.jsonl. A last line cut off mid-write (the process was killed) is dropped, and with
    `repair` also truncated from the file so that appending continues on a clean line."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    episodes, good_end = [], 0
    for line in raw.splitlines(keepends=True):
        try:
            if not line.endswith(b"\n"):
                raise ValueError("unterminated line")
            episode = Episode.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError) as error:
            if good_end + len(line) < len(raw):  # not the last line: real corruption, not an interrupted write
                raise R3Error(f"{path}: line {len(episodes) + 1} is not an episode ({error})") from None
            logger.warning("%s: dropping a partly written last line", path)
            break
        if episode.index != len(episodes):
            raise R3Error(f"{path}: line {len(episodes) + 1} holds episode {episode.index}, expected {len(episodes)}")
        episodes.append(episode)
        good_end += len(line)
    if repair and good_end < len(raw):
        with open(path, "r+b") as handle:
            handle.truncate(good_end)
    return episodes


def read_run(out: str | Path) -> dict[str, Any]:
    """The summary record of a finished run directory (for `--compare`)."""
    path = Path(out) / SUMMARY_FILE
    if not path.exists():
        raise R3Error(f"{out} holds no finished evaluation (no {SUMMARY_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise R3Error(f"{path}: not valid JSON ({error})") from None


def _write_json(path: Path, record: dict[str, Any]) -> None:
    """Write atomically (temporary file + rename), so a reader never sees half a summary."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
