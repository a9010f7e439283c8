"""Fingerprints for run identities: what identifies a model directory and the rows of a data set.

Why not hash everything: model weights are gigabytes. Small files (config.json, tokenizer files) are hashed whole;
large ones by size, modification time and their first MiB, which a replaced or retrained file changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SMALL_FILE = 4 * 1024 * 1024  # hashed whole; larger files (weights) by size, mtime and their first MiB


def fingerprint_file(path: Path) -> dict[str, Any]:
    """Size, modification time and a hash: whole-file for small files, the first MiB for large ones."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(SMALL_FILE if stat.st_size <= SMALL_FILE else 1024 * 1024))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()[:16]}


# The files that make a model: weights, config, tokenizer, chat template, custom code. Other files in a model
# directory (a training run's report.md, metrics, run.json, a README) may change without changing the model, and must
# not block resuming an evaluation of it.
MODEL_FILES = frozenset({
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "tokenizer.model", "spiece.model",
    "chat_template.jinja", "chat_template.json", "preprocessor_config.json", "adapter_config.json",
})
MODEL_SUFFIXES = (".safetensors", ".bin", ".index.json", ".py", ".tiktoken", ".model", ".gguf", ".pt")


def is_model_file(name: str) -> bool:
    return name in MODEL_FILES or (name.endswith(MODEL_SUFFIXES) and name != "training_args.bin")


def fingerprint_model(model: str) -> dict[str, Any]:
    """What identifies a model: the model files of a local directory (weights, config, tokenizer, template, code;
    all its files when none of them is there), or, for a hub id, the id.
    A replaced or retrained model directory changes this; a report written beside the model does not."""
    path = Path(model).expanduser()
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        chosen = [p for p in files if is_model_file(p.name)] or files
        return {p.name: fingerprint_file(p) for p in chosen}
    if path.is_file():
        return {path.name: fingerprint_file(path)}
    # A hub id stands for itself: its cached revision is unknown until the first run downloads it, so recording it
    # would refuse every resumption of a first run. Download to a local directory to have the files checked.
    return {"hub_id": model}


def fingerprint_rows(rows: Iterable[Any]) -> dict[str, Any]:
    """The number of rows and a hash of their contents, in order: changed, added or reordered rows change it."""
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=True).encode("ascii"))
        digest.update(b"\n")
        count += 1
    return {"rows": count, "sha256": digest.hexdigest()[:16]}
