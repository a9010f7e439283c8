"""What a rerun of `r3 train` into an existing output_dir does: resume, finish, say it is finished, or refuse.

    check_output_dir(config.model, training.output_dir)          # before anything loads
    identity = train_identity(config.model, rows, template)      # run.json, as eval and mine record theirs
    check_inputs(output_dir, identity)                            # a changed model, data or template is refused
    finished_step(output_dir, training)                           # a finished run is left as it is

The rule (docs/runs.md), the same as eval's and mine's with one addition for checkpoints:
- run.json records the run's inputs: the model files (`model_files`), the training rows (`data_rows`) and the chat
  template (`chat_template`). A rerun with other inputs over a run that did work (a checkpoint, or a finished
  model) is refused, naming what changed; changed back, it resumes. A run killed before its first checkpoint
  did nothing that can be resumed: the new inputs take over.
- The settings are recorded in r3_train_config.yaml and checked against the checkpoints by
  `r3.training.checkpoints.resolve_resume` (other settings are refused; `--resume_from_checkpoint last` continues
  with new ones, e.g. more steps).
- A run is finished once its final model is saved: r3_train_done.json, written last, records the step. A rerun of
  a finished run loads nothing and changes nothing. A run killed after its last checkpoint but before the final
  model was saved is finished from that checkpoint, without a training step (`StopAtMaxSteps`): transformers would
  otherwise train one step past max_steps when it resumes at max_steps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.utils.data import Sampler
from transformers import TrainerCallback
from trl.trainer.utils import RepeatSampler

from r3.errors import R3Error, shorten
from r3.rundir import RUN_FILE, describe_differences, fingerprint_model, fingerprint_rows
from r3.training.checkpoints import TRAINER_STATE, list_checkpoints, resolve_resume

logger = logging.getLogger("r3.train")

RUN_CONFIG_FILE = "r3_train_config.yaml"
DONE_FILE = "r3_train_done.json"
INPUTS = {"model_files": "the model files", "data_rows": "the training data", "chat_template": "the chat template"}


def check_output_dir(model: str, output_dir: str | Path) -> None:
    """Refuse an output_dir that is the model's folder, inside it, or holding it: training would write its
    checkpoints and final model over the model it loads (or delete it with the run)."""
    model_path = Path(model).expanduser()
    if not model_path.exists():
        return  # a hub id
    model_path, out = model_path.resolve(), Path(output_dir).expanduser().resolve()
    if out == model_path or out.is_relative_to(model_path):
        raise R3Error(f"output_dir {output_dir} is the model's folder or inside it ({model}); training would write "
                      "over the model it trains: choose another output_dir")
    if model_path.is_relative_to(out):
        raise R3Error(f"the model {model} is inside output_dir {output_dir}; training would write over the model "
                      "it trains: choose another output_dir")


def train_identity(model: str, rows: list[dict[str, Any]], template: dict[str, Any]) -> dict[str, Any]:
    """run.json's identity of a training run: what its checkpoints were trained from."""
    return {"model_files": fingerprint_model(model), "data_rows": fingerprint_rows(rows), "chat_template": template}


def work_files(output_dir: Path) -> list[str]:
    """The files whose presence means the run did work that a rerun would resume or keep: its checkpoints' states and
    the finished-run record (for `RunDir.open(work_files=...)`)."""
    return [f"{status.path.name}/{TRAINER_STATE}" for status in list_checkpoints(output_dir)] + [DONE_FILE]


def check_inputs(output_dir: Path, identity: dict[str, Any]) -> None:
    """Refuse a rerun whose model files, data rows or chat template differ from those of the checkpoints (or the
    finished model) in output_dir, naming what changed. `RunDir.open` applies the same rule under its lock; this
    says it in training's words (there is no --overwrite for training)."""
    recorded = _recorded_identity(output_dir)
    if recorded is None:
        return
    differences = describe_differences(recorded, json.loads(json.dumps(identity, default=str)))
    if not differences or not any(_nonempty(output_dir / name) for name in work_files(output_dir)):
        return
    changed = [what for key, what in INPUTS.items() if any(d.startswith((key + ".", key + " ")) for d in differences)]
    raise R3Error(f"{output_dir} holds a training run made with other inputs: {' and '.join(changed) or 'its inputs'} "
                  f"changed ({shorten('; '.join(differences), 300)}); restore them and rerun to resume, or choose "
                  "another output_dir")


def _recorded_identity(output_dir: Path) -> dict[str, Any] | None:
    """run.json's identity (None when absent or unreadable: `RunDir.open` reports those)."""
    try:
        record = json.loads((output_dir / RUN_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    return {k: v for k, v in record.items() if k != "r3_run"} if isinstance(record, dict) else None


def _nonempty(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and path.stat().st_size > 0


def saved_settings(output_dir: Path) -> dict[str, Any] | None:
    """The settings recorded in output_dir/r3_train_config.yaml (None when there are none)."""
    path = output_dir / RUN_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise R3Error(f"{path}: cannot read the settings of the run there: {shorten(str(error), 120)}; move it away "
                      "or choose another output_dir") from None
    return saved if isinstance(saved, dict) else None


def resume_path(training: Any, settings: dict[str, Any], allow_missing_state: bool = False) -> str | None:
    """The checkpoint to resume from (`r3.training.checkpoints.resolve_resume`): "last" = the newest COMPLETE
    checkpoint; a rerun into an output_dir with checkpoints resumes when `settings` equal those recorded there,
    and is refused otherwise (never a silent restart at step 0)."""
    return resolve_resume(training.output_dir, training.resume_from_checkpoint, settings=settings,
                          saved_settings=saved_settings(Path(training.output_dir)),
                          allow_missing_state=allow_missing_state)


def finished_run(output_dir: Path, identity: dict[str, Any], training: Any, settings: dict[str, Any], *,
                 allow_missing_state: bool = False) -> int | None:
    """The step at which the run in output_dir finished, when it is this run (same inputs and settings) and this
    run asks for no more; None when there is work left. Read-only (no lock, run.json untouched): a rerun of a
    finished run changes nothing. Refuses what a resumption would refuse."""
    from r3.rundir import RunDir

    check_inputs(output_dir, identity)
    RunDir.check(output_dir, "train", identity, work_files=work_files(output_dir))
    resume_path(training, settings, allow_missing_state)  # other settings are refused
    return finished_step(output_dir, training, settings)


def finished_step(output_dir: Path, training: Any, settings: dict[str, Any]) -> int | None:
    """The step a finished run in output_dir ended at, when this run asks for no more; None when there is training
    (or a final save) left to do. A finished run that kept no checkpoint and had other settings is refused: it
    cannot be continued, and training again would overwrite its model."""
    done = read_done(output_dir)
    if done is None:
        return None
    target = training.max_steps if training.max_steps > 0 else done.get("max_steps", -1)
    if list_checkpoints(output_dir):
        return done["step"] if done["step"] >= target else None  # settings: checked by resume_path
    saved = saved_settings(output_dir)
    same = saved is not None and not _settings_differences(saved, settings)
    if not same or done["step"] < target:
        raise R3Error(f"{output_dir} already holds a finished training run (step {done['step']}) and no checkpoint "
                      "to continue from; choose another output_dir, or delete that folder to train again")
    return done["step"]


def _settings_differences(saved: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    from r3.training.checkpoints import FREE_SETTINGS

    plain = json.loads(json.dumps(settings, default=str))
    return describe_differences(json.loads(json.dumps(saved, default=str)), plain, free=FREE_SETTINGS)


def read_done(output_dir: Path) -> dict[str, Any] | None:
    """r3_train_done.json ({"step", "max_steps"}) when the run saved its final model; None otherwise."""
    try:
        done = json.loads((output_dir / DONE_FILE).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    ok = isinstance(done, dict) and all(isinstance(done.get(k), int) for k in ("step", "max_steps"))
    return done if ok else None


def done_record(step: int, max_steps: int) -> str:
    return json.dumps({"step": step, "max_steps": max_steps}) + "\n"


class EpochShuffle(Sampler):
    """TRL's `RepeatSampler` whose shuffle for epoch e is the same in a resumed run as in an uninterrupted one: its
    generator is reseeded and advanced through the e earlier epochs' draws before each pass (`epoch()` is the
    trainer's current epoch). Any other sampler passes through unchanged."""

    def __init__(self, sampler: Any, epoch: Callable[[], int]):
        self.sampler, self.epoch = sampler, epoch

    def __iter__(self) -> Iterator[int]:
        sampler = self.sampler
        if isinstance(sampler, RepeatSampler) and sampler.shuffle and sampler.seed is not None:
            generator = torch.Generator()
            generator.manual_seed(sampler.seed)
            for _ in range(self.epoch()):  # the draws RepeatSampler.__iter__ made in the earlier epochs
                torch.randperm(sampler.num_samples, generator=generator)
            sampler.generator = generator
        return iter(sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class ReachedMaxSteps(Exception):
    """Raised by `StopAtMaxSteps` out of `trainer.train`: the checkpoint resumed from is already at max_steps."""

    def __init__(self, step: int):
        super().__init__(f"resumed at step {step}, max_steps reached")
        self.step = step


class StopAtMaxSteps(TrainerCallback):
    """Stops `trainer.train` before its first step when the resumed checkpoint is at (or past) max_steps.

    transformers checks max_steps only after a step, so resuming at max_steps trains one step too many (unless
    max_steps happens to end an epoch) and saves a different model. `on_train_begin` runs once the checkpoint's
    weights and state are loaded (on every backend, DeepSpeed and FSDP included), before any step: the trainer then
    holds exactly the weights of that checkpoint, which is what an uninterrupted run saved as its final model."""

    def on_train_begin(self, args, state, control, **kwargs):
        if state.max_steps > 0 and state.global_step >= state.max_steps:
            raise ReachedMaxSteps(state.global_step)


__all__ = ["DONE_FILE", "RUN_CONFIG_FILE", "EpochShuffle", "ReachedMaxSteps", "StopAtMaxSteps", "check_inputs",
           "check_output_dir", "done_record", "finished_run", "finished_step", "read_done", "resume_path",
           "train_identity", "work_files"]
