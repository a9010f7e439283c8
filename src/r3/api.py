"""The Python API: the same settings and stages as the command line, without a shell.

    import r3
    config = r3.load_config("eval", {"model": "runs/tiny", "task": "countdown", "data": "sample:countdown",
                                     "limit": 8, "out": "runs/eval-tiny"})
    result = r3.evaluate(config)                          # or r3.evaluate(r3.EvalConfig(model=..., task=..., ...))
    stats = r3.mine(r3.load_config("mine", "mine.yaml", ["--max_samples", "8"]))
    model_dir = r3.train(*r3.load_config("train", "configs/tiny_cpu.yaml"))
    page = r3.view(["runs/eval-tiny", "runs/train-tiny"], "runs/view.html")   # read the episodes and reflections

`load_config` parses exactly as the command line does (YAML file or dict, then `--field value` overrides), so a
config that works as `r3 eval --config FILE` works here, with the same one-line errors (`r3.errors.R3Error`).
See docs/api.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.sharding import resolve_shard

COMMAND_CONFIGS = {
    "eval": "r3.evaluation.config:EvalConfig",
    "mine": "r3.mining.config:MineConfig",
    "forgetting": "r3.forgetting.config:ForgettingConfig",
    "demo": "r3.demo.config:DemoConfig",
}


def config_class(command: str) -> type:
    """The config dataclass of a command ("eval", "mine", "forgetting", "demo"; "train" has two, see load_config)."""
    import importlib

    if command not in COMMAND_CONFIGS:
        raise R3Error(f"no config for command {command!r}; one of: train, {', '.join(COMMAND_CONFIGS)}")
    module, _, name = COMMAND_CONFIGS[command].partition(":")
    return getattr(importlib.import_module(module), name)


def load_config(command: str, source: str | Path | dict[str, Any] | None = None,
                overrides: list[str] | None = None) -> Any:
    """A command's config from a YAML file or a dict, then command-line style overrides.

    Returns the config dataclass; for "train", the pair `(TrainConfig, GRPOConfig)`.
    """
    if command == "train":
        from r3.training.config import load_train_config

        return load_train_config(source, overrides)
    from r3.config.parser import ConfigParser

    parser = ConfigParser([config_class(command)], prog=f"r3 {command}")
    if isinstance(source, dict):
        (config,) = parser.parse_mapping(source, overrides)
    else:
        (config,) = parser.parse((["--config", str(source)] if source is not None else []) + list(overrides or []))
    return config


def evaluate(config: Any, *, generator: Any = None) -> Any:
    """Run (or resume) `r3 eval`; returns `EvalResult` (its `record` is summary.json). `generator`: a loaded backend."""
    from r3.evaluation.run import evaluate as run
    from r3.preflight import check_generation

    config.check_required()
    if generator is None:
        check_generation(config)
    shard = resolve_shard(config.num_shards, config.shard_index)
    with config.torch_threads():
        if shard is not None:
            from r3.sharding import evaluate_shard

            return evaluate_shard(config, shard, generator=generator)
        return run(config, generator=generator)


def mine(config: Any, *, generator: Any = None) -> Any:
    """Run (or resume) `r3 mine`; returns the `MiningStats` also written to OUT/stats.json."""
    from r3.mining.run import mine_run
    from r3.preflight import check_generation

    config.check_required()
    if generator is None:
        check_generation(config)
    shard = resolve_shard(config.num_shards, config.shard_index)
    with config.torch_threads():
        if shard is not None:
            from r3.sharding import mine_shard

            return mine_shard(config, shard, generator=generator)[0]
        return mine_run(config, generator=generator)


def train(config: Any, training: Any) -> Path:
    """Run `r3 train` with `(TrainConfig, GRPOConfig)`; returns the directory holding the trained model."""
    from r3.preflight import check_training
    from r3.training.trainer import run_training

    config.check_required()
    check_training(config, training)
    with config.torch_threads():
        output_dir = run_training(config, training)
    if training.process_index == 0:
        write_report(output_dir)
    return output_dir


def write_report(output_dir: Path) -> None:
    """report.md and training_curves.png beside a trained model; a report that fails only warns."""
    import logging

    from r3.report import write_run_report

    try:
        logging.getLogger(__name__).info("report of the run: %s", write_run_report(output_dir))
    except (R3Error, OSError, ValueError) as error:
        logging.getLogger(__name__).warning("could not write the run's report.md: %s", error)


def view(runs: list[str | Path], out: str | Path = "view.html") -> Path:
    """Run `r3 view`: write one self-contained HTML page of eval, mine and train runs (or a demo directory's
    stages) to `out` and return its path. See docs/view.md."""
    from r3.viewer import write_page

    return write_page(list(runs), out)


def forgetting(config: Any) -> Any:
    """Run `r3 forgetting`; returns the `ForgettingResult` (rows, failures, the table)."""
    from r3.forgetting import run_forgetting
    from r3.preflight import check_forgetting

    plan = config.plan()
    check_forgetting(config)
    with config.torch_threads():
        return run_forgetting(plan)
