"""What `r3 demo --overwrite` (and the restart of an interrupted training stage) may delete: only the demo's files.

Why not `shutil.rmtree` of each stage folder: a user's notes inside `train/` or `eval_before/` would go with it. The
eval and mine stages are run directories, so their manifests say what they wrote (`r3.rundir.remove_run`). A training
folder also holds what transformers writes (weights, tokenizer, checkpoints), which no manifest lists: those are
removed by name, and a file of any other name stays, with the folders that hold it. Nothing is deleted through a
symbolic link (`r3.rundir.paths`).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from r3.rundir import remove_run
from r3.rundir.paths import lstat_or_none, remove_empty_folder, remove_file

logger = logging.getLogger(__name__)

# files a training run writes into output_dir and checkpoint-N/ (transformers, TRL and r3's own)
TRAINING_FILES = (
    "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin",
    "adapter_model.safetensors", "adapter_config.json", "config.json", "generation_config.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
    "chat_template.jinja", "optimizer.pt", "scheduler.pt", "rng_state*.pth", "scaler.pt", "training_args.bin",
    "trainer_state.json", "metrics.jsonl", "samples.jsonl", "train_summary.json", "README.md", "r3_*.json",
    "r3_*.yaml", "report.md", "training_curves.png", "run.json", ".r3.lock",
)
CHECKPOINT = re.compile(r"checkpoint-\d+")


def remove_demo_output(out: Path, folders: Iterable[str], files: Iterable[str], training: Iterable[str]) -> None:
    """Delete the demo's own `files` in `out`, the runs in its stage `folders`, and the training output in its
    `training` folders; each folder goes too once it is empty."""
    for name in files:
        remove_file(out, name)
    for name in folders:
        remove_run(out / name)
    for name in training:
        remove_training_output(out / name)


def remove_training_output(folder: Path) -> None:
    """Delete what a training run wrote in `folder` (its run directory's manifest, then transformers' files by name,
    in checkpoint folders too), and the folders left empty; a file of any other name stays."""
    if not _plain_folder(folder):
        return
    remove_run(folder)
    if not _plain_folder(folder):  # remove_run took it: it held nothing else
        return
    for entry in sorted(folder.iterdir()):
        if CHECKPOINT.fullmatch(entry.name) and _plain_folder(entry):
            for inner in sorted(entry.iterdir()):
                if _known(inner.name):
                    remove_file(entry, inner.name)
            remove_empty_folder(folder, entry.name)
        elif _known(entry.name):
            remove_file(folder, entry.name)
    remove_empty_folder(folder.parent, folder.name)


def _known(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TRAINING_FILES)


def _plain_folder(path: Path) -> bool:
    status = lstat_or_none(path)
    return status is not None and stat.S_ISDIR(status.st_mode)
