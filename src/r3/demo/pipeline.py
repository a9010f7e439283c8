"""The demo pipeline: held-out puzzles -> r3 eval -> r3 mine -> r3 train -> r3 eval -> report.

Each stage calls the public API (`r3.evaluate`, `r3.mine`, `r3.train`) with the config the real command would build;
the report prints the equivalent command line (`r3.config.command_line`), so a reader can rerun any stage by hand.
Stages whose output is finished are skipped, so an interrupted demo picks up where it stopped; `demo.json` in the
output directory records the settings, and a rerun with other settings into the same directory is refused unless
asked to overwrite (which removes only what the demo wrote there).

The control arm (`control=True`) trains with the same recipe and budget, but rewards the retry made with the
reflection left out (`r3.demo.control`), and is evaluated exactly like the main arm.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from r3.config import command_line
from r3.demo.config import DemoConfig
from r3.demo.puzzles import distinct_puzzles
from r3.demo.real import recipe_settings, write_arithmetic_data
from r3.demo.task import TASK_NAME
from r3.errors import R3Error
from r3.models import is_gguf

logger = logging.getLogger(__name__)

SETTINGS_FILE = "demo.json"
VIEW_FILE = "view.html"
TIMINGS_FILE = "timings.json"


@dataclass(frozen=True)
class Stage:
    """One step of the demo: a title, the API call that runs it, its command line, and the file marking it done."""

    name: str
    title: str
    run: Callable[[], object]
    command: str
    done_marker: Path


class Paths:
    """Where each stage writes, under the demo's output directory."""

    def __init__(self, out: Path):
        self.out = out
        self.test_data = out / "data" / "test.jsonl"
        self.train_data = out / "data" / "train.jsonl"
        self.eval_before = out / "eval_before"
        self.mine = out / "mine"
        self.train = out / "train"
        self.eval_after = out / "eval_after"
        self.control = out / "control"
        self.eval_control = out / "eval_control"
        self.report = out / "report.md"
        self.view = out / VIEW_FILE  # `r3 view` of every stage, beside the report


# what a demo run writes in its output directory: all that --overwrite may remove
OWN_NAMES = ("data", "eval_before", "mine", "train", "eval_after", "control", "eval_control", "report.md",
             "training_curves.png", VIEW_FILE, SETTINGS_FILE, TIMINGS_FILE)


def recipe_steps(settings: DemoConfig) -> int:
    """The number of training steps: the settings' or the recipe's `max_steps`."""
    if settings.steps is not None:
        return settings.steps
    from r3.config import read_config_file

    steps = read_config_file(settings.recipe_path).get("max_steps")
    if not isinstance(steps, int) or steps < 1:
        raise R3Error(f"{settings.recipe_path}: max_steps must be a positive integer, got {steps!r}")
    return steps


def write_data(settings: DemoConfig, paths: Paths) -> None:
    """Held-out test puzzles and mining puzzles, from disjoint splits, deterministic in the seed."""
    for path, split, n, offset in ((paths.test_data, "test", settings.test_puzzles, 1),
                                   (paths.train_data, "train", settings.mine_puzzles, 2)):
        if task_name(settings) == "arithmetic":  # the real-model recipe's task (r3.demo.real)
            write_arithmetic_data(path, split, n, settings.seed * 1000 + offset)
            continue
        try:
            puzzles = distinct_puzzles(random.Random(settings.seed * 1000 + offset), split, n)
        except ValueError as error:
            raise R3Error(f"cannot draw {n} {split} puzzles: {error}") from None
        lines = [json.dumps({"id": f"{split}-{i}", **p.to_row()}) for i, p in enumerate(puzzles)]
        write_own(paths.out, path.relative_to(paths.out).as_posix(), "\n".join(lines) + "\n")


def task_name(settings: DemoConfig) -> str:
    """The recipe's task: the demo's Countdown, or `arithmetic` for a real model (configs/smollm2_cpu.yaml)."""
    return recipe_settings(settings.recipe_path)["task"] or TASK_NAME


def eval_stage(name: str, title: str, settings: DemoConfig, model: Path, out: Path, data: Path) -> Stage:
    from r3 import api
    from r3.evaluation.config import EvalConfig

    config = EvalConfig(model=str(model), task=task_name(settings), data=str(data), out=str(out),
                        temperature=recipe_settings(settings.recipe_path)["temperature"],
                        attempt_max_new_tokens=settings.attempt_max_new_tokens,
                        reflection_max_new_tokens=settings.reflection_max_new_tokens, seed=settings.seed,
                        batch_size=settings.batch_size, progress=settings.progress)
    return Stage(name, title, lambda: api.evaluate(config), command_line("eval", config), out / "summary.json")


def mine_stage(settings: DemoConfig, paths: Paths) -> Stage:
    from r3 import api
    from r3.mining.config import MineConfig

    config = MineConfig(model=str(settings.model_dir), task=task_name(settings), data=str(paths.train_data),
                        out=str(paths.mine), max_samples=settings.max_samples, keep=settings.keep,
                        temperature=recipe_settings(settings.recipe_path)["temperature"],
                        attempt_max_new_tokens=settings.attempt_max_new_tokens, seed=settings.seed,
                        batch_size=settings.batch_size, progress=settings.progress)
    return Stage("mine", "mine failed first attempts", lambda: api.mine(config), command_line("mine", config),
                 paths.mine / "stats.json")


def train_stage(name: str, title: str, settings: DemoConfig, output_dir: Path, *, control: bool) -> Stage:
    """The main arm (reflection-only GRPO) or the control arm, from the same recipe and overrides."""
    from r3 import api
    from r3.training.config import load_train_config

    steps = str(recipe_steps(settings))
    overrides = ["--model", str(settings.model_dir), "--data", str(Path(settings.out) / "mine"), "--seed",
                 str(settings.seed), "--max_steps", steps, "--save_steps", steps, "--output_dir", str(output_dir)]

    def run() -> object:
        config, training = load_train_config(settings.recipe_path, overrides)
        if control:
            from r3.demo.control import train_control

            return train_control(config, training)
        return api.train(config, training)

    program = "python -m r3.demo.control" if control else "r3 train"
    command = " ".join([program, "--config", str(settings.recipe), *overrides])
    return Stage(name, title, run, command, output_dir / "model.safetensors")


def stages(settings: DemoConfig, paths: Paths) -> list[Stage]:
    out = [
        eval_stage("eval_before", "evaluate the demo model", settings, settings.model_dir, paths.eval_before,
                   paths.test_data),
        mine_stage(settings, paths),
        train_stage("train", "train reflections (reflection-only GRPO)", settings, paths.train, control=False),
        eval_stage("eval_after", "evaluate the trained model", settings, paths.train, paths.eval_after,
                   paths.test_data),
    ]
    if settings.control:
        out += [
            train_stage("control", "control: train the retry with the reflection left out (same recipe and budget)",
                        settings, paths.control, control=True),
            eval_stage("eval_control", "evaluate the control model", settings, paths.control, paths.eval_control,
                       paths.test_data),
        ]
    return out


def check_out(settings: DemoConfig, paths: Paths, overwrite: bool) -> None:
    """Refuse to mix runs: an output directory with other settings is an error unless `overwrite`, which removes
    only what a demo run writes (never a folder that holds no demo run)."""
    record = paths.out / SETTINGS_FILE
    if paths.out.exists() and not paths.out.is_dir():
        raise R3Error(f"--out {paths.out} exists and is not a directory")
    if overwrite and paths.out.exists():
        if not record.exists() and any(paths.out.iterdir()):
            raise R3Error(f"--out {paths.out} holds files but no demo run ({SETTINGS_FILE}); r3 demo --overwrite "
                          "removes only a demo run's own files: choose another --out")
        _remove_own_files(paths.out)
    identity = settings.identity()
    if record.exists():
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except ValueError:
            raise R3Error(f"{record} is not valid JSON; pass --overwrite to start afresh") from None
        if previous != identity:
            changed = sorted(k for k in identity if previous.get(k) != identity[k])
            raise R3Error(f"{paths.out} holds a demo run with other settings ({', '.join(changed) or 'format'}); "
                          "pass --overwrite or choose another --out")
    paths.out.mkdir(parents=True, exist_ok=True)
    write_own(paths.out, SETTINGS_FILE, json.dumps(identity, indent=1) + "\n")


def write_own(out: Path, name: str, text: str) -> None:
    """One of the demo's own files, atomically and never through a symbolic link (r3.rundir's rules)."""
    from r3.rundir import write_atomic
    from r3.rundir.paths import refuse_links

    refuse_links(out, name)
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    refuse_links(out, name)
    write_atomic(out / name, text)


def _remove_own_files(out: Path) -> None:
    """The demo's files only (r3.demo.overwrite): a user's file inside a stage folder stays, and so does its folder."""
    from r3.demo.overwrite import remove_demo_output
    from r3.rundir.paths import remove_empty_folder

    stage_runs = ("eval_before", "mine", "eval_after", "eval_control")
    remove_demo_output(out, stage_runs, [n for n in OWN_NAMES if "." in n] + ["data/test.jsonl", "data/train.jsonl"],
                       training=("train", "control"))
    remove_empty_folder(out, "data")


def run_demo(settings: DemoConfig, *, announce: Callable[[int, int, Stage], None] | None = None) -> Path:
    """Run every unfinished stage, then write the report. Returns the report's path."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _run_stages(settings, announce)
    finally:
        torch.set_num_threads(previous_threads)


def _run_stages(settings: DemoConfig, announce: Callable[[int, int, Stage], None] | None) -> Path:
    from r3.demo.report import write_report

    if not (settings.model_dir / "config.json").is_file() and not is_gguf(settings.model_dir):
        raise R3Error(f"no demo model at {settings.model_dir}: build it with "
                      "`python scripts/build_demo_model.py --out DIR` and pass --model DIR")
    paths = Paths(Path(settings.out))
    check_out(settings, paths, settings.overwrite)
    write_data(settings, paths)
    timings_path = paths.out / TIMINGS_FILE
    timings = json.loads(timings_path.read_text(encoding="utf-8")) if timings_path.exists() else {}
    plan = stages(settings, paths)
    for number, stage in enumerate(plan, start=1):
        if announce is not None:
            announce(number, len(plan), stage)
        if stage.done_marker.exists():
            logger.info("%s: already finished in %s, skipped", stage.name, stage.done_marker.parent)
            continue
        if stage.name in ("train", "control") and stage.done_marker.parent.exists():
            from r3.demo.overwrite import remove_training_output

            remove_training_output(stage.done_marker.parent)  # an interrupted training run starts again
        start = time.monotonic()
        stage.run()
        timings[stage.name] = round(time.monotonic() - start, 1)
        write_own(paths.out, TIMINGS_FILE, json.dumps(timings, indent=1) + "\n")
    report = write_report(settings, paths, plan, timings)
    write_view(paths)
    return report


def write_view(paths: Paths) -> None:
    """The page of every stage (`r3 view OUT`) beside report.md; a page that cannot be written only warns."""
    from r3 import api

    try:
        logger.info("page of the runs: %s", api.view([paths.out], paths.view))
    except (R3Error, OSError, ValueError) as error:
        logger.warning("could not write %s: %s", paths.view, error)
