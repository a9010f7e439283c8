"""The resumable, append-only store of a mining run: DIR/run.json, DIR/failures.jsonl, DIR/progress.jsonl.

The directory itself (identity, lock, manifest, atomic writes, what `overwrite` deletes) is an `r3.rundir.RunDir`,
shared with eval and forgetting; this module adds mining's own crash-safety rule on top of it: a query is finished
when, and only when, its line in `progress.jsonl` (the ledger) is complete. Every ledger line records
`failures_end`, the size of `failures.jsonl` once that query's kept line (if any) was written. A commit writes the
kept lines first, flushes and fsyncs them, then the ledger lines, and fsyncs again. Wherever a process dies (SIGKILL
included), reopening the store:

1. drops a partial last line of the ledger (no newline, or not JSON);
2. truncates `failures.jsonl` to the `failures_end` of the last complete ledger line, which removes a partial
   line and any complete kept line whose query was not committed;
3. checks that the kept lines are exactly the ledger's kept queries, once each.

So a rerun redoes only uncommitted queries, and each query ends up exactly once in both files. `run.json` holds
the arguments that decide what is mined, the examples' hash and the model's file fingerprints (added here from the
`model` argument): reopening with different ones is refused, naming them, unless no query was finished yet.

API (small on purpose; sharding builds on it): `MiningStore.open(dir, identity, overwrite)`, `.ledger`, `.done`,
`.commit(finished)`, `.write_stats(text)`, `.close()`; `read_ledger(dir)` for readers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from r3.errors import R3Error
from r3.rundir import Appender, RunDir, dumps_line, fingerprint_model, read_json_lines, truncate
from r3.rundir import write_atomic as _write_atomic

logger = logging.getLogger(__name__)

KIND = "mine"
RUN_FILE, FAILURES_FILE, PROGRESS_FILE, STATS_FILE = "run.json", "failures.jsonl", "progress.jsonl", "stats.json"

# Arguments whose value may change between a run and its resumption: they change speed, not what is mined.
FREE_ARGUMENTS = frozenset({"batch_size", "progress", "out", "overwrite"})


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
    _dir: RunDir | None = None
    _failures: Appender | None = None
    _progress: Appender | None = None

    @classmethod
    def open(cls, directory: str | Path, run: dict[str, Any], overwrite: bool = False) -> MiningStore:
        """Open (creating or resuming) the run in `directory`; refuse one made with different arguments.

        `overwrite` deletes the files of the mining run already there (and nothing else) and starts again.
        A `model` argument adds the fingerprint of the model's files, so a replaced model directory is refused.
        """
        identity = dict(run)
        if "model" in identity and "model_files" not in identity:
            identity["model_files"] = fingerprint_model(str(identity["model"]))
        directory = Path(directory)
        _refuse_foreign_files(directory)
        rundir = RunDir.open(directory, KIND, identity, overwrite=overwrite, free=FREE_ARGUMENTS, label=_label,
                             work_files=(PROGRESS_FILE,))
        store = cls(directory=rundir.path, run=rundir.identity, _dir=rundir)
        try:
            rundir.claim(FAILURES_FILE, PROGRESS_FILE, STATS_FILE)
            if not rundir.resumed:  # a fresh run, or one that finished no query yet: its files start empty
                for name in (FAILURES_FILE, PROGRESS_FILE):
                    truncate(directory / name, 0)
            store.ledger = store._recover()
            store._failures = rundir.appender(FAILURES_FILE, repair=False)
            store._progress = rundir.appender(PROGRESS_FILE, repair=False)
        except BaseException:
            store.__exit__(BaseException)  # release the lock at once; a refused fresh run leaves nothing
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
                self._failures.write_raw(dumps_line(query.row))
                end = self._failures.tell()
            entries.append({**query.ledger, "index": query.index, "problem_id": query.problem_id,
                            "kept": query.row is not None, "failures_end": end})
        self._failures.sync()
        self._progress.append(entries)
        for entry in entries:
            self.ledger[entry["index"]] = entry

    def write_stats(self, text: str) -> None:
        """stats.json, atomically (the miner writes it at the end, also when interrupted)."""
        if self._dir is not None:  # through the run: its manifest-listed temporary file, no link followed
            self._dir.write_atomic(STATS_FILE, text)
        else:
            _write_atomic(self.directory / STATS_FILE, text)

    def close(self) -> None:
        if self._dir is not None:
            self._dir.close()  # closes the appenders and releases the lock
        self._dir = self._failures = self._progress = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None and self._dir is not None:
            self._dir.discard()  # an error before any query was committed: nothing of the run is left
        self.close()

    def _recover(self) -> dict[int, dict[str, Any]]:
        """Read the ledger, cut partial lines, truncate failures.jsonl to what the ledger committed, check both."""
        progress_path, failures_path = self.directory / PROGRESS_FILE, self.directory / FAILURES_FILE
        entries, good_size = read_json_lines(progress_path)
        truncate(progress_path, good_size)
        ledger: dict[int, dict[str, Any]] = {}
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry.get("index"), int) or not isinstance(entry.get("failures_end"), int):
                raise R3Error(f"{progress_path}, line {number}: not a ledger line (no integer 'index' and "
                              "'failures_end'); the file was edited; use another --out directory")
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
        truncate(failures_path, committed)
        rows, _ = read_json_lines(failures_path)
        kept_rows = [row.get("mining", {}).get("index") if isinstance(row.get("mining"), dict) else None
                     for row in rows]
        kept_ledger = [entry["index"] for entry in entries if entry.get("kept")]
        if kept_rows != kept_ledger:
            raise R3Error(f"{failures_path} does not match {progress_path} (kept queries differ); "
                          "use another --out directory")
        if ledger:
            logger.info("resuming %s: %d queries already mined", self.directory, len(ledger))
        return ledger


def _label(key: str) -> str:
    return "data contents" if key == "data_sha256" else "--" + key.replace("_", "-")


def _refuse_foreign_files(directory: Path) -> None:
    """Never touch a failures.jsonl or progress.jsonl that no r3 mining run (no run.json) wrote."""
    if (directory / RUN_FILE).exists() or not directory.is_dir():
        return
    for name in (FAILURES_FILE, PROGRESS_FILE, STATS_FILE):
        if (directory / name).exists() or (directory / name).is_symlink():
            raise R3Error(f"{directory} holds {name} but no {RUN_FILE}: not an r3 mining run; "
                          "use another --out directory")


def read_ledger(directory: str | Path) -> list[dict[str, Any]]:
    """The complete ledger lines of a mining directory (read-only; a partial last line is ignored)."""
    entries, _ = read_json_lines(Path(directory) / PROGRESS_FILE)
    return entries


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so that readers see the old or the new contents, never a mix (see `r3.rundir`)."""
    _write_atomic(Path(path), text)
