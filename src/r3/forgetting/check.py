"""The forgetting check: the same benchmarks on the model before and after training, compared in one table.

    r3 forgetting --base Qwen/Qwen2.5-1.5B-Instruct --trained runs/train/final --limit 200 --out runs/forgetting

Models are evaluated one after the other (only one is in memory at a time), benchmark by benchmark; each finished
benchmark is on disk at once and a rerun with the same settings skips it, so a crash or Ctrl-C costs at most the
benchmark in progress.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from r3.errors import R3Error
from r3.forgetting.benchmarks import BenchmarkSettings
from r3.forgetting.harness import (
    BenchmarkFailed,
    ModelOptions,
    build_task_manager,
    check_benchmarks,
    free_lm,
    load_lm,
    run_benchmark,
)
from r3.forgetting.report import Failure, Row, build_row, write_report
from r3.forgetting.store import ResultStore, open_run
from r3.models import resolve_model

if TYPE_CHECKING:
    from lm_eval.tasks import TaskManager

    from r3.rundir import RunDir

logger = logging.getLogger(__name__)

ROLES = ("base", "trained")


@dataclass(frozen=True)
class ForgettingPlan:
    """Everything one forgetting check needs. `limit` caps documents per task (a float < 1 is a fraction)."""

    base: str
    trained: str
    out_dir: Path
    benchmarks: tuple[BenchmarkSettings, ...]
    model: ModelOptions = field(default_factory=ModelOptions)
    include_paths: tuple[str, ...] = ()
    include_builtin: bool = True
    limit: float | None = None
    bootstrap_iters: int = 100_000
    seed: int = 1234
    log_samples: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class ForgettingResult:
    rows: list[Row]
    failures: list[Failure]
    table: str


def run_forgetting(config: ForgettingPlan, task_manager: TaskManager | None = None) -> ForgettingResult:
    """Evaluate both models, write DIR/{base,trained}/results.json, DIR/table.{md,json} and DIR/forgetting.png.

    Unknown benchmark names and models that cannot be found stop the run before anything is evaluated (R3Error).
    A benchmark that fails for a model is reported in the result's failures; the others still run.
    """
    task_manager = task_manager or build_task_manager(config.include_paths, config.include_builtin)
    check_benchmarks([settings.name for settings in config.benchmarks], task_manager)
    for model in (config.base, config.trained):
        _check_model_exists(model, config.model.trust_remote_code)
    with open_run(config.out_dir, _describe(config), overwrite=config.overwrite) as run:  # lock, identity, manifest
        run.claim("table.md", "table.json", "forgetting.png")
        return _run_checked(config, task_manager, run)


def _run_checked(config: ForgettingPlan, task_manager: TaskManager, run: RunDir) -> ForgettingResult:
    failures: list[Failure] = []
    results = {"base": _evaluate_model("base", config.base, config, task_manager, failures, skip=set(), run=run)}
    # a benchmark that failed for the base model can have no row: do not spend the trained model's time on it
    skip = {settings.name for settings in config.benchmarks} - set(results["base"])
    results["trained"] = _evaluate_model("trained", config.trained, config, task_manager, failures, skip=skip,
                                         run=run)
    rows = []
    for settings in config.benchmarks:
        name = settings.name
        if name not in results["base"] or name not in results["trained"]:
            continue
        stores = [ResultStore(config.out_dir / role) for role in ROLES]
        try:
            rows.append(
                build_row(
                    name,
                    settings.metric,
                    results["base"][name],
                    results["trained"][name],
                    stores[0].items(name),
                    stores[1].items(name),
                )
            )
        except R3Error as error:  # e.g. the requested metric is not one the task computes
            failures.append(Failure(name, "both", str(error)))
    table = write_report(
        config.out_dir, rows, failures, _describe(config), {"base": config.base, "trained": config.trained},
        provenance=run.sessions[-1], run=run,
    )
    return ForgettingResult(rows=rows, failures=failures, table=table)


def _evaluate_model(
    role: str,
    model: str,
    config: ForgettingPlan,
    task_manager: TaskManager,
    failures: list[Failure],
    skip: set[str],
    run: RunDir | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every benchmark not already finished (nor in `skip`) for this model; returns {benchmark: saved results}."""
    store = ResultStore(config.out_dir / role, run)
    done: dict[str, dict[str, Any]] = {}
    pending = []
    for settings in config.benchmarks:
        if settings.name in skip:
            logger.info("%s: skipping %s, which failed for the base model", role, settings.name)
            continue
        fingerprint = _fingerprint(model, settings, config)
        saved = None if config.overwrite else store.finished(settings.name, fingerprint)
        if saved is not None:
            logger.info("%s: %s already evaluated in %s; reusing it", role, settings.name, store.root)
            done[settings.name] = saved
        else:
            pending.append((settings, fingerprint))
    if not pending:
        return done
    logger.info("%s: loading %s (%s backend)", role, model, config.model.backend)
    lm = load_lm(model, config.model)
    try:
        for settings, fingerprint in pending:
            logger.info("%s: running %s", role, settings.name)
            try:
                raw = run_benchmark(
                    lm,
                    settings,
                    task_manager,
                    limit=config.limit,
                    bootstrap_iters=config.bootstrap_iters,
                    seed=config.seed,
                )
            except BenchmarkFailed as error:
                logger.warning("%s: %s", role, error)
                failures.append(Failure(settings.name, role, str(error)))
                continue
            done[settings.name] = store.save(settings.name, fingerprint, raw, config.log_samples)
    finally:
        free_lm(lm)
    return done


def _check_model_exists(model: str, trust_remote_code: bool) -> None:
    """Read the model's config (cheap) so a missing trained model is reported before hours on the base model."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(resolve_model(model), trust_remote_code=trust_remote_code)
    except Exception as error:  # OSError for a missing path or hub id, ValueError for an unreadable config
        logger.debug("reading the config of %s failed", model, exc_info=True)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise R3Error(f"cannot load model {model!r}: {first[:300]}") from None


def _model_stamp(model: str) -> int | None:
    """Newest modification time of a local model directory's files, so retraining into it invalidates old results."""
    path = Path(model)
    if not path.is_dir():
        return None
    return max((child.stat().st_mtime_ns for child in path.iterdir() if child.is_file()), default=None)


def _fingerprint(model: str, settings: BenchmarkSettings, config: ForgettingPlan) -> dict[str, Any]:
    """What makes a saved benchmark result reusable: same model files, settings, limit, seed, harness version."""
    from importlib.metadata import version

    return {
        "model": model,
        "model_stamp": _model_stamp(model),
        "backend": config.model.backend,
        "dtype": config.model.dtype,
        "settings": settings.as_dict(),
        "limit": config.limit,
        "bootstrap_iters": config.bootstrap_iters,
        "seed": config.seed,
        "include_paths": list(config.include_paths),
        "lm_eval": version("lm_eval"),
    }


def _describe(config: ForgettingPlan) -> dict[str, Any]:
    """The run's arguments as JSON (run.json, and the settings block of table.json)."""
    described = dataclasses.asdict(config)
    described["out_dir"] = str(config.out_dir)
    return described
