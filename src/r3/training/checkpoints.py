"""Which checkpoint a training run resumes from, so that a kill never blocks, restarts or silently degrades a run.

    checkpoint = resolve_resume(output_dir, resume_from_checkpoint, settings=config_dict)
    trainer.train(resume_from_checkpoint=checkpoint)

transformers writes `checkpoint-N/` in place, in this order (transformers 5, `Trainer._save_checkpoint`): the model
weights (and config), `optimizer.pt`, `scheduler.pt`, `scaler.pt` (mixed precision only), `rng_state.pth`
(`rng_state_{rank}.pth` with several processes), and `trainer_state.json` LAST. A SIGKILL during a save leaves a
folder with some of these; `get_last_checkpoint` picks it anyway and `--resume_from_checkpoint last` dies with a
traceback, and a checkpoint without optimizer.pt or scheduler.pt resumes silently with fresh optimizer state.
transformers offers no hook to save under a temporary name and rename (the folder name is fixed inside
`_save_checkpoint`), so r3 does the other half: it inspects every checkpoint and chooses the newest COMPLETE one.

- complete: a readable trainer_state.json whose global_step matches the folder, weights (whole or every shard of an
  index), optimizer.pt, scheduler.pt and an RNG state file (or DeepSpeed's `global_step*` folder for the optimizer);
- torn: no readable trainer_state.json, or weights missing or cut short. Torn checkpoints are reported and skipped;
- missing optimizer/scheduler state (e.g. `save_only_model`): an error unless `allow_missing_state`.

The rule for a rerun into an `output_dir` that already has checkpoints, with no `resume_from_checkpoint`: the same
settings (r3_train_config.yaml beside them) resume from the newest complete checkpoint; other settings are refused,
naming what differs. It never silently starts again at step 0 over an earlier run's checkpoints.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r3.errors import R3Error

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"
WEIGHTS = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
OPTIMIZER, SCHEDULER = "optimizer.pt", "scheduler.pt"
# settings that may change between a run and its resumption without changing what it computes
FREE_SETTINGS = frozenset({"resume_from_checkpoint", "output_dir", "logging_steps", "logging_dir", "report_to",
                           "run_name", "disable_tqdm", "log_samples", "save_total_limit", "push_to_hub",
                           "hub_model_id", "overwrite", "progress", "allow_missing_optimizer_state"})


@dataclass(frozen=True)
class CheckpointStatus:
    """What one `checkpoint-N` folder holds. `torn`: not loadable at all; `missing`: state that resuming would lack."""

    path: Path
    step: int
    torn: str | None = None
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.torn is None and not self.missing


def inspect_checkpoint(path: str | Path) -> CheckpointStatus:
    """Check one checkpoint folder (see the module docstring for what complete means)."""
    path = Path(path)
    match = CHECKPOINT.match(path.name)
    step = int(match.group(1)) if match else -1
    torn = _torn_reason(path, step)
    if torn is not None:
        return CheckpointStatus(path, step, torn=torn)
    missing = []
    has_deepspeed = any(child.is_dir() and child.name.startswith("global_step") for child in path.iterdir())
    if not (path / OPTIMIZER).is_file() and not has_deepspeed:
        missing.append(OPTIMIZER)
    if not (path / SCHEDULER).is_file():
        missing.append(SCHEDULER)
    if not any(path.glob("rng_state*.pth")):
        missing.append("rng_state.pth")
    return CheckpointStatus(path, step, missing=tuple(missing))


def _torn_reason(path: Path, step: int) -> str | None:
    state_file = path / TRAINER_STATE
    if not state_file.is_file():
        return f"no {TRAINER_STATE} (killed while saving?)"
    try:
        state = json.loads(state_file.read_bytes())
    except (OSError, ValueError, RecursionError):
        return f"{TRAINER_STATE} is cut short or not JSON"
    if not isinstance(state, dict) or (step >= 0 and state.get("global_step") != step):
        return f"{TRAINER_STATE} does not describe step {step}"
    return _weights_problem(path)


def _weights_problem(path: Path) -> str | None:
    """None when the folder holds complete weights: a whole file, or an index and every shard it names."""
    for index_name in INDEXES:
        index = path / index_name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_bytes())["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return f"{index_name} is cut short or not an index"
            absent = sorted(name for name in shards if not (path / name).is_file())
            if absent:
                return f"weight shard(s) missing: {', '.join(absent[:3])}"
            bad = next((name for name in sorted(shards) if _safetensors_problem(path / name)), None)
            return None if bad is None else f"{bad}: {_safetensors_problem(path / bad)}"
    for name in WEIGHTS:
        if (path / name).is_file():
            problem = _safetensors_problem(path / name) if name.endswith(".safetensors") else None
            if (path / name).stat().st_size == 0:
                problem = "empty"
            return None if problem is None else f"{name}: {problem}"
    if any(child.is_dir() and child.name.startswith("global_step") for child in path.iterdir()):
        return None  # DeepSpeed keeps the weights in its own folder
    return "no model weights"


def _safetensors_problem(path: Path) -> str | None:
    """A safetensors file whose header or data is cut short (a kill mid-write); reads only the header."""
    if not path.name.endswith(".safetensors"):
        return None
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error, RecursionError):
        return "cut short (unreadable header)"
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    if path.stat().st_size < 8 + length + max(ends, default=0):
        return "cut short (fewer bytes than its header announces)"
    return None


def list_checkpoints(output_dir: str | Path) -> list[CheckpointStatus]:
    """Every `checkpoint-N` folder of `output_dir`, oldest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [child for child in output_dir.iterdir()
             if CHECKPOINT.match(child.name) and child.is_dir() and not child.is_symlink()]
    return sorted((inspect_checkpoint(child) for child in found), key=lambda status: status.step)


def newest_complete(output_dir: str | Path, *, allow_missing_state: bool = False) -> Path | None:
    """The newest checkpoint that can be resumed from; torn ones newer than it are reported (logged) and skipped."""
    for status in reversed(list_checkpoints(output_dir)):
        if status.torn is not None:
            logger.warning("skipping the torn checkpoint %s: %s", status.path, status.torn)
            continue
        if status.missing and not allow_missing_state:
            raise _missing_state_error(status)
        if status.missing:
            logger.warning("%s lacks %s: resuming with fresh state for it (allow_missing_optimizer_state)",
                           status.path, ", ".join(status.missing))
        return status.path
    return None


def _missing_state_error(status: CheckpointStatus) -> R3Error:
    return R3Error(f"{status.path} lacks {', '.join(status.missing)}: resuming would restart the optimizer or "
                   "learning-rate schedule silently; pass --allow_missing_optimizer_state true to resume anyway")


def resolve_resume(output_dir: str | Path, resume_from_checkpoint: str | bool | None, *,
                   settings: dict[str, Any] | None = None, saved_settings: dict[str, Any] | None = None,
                   allow_missing_state: bool = False) -> str | None:
    """The checkpoint `trainer.train(resume_from_checkpoint=...)` should get, or None to start at step 0.

    `resume_from_checkpoint`: None/False (the rerun rule of the module docstring), "last" or True (the newest
    complete checkpoint), or a path (that checkpoint, refused when torn). `settings` are this run's settings and
    `saved_settings` those recorded beside the checkpoints (None: not recorded); both as plain mappings. A
    checkpoint whose tensor shapes differ from the model's (`settings["model"]`) is refused before the model loads.
    """
    chosen = _resolve(Path(output_dir), resume_from_checkpoint, settings, saved_settings, allow_missing_state)
    if chosen is not None and settings is not None and isinstance(settings.get("model"), str):
        from r3.rundir.model_files import check_same_shapes

        check_same_shapes(chosen, settings["model"])
    return chosen


def _resolve(output_dir: Path, resume_from_checkpoint: str | bool | None, settings: dict[str, Any] | None,
             saved_settings: dict[str, Any] | None, allow_missing_state: bool) -> str | None:
    if resume_from_checkpoint in (None, False, "", "none", "None"):
        return _rerun(output_dir, settings, saved_settings, allow_missing_state)
    if resume_from_checkpoint is True or resume_from_checkpoint == "last":
        chosen = newest_complete(output_dir, allow_missing_state=allow_missing_state)
        if chosen is None:
            torn = [f"{s.path.name} ({s.torn})" for s in list_checkpoints(output_dir)]
            detail = f"; torn: {', '.join(torn)}" if torn else ""
            raise R3Error(f"resume_from_checkpoint: last: no complete checkpoint-* folder in {output_dir}{detail}")
        _log_differences(settings, saved_settings)
        logger.info("resuming from %s", chosen)
        return str(chosen)
    path = Path(str(resume_from_checkpoint))
    if not path.is_dir():
        raise R3Error(f"resume_from_checkpoint: no checkpoint directory at {path}")
    status = inspect_checkpoint(path)
    if status.torn is not None:
        raise R3Error(f"resume_from_checkpoint: {path} is a torn checkpoint ({status.torn}); use 'last' for the "
                      "newest complete one")
    if status.missing and not allow_missing_state:
        raise _missing_state_error(status)
    return str(path)


def _rerun(output_dir: Path, settings: dict[str, Any] | None, saved: dict[str, Any] | None,
           allow_missing_state: bool) -> str | None:
    statuses = list_checkpoints(output_dir)
    if not statuses:
        return None
    if settings is not None and saved is not None:
        differences = _differences(saved, settings)
        if differences:
            raise R3Error(f"{output_dir} holds checkpoints of a training run with other settings "
                          f"({'; '.join(differences)}); choose another output_dir, or pass --resume_from_checkpoint "
                          "last to continue it with the new settings")
    chosen = newest_complete(output_dir, allow_missing_state=allow_missing_state)
    if chosen is None:
        raise R3Error(f"{output_dir} holds only torn checkpoints ({', '.join(s.path.name for s in statuses)}); "
                      "move them away or choose another output_dir")
    if saved is None:
        raise R3Error(f"{output_dir} holds checkpoints ({chosen.name} the newest complete) but no record of the "
                      "settings that made them; pass --resume_from_checkpoint last to continue, or choose another "
                      "output_dir")
    logger.info("%s holds a run with the same settings: resuming from %s", output_dir, chosen)
    return str(chosen)


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    from r3.rundir import describe_differences

    saved, current = _plain(saved), _plain(current)
    return describe_differences(saved, current, free=FREE_SETTINGS, label=lambda key: "--" + key)


def _plain(settings: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings, default=str))


def _log_differences(settings: dict[str, Any] | None, saved: dict[str, Any] | None) -> None:
    if settings is None or saved is None:
        return
    differences = _differences(saved, settings)
    if differences:
        logger.warning("resuming with settings that differ from the checkpoints' run: %s", "; ".join(differences))


def clear_checkpoints(output_dir: str | Path, names: Iterable[str] | None = None) -> list[Path]:
    """Delete `checkpoint-N` folders that hold only regular files and folders (never a symlink): for an explicit
    overwrite of a training run. Returns what was deleted."""
    removed = []
    for status in list_checkpoints(output_dir):
        if names is not None and status.path.name not in set(names):
            continue
        if any(entry.is_symlink() for entry in status.path.rglob("*")):
            logger.warning("%s holds symbolic links; not deleting it", status.path)
            continue
        shutil.rmtree(status.path)
        removed.append(status.path)
    return removed
