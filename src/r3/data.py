"""Loading example rows from a Hugging Face hub id, a local file, or a sample shipped with r3.

A source is resolved in this order:
1. `sample:NAME` -> the file `r3/sample_data/NAME.jsonl` shipped with the package;
2. an existing local path -> `.jsonl` (read here, so errors name the line), `.json` or `.parquet` (through
   `datasets`), or a directory written by `Dataset.save_to_disk`;
3. anything else -> a hub id for `datasets.load_dataset(source, split=split)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from r3.errors import DataError, R3Error, shorten


@dataclass(frozen=True)
class Rows:
    """Rows of a source, with a label per row ("line 7", "row 3") for error messages."""

    source: str
    rows: list[dict[str, Any]]
    labels: list[str]


def sample_path(name: str) -> Path:
    """Path of a sample file shipped with r3 (`sample:NAME`)."""
    path = Path(str(resources.files("r3.sample_data").joinpath(f"{name}.jsonl")))
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.jsonl"))
        raise R3Error(f"no sample named '{name}'; available: {', '.join(available)}")
    return path


def read_jsonl(path: Path, *, skip_bad: bool = False) -> tuple[list[dict[str, Any]], list[str], int]:
    """Read a JSONL file of objects. Returns rows, their "line N" labels and how many bad lines were skipped."""
    rows, labels, skipped = [], [], 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
            except ValueError as error:
                if skip_bad:
                    skipped += 1
                    continue
                raise DataError(f"not a JSON object ({error}): {shorten(line.strip())}", source=str(path),
                                row=f"line {number}") from None
            rows.append(row)
            labels.append(f"line {number}")
    return rows, labels, skipped


def load_rows(source: str, split: str | None = None, limit: int | None = None) -> Rows:
    """Load rows from `source` (see the module docstring); `limit` keeps the first N rows."""
    if source.startswith("sample:"):
        source = str(sample_path(source.split(":", 1)[1]))
    path = Path(source).expanduser()
    if path.exists():
        rows, labels = _load_local(path, split)
    else:
        rows, labels = _load_hub(source, split, limit)
    if limit is not None:
        rows, labels = rows[:limit], labels[:limit]
    return Rows(source=source, rows=rows, labels=labels)


def _load_local(path: Path, split: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    if path.is_file() and path.suffix == ".jsonl":
        rows, labels, _ = read_jsonl(path)
        return rows, labels
    import datasets

    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                loaded = loaded[split or "train"]
        elif path.suffix in (".json", ".parquet"):
            builder = "json" if path.suffix == ".json" else "parquet"
            loaded = datasets.load_dataset(builder, data_files=str(path), split="train")
        else:
            raise R3Error(f"{path}: unsupported file type '{path.suffix}' (use .jsonl, .json or .parquet)")
    except (OSError, ValueError, KeyError, datasets.exceptions.DatasetGenerationError) as error:
        raise R3Error(f"{path}: cannot read dataset: {error}") from None
    return list(loaded), [f"row {i}" for i in range(len(loaded))]


def _load_hub(source: str, split: str | None, limit: int | None) -> tuple[list[dict[str, Any]], list[str]]:
    import datasets

    split = split or "train"
    spec = f"{split}[:{limit}]" if limit is not None else split
    try:
        loaded = datasets.load_dataset(source, split=spec)
    except Exception as error:  # the hub raises many unrelated types; all mean "could not load"
        raise R3Error(
            f"'{source}' is neither a local file nor a loadable hub dataset (split '{split}'): "
            f"{type(error).__name__}: {shorten(str(error), 200)}"
        ) from None
    return list(loaded), [f"row {i}" for i in range(len(loaded))]
