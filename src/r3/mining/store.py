"""The resumable, append-only store of a mining run: DIR/run.json, DIR/failures.jsonl, DIR/progress.jsonl.

Crash safety rests on one rule: a query is finished when, and only when, its line in `progress.jsonl` (the ledger)
is complete. Every ledger line records `failures_end`, the size of `failures.jsonl` once that query's kept line
(if any) was written. A commit writes the kept lines first, flushes and fsyncs them, then the ledger lines, and
fsyncs again. Wherever a process dies (SIGKILL included), reopening the store:

1. drops a partial last line of the ledger (no newline, or not JSON);
2. truncates `failures.jsonl` to the `failures_end` of the last complete ledger line, which removes a partial
   line and any complete kept line whose query was not committed;
3. checks that the kept lines are exactly the ledger's kept queries, once each.

So a rerun redoes only uncommitted queries, and each query ends up exactly once in both files. `run.json` holds
the arguments that decide what is mined; reopening with different ones is refused, naming them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from r3.errors import R3Error

try:  # advisory lock against two processes mining into one directory (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

RUN_FILE, FAILURES_FILE, PROGRESS_FILE, STATS_FILE = "run.json", "failures.jsonl", "progress.jsonl", "stats.json"


@dataclass(frozen=True)
class FinishedQuery:
    """What mining one query produced: its ledger entry and, if it was kept, its row of the failure dataset."""

    index: int
    problem_id: str
    ledger: dict[str, Any]
    row: dict[str, Any] | None = None


@dataclass
class MiningStore:
    """An open mining directory. Use `MiningStore.open`; `commit` appends finished queries durably."""

    directory: Path
    run: dict[str, Any]
    ledger: dict[int, dict[str, Any]] = field(default_factory=dict)
    _failures: BinaryIO | None = None
    _progress: BinaryIO | None = None
    _lock: BinaryIO | None = None

    @classmethod
    def open(cls, directory: str | Path, run: dict[str, Any], overwrite: bool = False) -> MiningStore:
        """Open (creating or resuming) the run in `directory`; refuse one made with different arguments.

        `overwrite` deletes the mining files already there (and nothing else) and starts again.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory=directory, run=run)
        store._acquire_lock()
        if overwrite:
            for name in (RUN_FILE, FAILURES_FILE, PROGRESS_FILE, STATS_FILE):
                (directory / name).unlink(missing_ok=True)
        try:
            store._refuse_foreign_files()
            store.ledger = store._recover()
            store._check_run_file()
            store._failures = open(directory / FAILURES_FILE, "ab")
            store._progress = open(directory / PROGRESS_FILE, "ab")
            _fsync_dir(directory)
        except BaseException:
            store.close()  # release the lock at once, not when the store is garbage-collected
            raise
        return store

    @property
    def done(self) -> set[int]:
        return set(self.ledger)

    def commit(self, finished: list[FinishedQuery]) -> None:
        """Append finished queries: kept rows first (fsynced), then their ledger lines (fsynced)."""
        if not finished:
            return
        assert self._failures is not None and self._progress is not None, "store is closed"
        entries = []
        end = self._failures.tell()
        for query in finished:
            if query.index in self.ledger:
                raise ValueError(f"query {query.index} was already committed")
            if query.row is not None:
                self._failures.write(_jsonl(query.row))
                end = self._failures.tell()
            entries.append({**query.ledger, "index": query.index, "problem_id": query.problem_id,
                            "kept": query.row is not None, "failures_end": end})
        _flush(self._failures)
        for entry in entries:
            self._progress.write(_jsonl(entry))
        _flush(self._progress)
        for entry in entries:
            self.ledger[entry["index"]] = entry

    def close(self) -> None:
        for handle in (self._failures, self._progress, self._lock):
            if handle is not None:
                handle.close()
        self._failures = self._progress = self._lock = None

    def __enter__(self) -> MiningStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _acquire_lock(self) -> None:
        self._lock = open(self.directory / ".lock", "ab")
        if fcntl is None:
            return
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise R3Error(f"{self.directory}: another process is mining into this directory") from None

    def _refuse_foreign_files(self) -> None:
        """Never touch a failures.jsonl or progress.jsonl that no r3 mining run (no run.json) wrote."""
        if (self.directory / RUN_FILE).exists():
            return
        for name in (FAILURES_FILE, PROGRESS_FILE):
            if (self.directory / name).exists():
                raise R3Error(f"{self.directory} holds {name} but no {RUN_FILE}: not an r3 mining run; "
                              "use another --out directory")

    def _check_run_file(self) -> None:
        """Write run.json, or compare with the one there. Before any query is finished, new arguments just win."""
        path = self.directory / RUN_FILE
        if path.exists():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise R3Error(f"{path}: cannot read the run's arguments: {error}") from None
            differing = describe_differences(previous, self.run)
            if not differing:
                return
            if self.ledger:
                raise R3Error(f"{self.directory} holds a mining run with different arguments "
                              f"({'; '.join(differing)}); rerun with the same arguments to resume, or use another "
                              "--out directory (or --overwrite)")
            logger.info("%s: no query was finished yet; starting again with the new arguments", self.directory)
        write_atomic(path, json.dumps(self.run, indent=2, sort_keys=True) + "\n")

    def _recover(self) -> dict[int, dict[str, Any]]:
        """Read the ledger, cut partial lines, truncate failures.jsonl to what the ledger committed, check both."""
        progress_path, failures_path = self.directory / PROGRESS_FILE, self.directory / FAILURES_FILE
        entries, good_size = _read_complete_lines(progress_path)
        _truncate(progress_path, good_size)
        ledger: dict[int, dict[str, Any]] = {}
        for number, entry in enumerate(entries, start=1):
            if entry["index"] in ledger:
                raise R3Error(f"{progress_path}, line {number}: query {entry['index']} appears twice; "
                              "the file was edited by hand or written by two processes")
            ledger[entry["index"]] = entry
        committed = entries[-1]["failures_end"] if entries else 0
        size = failures_path.stat().st_size if failures_path.exists() else 0
        if size < committed:
            raise R3Error(f"{failures_path} holds {size} bytes but {progress_path} committed {committed}: "
                          "the failures file was cut or edited; use another --out directory")
        if size > committed:
            logger.info("dropping %d uncommitted byte(s) at the end of %s", size - committed, failures_path)
        _truncate(failures_path, committed)
        rows, _ = _read_complete_lines(failures_path)
        kept_rows = [row["mining"]["index"] for row in rows]
        kept_ledger = [entry["index"] for entry in entries if entry["kept"]]
        if kept_rows != kept_ledger:
            raise R3Error(f"{failures_path} does not match {progress_path} (kept queries differ); "
                          "use another --out directory")
        if ledger:
            logger.info("resuming %s: %d queries already mined", self.directory, len(ledger))
        return ledger


# Arguments whose value may change between a run and its resumption: they change speed, not what is mined.
FREE_ARGUMENTS = frozenset({"batch_size"})


def describe_differences(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'--flag NEW (was OLD)' for every argument that differs between two runs' run.json contents."""
    differing = []
    for key in sorted(set(previous) | set(current)):
        if key in FREE_ARGUMENTS or previous.get(key) == current.get(key):
            continue
        flag = "data contents" if key == "data_sha256" else "--" + key.replace("_", "-")
        differing.append(f"{flag} {current.get(key)!r} (was {previous.get(key)!r})")
    return differing


def read_ledger(directory: str | Path) -> list[dict[str, Any]]:
    """The complete ledger lines of a mining directory (read-only; a partial last line is ignored)."""
    entries, _ = _read_complete_lines(Path(directory) / PROGRESS_FILE)
    return entries


def _jsonl(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _read_complete_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Parse newline-terminated JSON lines, streaming; a partial or unparsable last line is left out.

    Returns the records and the byte size of the good prefix. A bad line followed by more lines cannot come from a
    crash (lines are only ever appended), so it is reported rather than dropped.
    """
    if not path.exists():
        return [], 0
    records, offset, bad = [], 0, None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if bad is not None:
                raise R3Error(f"{path}, line {bad[0]}: corrupt line in the middle of the file ({bad[1]})")
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("no newline at its end")
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                bad = (number, error)
                continue
            records.append(record)
            offset += len(line)
    return records, offset


def _truncate(path: Path, size: int) -> None:
    if not path.exists() or path.stat().st_size == size:
        return
    with open(path, "r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    """Make the creation of the files themselves durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so that readers see the old or the new contents, never a mix."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
