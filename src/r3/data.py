"""Loading example rows from a Hugging Face hub id, a local file, or a sample shipped with r3.

A source is resolved in this order:
1. `sample:NAME` -> the file `r3/sample_data/NAME.jsonl` shipped with the package;
2. an existing local path -> `.jsonl`, `.csv` or `.tsv` (read here, so errors name the line and field), `.json` or
   `.parquet` (through `datasets`), a directory written by `Dataset.save_to_disk`, or a dataset folder (data files,
   and a README.md whose `configs:` may declare several configurations) for `datasets.load_dataset`;
3. anything else -> a hub id for `datasets.load_dataset(source, name=config, split=split)`.

`config` is the dataset's configuration (subset) name, the `name` of `datasets.load_dataset` (TRL's
`dataset_config`): `openai/gsm8k` has `main` and `socratic`. A single file or a saved dataset has none.

Splits slice local files exactly as they slice hub datasets (`train[:100]`, `train[100:150]`, `train[10%:20%]`,
`train[:10]+train[-10:]`, parsed by `datasets.ReadInstruction`), so one file can give a training part and a held-out
part. A single file is one split: its split name is not checked, only the slice is applied.

Why rows are checked here, at read time: a row that loads but cannot be written back (a lone surrogate such as
"\\ud83d" is valid JSON but not valid Unicode) used to crash eval, mine and train at their first write, and again on
every rerun. Every bad row (undecodable bytes, lone surrogates, nesting deeper than MAX_DEPTH, malformed JSON or CSV)
is a `DataError` naming file, line and field; with `skip_bad` it is skipped and counted instead.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from r3.errors import DataError, R3Error, shorten

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 16 * 2**20  # a row is a few KiB; a longer line is refused before it is read whole
MAX_DEPTH = 64  # r3's data nests a few levels; a row nested deeper is an error, not a RecursionError later
LOCAL_TEXT_FORMATS = (".jsonl", ".csv", ".tsv")


@dataclass(frozen=True)
class Rows:
    """Rows of a source, with a label per row ("line 7", "row 3") for error messages, and how many bad rows
    `skip_bad` skipped."""

    source: str
    rows: list[dict[str, Any]]
    labels: list[str]
    skipped: int = 0


def sample_path(name: str) -> Path:
    """Path of a sample file shipped with r3 (`sample:NAME`)."""
    path = Path(str(resources.files("r3.sample_data").joinpath(f"{name}.jsonl")))
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.jsonl"))
        raise R3Error(f"no sample named '{name}'; available: {', '.join(available)}")
    return path


def check_row(row: Any, *, source: str | None = None, label: str | None = None) -> None:
    """Raise a DataError naming the field when `row` nests deeper than MAX_DEPTH or holds a lone surrogate (in a
    key or a string). Iterative, so it is bounded whatever the input."""
    if not isinstance(row, dict):
        raise DataError(f"expected a JSON object, got {type(row).__name__}", source=source, row=label)
    stack: list[tuple[Any, str, int]] = [(value, str(key), 1) for key, value in row.items()]
    stack += [(key, str(key), 0) for key in row]
    while stack:
        value, field, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DataError(f"nested deeper than {MAX_DEPTH} levels", source=source, row=label, field=_safe(field))
        if isinstance(value, str):
            bad = _lone_surrogate(value)
            if bad is not None:
                raise DataError(f"holds a lone surrogate {bad!r} (half of a UTF-16 pair: not valid Unicode)",
                                source=source, row=label, field=_safe(field))
        elif isinstance(value, dict):
            stack.extend((item, field, depth + 1) for item in value.values())
            stack.extend((key, field, depth + 1) for key in value)
        elif isinstance(value, (list, tuple)):
            stack.extend((item, field, depth + 1) for item in value)


def _lone_surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def _safe(field: str) -> str:
    """A field name fit for a message (a key may itself hold a lone surrogate)."""
    return field.encode("utf-8", "backslashreplace").decode("utf-8")


def read_jsonl(path: Path, *, skip_bad: bool = False) -> tuple[list[dict[str, Any]], list[str], int]:
    """Read a JSONL file of objects. Returns rows, their "line N" labels and how many bad lines were skipped."""
    return _collect(path, _jsonl_rows(path), skip_bad)


def read_delimited(path: Path, *, skip_bad: bool = False) -> tuple[list[dict[str, Any]], list[str], int]:
    """Read a CSV (`.csv`) or TSV (`.tsv`) file with a header line, like JSONL: rows, "line N" labels, skipped.

    Cells become values as JSON would read them when they clearly are: an empty cell is None (a missing value),
    `42` an int, `1.5` a float, `[3, 5]` / `{"a": 1}` a list or mapping (a malformed one stays text); anything else
    stays text. So `nums` of a Countdown CSV can be written `"[3, 5, 7]"`.
    """
    return _collect(path, _delimited_rows(path), skip_bad)


def _collect(path: Path, rows: Iterator[tuple[str, dict[str, Any] | DataError]],
             skip_bad: bool) -> tuple[list[dict[str, Any]], list[str], int]:
    good, labels, skipped, first_error = [], [], 0, None
    for label, row in rows:
        if isinstance(row, DataError):
            if not skip_bad:
                raise row
            skipped += 1
            first_error = first_error or row
            continue
        good.append(row)
        labels.append(label)
    if skipped:
        logger.warning("%s: skipped %d bad line(s); the first: %s", path, skipped, first_error)
        if not good:
            raise DataError(f"no readable line ({skipped} bad line(s) skipped; the first: {first_error.message})",
                            source=str(path))
    return good, labels, skipped


def _open_binary(path: Path):
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, which closes it
        start = handle.read(4)
    except OSError as error:
        raise R3Error(f"cannot read {path}: {error.strerror or error}") from None
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        handle.close()
        raise DataError("not UTF-8 text (it starts with a UTF-16 byte-order mark); save it as UTF-8",
                        source=str(path))
    handle.seek(3 if start.startswith(b"\xef\xbb\xbf") else 0)  # a UTF-8 byte-order mark is harmless: skip it
    return handle


def _bounded_lines(handle: Any, path: Path) -> Iterator[bytes | DataError]:
    """The lines of a binary file, none held longer than MAX_LINE_BYTES: a longer line (a 1 GiB file without a
    newline) is skipped in chunks and given as one DataError, instead of being read whole into memory."""
    number = 0
    while line := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield DataError(f"longer than {MAX_LINE_BYTES // 2**20} MiB: not a data row (is it the right file?)",
                            source=str(path), row=f"line {number}")
            continue
        yield line


def _bounded_text(text: io.TextIOWrapper, path: Path) -> Iterator[str]:
    """The lines of a text file for the CSV reader, refusing (DataError) one longer than MAX_LINE_BYTES."""
    number = 0
    while line := text.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(("\n", "\r")):
            raise DataError(f"longer than {MAX_LINE_BYTES // 2**20} MiB: not a data row (is it the right file?)",
                            source=str(path), row=f"line {number}")
        yield line


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any] | DataError]]:
    with _open_binary(path) as handle:
        for number, raw in enumerate(_bounded_lines(handle, path), start=1):
            label = f"line {number}"
            if isinstance(raw, DataError):
                yield label, raw
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield label, _undecodable(error, path, label)
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except RecursionError:
                yield label, DataError(f"nested too deeply to read (more than {MAX_DEPTH} levels)", source=str(path),
                                       row=label)
                continue
            except ValueError as error:
                yield label, DataError(f"not a JSON object ({error}): {shorten(line.strip())}", source=str(path),
                                       row=label)
                continue
            if not isinstance(row, dict):
                yield label, DataError(f"not a JSON object (expected a JSON object, got {type(row).__name__}): "
                                       f"{shorten(line.strip())}", source=str(path), row=label)
                continue
            yield label, _checked(row, path, label)


def _checked(row: dict[str, Any], path: Path, label: str) -> dict[str, Any] | DataError:
    try:
        check_row(row, source=str(path), label=label)
    except DataError as error:
        return error
    return row


def _undecodable(error: UnicodeDecodeError, path: Path, label: str) -> DataError:
    byte = error.object[error.start:error.start + 1]
    return DataError(f"not UTF-8 text (byte 0x{byte.hex()} at byte {error.start + 1} of the line); save the file "
                     "as UTF-8", source=str(path), row=label)


_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?")


def _cell(text: str) -> Any:
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text
    return text


def _delimited_rows(path: Path) -> Iterator[tuple[str, dict[str, Any] | DataError]]:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with _open_binary(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(_bounded_text(text, path), delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise DataError(f"not a valid header line ({error})", source=str(path), row="line 1") from None
        if not header:
            raise DataError("empty file: expected a header line naming the columns", source=str(path))
        bad = next((name for name in header if _lone_surrogate(name) is not None), None)
        if bad is not None:
            raise DataError(f"the header is not UTF-8 text ({_safe(bad)!r})", source=str(path), row="line 1")
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates or "" in header:
            raise DataError(f"the header must name each column once (duplicates: {duplicates}, "
                            f"empty: {'' in header})", source=str(path), row="line 1")
        end = reader.line_num
        while True:
            label = f"line {end + 1}"
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                end = reader.line_num
                yield label, DataError(f"not a valid {path.suffix[1:].upper()} line ({error})", source=str(path),
                                       row=label)
                continue
            end = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            yield label, _delimited_row(header, cells, path, label)


def _delimited_row(header: list[str], cells: list[str], path: Path, label: str) -> dict[str, Any] | DataError:
    if len(cells) != len(header):
        return DataError(f"{len(cells)} fields, but the header names {len(header)}", source=str(path), row=label)
    for name, cell in zip(header, cells):
        if _lone_surrogate(cell) is not None:  # undecodable bytes, kept as surrogate escapes by the reader
            return DataError("not UTF-8 text; save the file as UTF-8", source=str(path), row=label, field=name)
    return _checked({name: _cell(cell) for name, cell in zip(header, cells)}, path, label)


def load_rows(source: str, split: str | None = None, limit: int | None = None, *, skip_bad: bool = False,
              config: str | None = None) -> Rows:
    """Load rows from `source` (see the module docstring); `split` may slice; `limit` keeps the first N rows after it;
    `config` names the dataset's configuration (subset).

    With `skip_bad`, bad rows are skipped and counted in `Rows.skipped` instead of raising a DataError.
    """
    if limit is not None and limit < 0:
        raise R3Error(f"limit must be at least 0, got {limit}")
    if source.startswith("sample:"):
        source = str(sample_path(source.split(":", 1)[1]))
    path = Path(source).expanduser()
    if path.exists() and not _is_dataset_folder(path):
        if config is not None:
            raise R3Error(f"{path}: data_config '{config}' names a configuration, but a single file or a saved "
                          "dataset has none; leave data_config out")
        rows, labels, skipped = _load_local(path, split, skip_bad)
    else:
        rows, labels, skipped = _load_builder(str(path) if path.exists() else source, config, split, limit, skip_bad)
    if limit is not None:
        rows, labels = rows[:limit], labels[:limit]
    return Rows(source=source, rows=rows, labels=labels, skipped=skipped)


def normalize_rows(loaded: Rows, normalize: Callable[[dict[str, Any]], dict[str, Any]], *,
                   skip_bad: bool = False) -> tuple[list[dict[str, Any]], int]:
    """`normalize` every row, naming source and row in a DataError; with `skip_bad` such rows are skipped and
    counted (the count includes `loaded.skipped`). For `Task.load`: a task's field errors are bad rows too."""
    examples, skipped = [], loaded.skipped
    for row, label in zip(loaded.rows, loaded.labels):
        try:
            examples.append(normalize(row))
        except DataError as error:
            located = error.at(source=loaded.source, row=label)
            if not skip_bad:
                raise located from None
            skipped += 1
            logger.warning("skipped: %s", located)
    return examples, skipped


def split_name(split: str | None) -> str | None:
    """The split's name without its slice: `train[:100]` -> `train`."""
    return None if split is None else split.split("[", 1)[0].split("+", 1)[0] or None


def slice_rows(rows: list[Any], labels: list[str], split: str | None, where: str) -> tuple[list[Any], list[str]]:
    """Apply the slice of `split` (`name[a:b]`, percentages, `+` unions) to one split's rows, as `datasets` would."""
    if split is None or "[" not in split:
        return rows, labels
    import datasets

    name = split_name(split) or "train"
    spec = split if split.startswith(name) else name + split
    try:
        instructions = datasets.ReadInstruction.from_spec(spec).to_absolute({name: len(rows)})
    except (ValueError, AssertionError, KeyError) as error:
        raise R3Error(f"{where}: cannot slice with split '{split}' ({shorten(str(error), 120)}); write e.g. "
                      "train[:100], train[100:150] or train[10%:20%]") from None
    if any(part.splitname != name for part in instructions):
        raise R3Error(f"{where}: split '{split}' names more than one split; a single file has one")
    picked = [i for part in instructions for i in range(part.from_, part.to)]
    return [rows[i] for i in picked], [labels[i] for i in picked]


def _load_local(path: Path, split: str | None, skip_bad: bool) -> tuple[list[dict[str, Any]], list[str], int]:
    if not path.is_dir() and not path.is_file():  # a FIFO would block the reader, a device never end
        raise R3Error(f"{path} is not a regular file (a device, FIFO or socket); r3 reads data only from files")
    if path.is_file() and path.suffix in LOCAL_TEXT_FORMATS:
        reader = read_jsonl if path.suffix == ".jsonl" else read_delimited
        rows, labels, skipped = reader(path, skip_bad=skip_bad)
        rows, labels = slice_rows(rows, labels, split, str(path))
        return rows, labels, skipped
    import datasets

    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                name = split_name(split) or "train"
                if name not in loaded:
                    raise R3Error(f"{path}: no split '{name}'; it has {', '.join(sorted(loaded))}")
                loaded = loaded[name]
        elif path.suffix in (".json", ".parquet"):
            builder = "json" if path.suffix == ".json" else "parquet"
            loaded = datasets.load_dataset(builder, data_files=str(path), split="train")
        else:
            raise R3Error(f"{path}: unsupported file type '{path.suffix}' (use .jsonl, .csv, .tsv, .json or .parquet)")
    except (OSError, ValueError, KeyError, datasets.exceptions.DatasetGenerationError) as error:
        raise R3Error(f"{path}: cannot read dataset: {shorten(str(error), 200)}") from None
    rows, labels = slice_rows(list(loaded), [f"row {i}" for i in range(len(loaded))], split, str(path))
    return _checked_rows(rows, labels, str(path), skip_bad)


def _checked_rows(rows: list[dict[str, Any]], labels: list[str], source: str,
                  skip_bad: bool) -> tuple[list[dict[str, Any]], list[str], int]:
    good, good_labels, skipped = [], [], 0
    for row, label in zip(rows, labels):
        try:
            check_row(row, source=source, label=label)
        except DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        good.append(row)
        good_labels.append(label)
    return good, good_labels, skipped


SAVED_DATASET_FILES = ("dataset_dict.json", "state.json")  # what `save_to_disk` writes


def _is_dataset_folder(path: Path) -> bool:
    """A folder for `datasets.load_dataset` (data files, maybe a README.md declaring configs), not one written by
    `save_to_disk`."""
    return path.is_dir() and not any((path / name).is_file() for name in SAVED_DATASET_FILES)


def _load_builder(source: str, config: str | None, split: str | None, limit: int | None,
                  skip_bad: bool) -> tuple[list[dict[str, Any]], list[str], int]:
    """A hub dataset or a local dataset folder through `datasets.load_dataset(source, name=config, split=...)`."""
    import datasets

    split = split or "train"
    spec = f"{split}[:{limit}]" if limit is not None and "[" not in split and not skip_bad else split
    what = "dataset folder" if Path(source).is_dir() else "a loadable hub dataset"
    try:
        loaded = datasets.load_dataset(source, name=config, split=spec)
    except Exception as error:  # noqa: BLE001 - the hub raises many unrelated types; all mean "could not load"
        detail = " ".join(str(error).replace('"', "").split())[:200]
        if "config name is missing" in detail.lower():
            detail = detail.split(" Example of usage")[0] + "; choose one with data_config"
        where = f"{source}: cannot read the {what}" if what == "dataset folder" else \
            f"'{source}' is neither a local file nor {what}"
        config_note = f", config '{config}'" if config else ""
        raise R3Error(f"{where} (split '{split}'{config_note}): {type(error).__name__}: {detail}") from None
    return _checked_rows(list(loaded), [f"row {i}" for i in range(len(loaded))], source, skip_bad)
