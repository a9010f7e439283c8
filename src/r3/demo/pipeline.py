"""The demo pipeline: held-out puzzles -> r3 eval -> r3 mine -> r3 train -> r3 eval -> report.

Each stage is the real r3 command, run in this process through `r3.cli.main` with the argument list that the report
prints, so a reader can rerun any stage by hand. Stages whose output is finished are skipped, so an interrupted demo
picks up where it stopped; `demo.json` in the output directory records the settings, and a rerun with other settings
into the same directory is refused unless asked to overwrite.

The control arm (`control=True`) trains with the same recipe and budget, but rewards the retry made with the
reflection left out (`r3.demo.control`), and is evaluated exactly like the main arm.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from r3.demo.model import MODEL_DIR
from r3.demo.puzzles import distinct_puzzles
from r3.demo.task import TASK_NAME
from r3.errors import R3Error

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MODEL = MODEL_DIR
DEFAULT_RECIPE = REPO_ROOT / "configs" / "demo_cpu.yaml"
SETTINGS_FILE = "demo.json"
TIMINGS_FILE = "timings.json"
REFLECTION_TOKENS = 32
CONTROL_PROGRAM = "python -m r3.demo.control"


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs on. `steps` None means the recipe's `max_steps`.

    `threads` is torch's intra-op thread count for the whole run. One is right for a model this small: it gains
    nothing from splitting its small matrix products, and on a busy machine two threads spend most of their time
    waiting for each other (generation measured 4-8x slower with 2 threads than with 1 while other jobs ran).
    """

    model: Path = DEFAULT_MODEL
    out: Path = Path("runs/demo")
    recipe: Path = DEFAULT_RECIPE
    seed: int = 0
    test_puzzles: int = 500
    mine_puzzles: int = 300
    max_samples: int = 8
    keep: int = 2
    steps: int | None = None
    batch_size: int = 128
    control: bool = False
    threads: int = 1
    attempt_tokens: int = 24  # "<answer> ( 4 * 5 ) + 3 </answer>" is 11; a model that shows its work needs ~48

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class Stage:
    """One step of the demo: a title, its command line (`program` + `argv`), and the file that marks it finished."""

    name: str
    title: str
    argv: list[str]
    done_marker: Path
    program: str = "r3"

    @property
    def command(self) -> str:
        return " ".join([self.program, *self.argv])


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


def recipe_steps(settings: DemoSettings) -> int:
    """The number of training steps: the settings' or the recipe's `max_steps`."""
    if settings.steps is not None:
        return settings.steps
    import yaml

    try:
        steps = yaml.safe_load(settings.recipe.read_text(encoding="utf-8")).get("max_steps")
    except OSError as error:
        raise R3Error(f"cannot read the demo recipe {settings.recipe}: {error.strerror}") from None
    if not isinstance(steps, int) or steps < 1:
        raise R3Error(f"{settings.recipe}: max_steps must be a positive integer, got {steps!r}")
    return steps


def write_data(settings: DemoSettings, paths: Paths) -> None:
    """Held-out test puzzles and mining puzzles, from disjoint splits, deterministic in the seed."""
    for path, split, n, offset in ((paths.test_data, "test", settings.test_puzzles, 1),
                                   (paths.train_data, "train", settings.mine_puzzles, 2)):
        try:
            puzzles = distinct_puzzles(random.Random(settings.seed * 1000 + offset), split, n)
        except ValueError as error:
            raise R3Error(f"cannot draw {n} {split} puzzles: {error}") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"id": f"{split}-{i}", **p.to_row()}) for i, p in enumerate(puzzles)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def eval_stage(name: str, title: str, settings: DemoSettings, model: Path, out: Path, data: Path) -> Stage:
    argv = ["eval", "--model", str(model), "--task", TASK_NAME, "--data", str(data), "--out", str(out),
            "--temperature", "1.0", "--max-new-tokens", str(settings.attempt_tokens),
            "--reflection-max-new-tokens", str(REFLECTION_TOKENS), "--seed", str(settings.seed),
            "--batch-size", str(settings.batch_size)]
    return Stage(name, title, argv, out / "summary.json")


def stages(settings: DemoSettings, paths: Paths) -> list[Stage]:
    steps = str(recipe_steps(settings))
    train_overrides = ["--model", str(settings.model), "--data", str(paths.mine), "--seed", str(settings.seed),
                       "--max_steps", steps, "--save_steps", steps]
    out = [
        eval_stage("eval_before", "evaluate the demo model", settings, settings.model, paths.eval_before,
                   paths.test_data),
        Stage("mine", "mine failed first attempts",
              ["mine", "--model", str(settings.model), "--task", TASK_NAME, "--data", str(paths.train_data),
               "--out", str(paths.mine), "--max-samples", str(settings.max_samples), "--keep", str(settings.keep),
               "--max-new-tokens", str(settings.attempt_tokens), "--seed", str(settings.seed),
               "--batch-size", str(settings.batch_size)],
              paths.mine / "stats.json"),
        Stage("train", "train reflections (reflection-only GRPO)",
              ["train", "--config", str(settings.recipe), *train_overrides, "--output_dir", str(paths.train)],
              paths.train / "model.safetensors"),
        eval_stage("eval_after", "evaluate the trained model", settings, paths.train, paths.eval_after,
                   paths.test_data),
    ]
    if settings.control:
        out += [
            Stage("control", "control: train the retry with the reflection left out (same recipe and budget)",
                  ["--config", str(settings.recipe), *train_overrides, "--output_dir", str(paths.control)],
                  paths.control / "model.safetensors", program=CONTROL_PROGRAM),
            eval_stage("eval_control", "evaluate the control model", settings, paths.control, paths.eval_control,
                       paths.test_data),
        ]
    return out


def check_out(settings: DemoSettings, paths: Paths, overwrite: bool) -> None:
    """Refuse to mix runs: an output directory with other settings is an error unless `overwrite`."""
    record = paths.out / SETTINGS_FILE
    if overwrite and paths.out.exists():
        shutil.rmtree(paths.out)
    if record.exists():
        previous = json.loads(record.read_text(encoding="utf-8"))
        previous.setdefault("attempt_tokens", DemoSettings.attempt_tokens)  # runs recorded before the option
        if previous != settings.to_dict():
            changed = sorted(k for k in settings.to_dict() if previous.get(k) != settings.to_dict()[k])
            raise R3Error(f"{paths.out} holds a demo run with other settings ({', '.join(changed)}); "
                          "pass --overwrite or choose another --out")
    paths.out.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(settings.to_dict(), indent=1) + "\n", encoding="utf-8")


def run_stage(stage: Stage) -> None:
    """Run a stage's command in this process (the CLI prints any user error as one line and returns 2)."""
    if stage.program == CONTROL_PROGRAM:
        from r3.demo.control import main
    else:
        from r3.cli import main
    code = main(stage.argv)
    if code != 0:
        raise R3Error(f"stage '{stage.name}' failed (exit status {code}): {stage.command}")


def run_demo(settings: DemoSettings, *, overwrite: bool = False,
             announce: Callable[[int, int, Stage], None] | None = None) -> Path:
    """Run every unfinished stage, then write the report. Returns the report's path."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _run_stages(settings, overwrite, announce)
    finally:
        torch.set_num_threads(previous_threads)


def _run_stages(settings: DemoSettings, overwrite: bool,
                announce: Callable[[int, int, Stage], None] | None) -> Path:
    from r3.demo.report import write_report

    if not (settings.model / "config.json").is_file():
        raise R3Error(f"no demo model at {settings.model}: build it with "
                      f"`python scripts/build_demo_model.py --out {MODEL_DIR}`")
    paths = Paths(settings.out)
    check_out(settings, paths, overwrite)
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
            shutil.rmtree(stage.done_marker.parent)  # an interrupted training run starts again
        start = time.monotonic()
        run_stage(stage)
        timings[stage.name] = round(time.monotonic() - start, 1)
        timings_path.write_text(json.dumps(timings, indent=1) + "\n", encoding="utf-8")
    return write_report(settings, paths, plan, timings)
