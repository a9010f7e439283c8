"""The files of an `r3 eval` run, on `r3.rundir.RunDir`: OUT/run.json, OUT/episodes.jsonl, OUT/summary.json.

run.json       the run's identity: the settings that decide the result, the model's files (sizes, mtimes, hashes
               of small files) and the loaded examples' hash, plus what the caller adds (a chat-template
               fingerprint); and the manifest of files the run wrote (what `overwrite` may delete).
episodes.jsonl one `Episode.to_dict()` per line, appended and fsynced batch by batch: a kill loses at most the batch
               in flight, and a torn last line is cut off when the run resumes.
summary.json   written atomically once every episode is done.

Rerunning with the same identity resumes (a finished run just rewrites its summary); with other settings, another
model directory or changed data rows it is refused, naming what differs (see docs/runs.md).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from r3.errors import R3Error, shorten
from r3.rundir import RunDir, fingerprint_model, fingerprint_rows, read_json_lines, truncate
from r3.types import Episode

logger = logging.getLogger(__name__)

KIND = "eval"
RUN_FILE, EPISODES_FILE, SUMMARY_FILE = "run.json", "episodes.jsonl", "summary.json"


def eval_identity(settings: dict[str, Any], model: str, examples: Sequence[dict[str, Any]],
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """run.json's identity: `settings` (what decides the result), `model_files` and `data_rows` fingerprints, and
    `extra` (e.g. {"chat_template": sha}) under its own keys."""
    identity = dict(settings)
    identity["model_files"] = fingerprint_model(model)
    identity["data_rows"] = fingerprint_rows(examples)
    identity.update(extra or {})
    return identity


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def check_out(out: str | Path, identity: dict[str, Any], *, overwrite: bool = False) -> bool:
    """Whether OUT holds a run with this identity to resume; refuses one with another identity. Changes nothing, so a
    refused run is refused before its model loads."""
    return RunDir.check(out, KIND, identity, overwrite=overwrite, label=_flag, claims=(EPISODES_FILE, SUMMARY_FILE))


class EvalStore:
    """An open, locked evaluation directory: `done` episodes (on resume), `append`, `write_summary`."""

    def __init__(self, out: str | Path, identity: dict[str, Any], *, overwrite: bool = False):
        # claims: a foreign episodes.jsonl or summary.json is refused before anything is written
        self.run = RunDir.open(out, KIND, identity, overwrite=overwrite, label=_flag,
                               claims=(EPISODES_FILE, SUMMARY_FILE))
        try:
            path = self.run.path / EPISODES_FILE
            self.done = read_episodes(path, repair=True) if self.run.resumed else []
            if not self.run.resumed:
                truncate(path, 0)  # a run that wrote nothing yet (an empty file) started again
            if self.done:
                logger.info("resuming %s after %d finished episodes", self.run.path, len(self.done))
            self._episodes = self.run.appender(EPISODES_FILE, repair=False)
        except BaseException:
            self.run.discard()  # a refused fresh run leaves nothing behind
            raise

    @property
    def path(self) -> Path:
        return self.run.path

    def append(self, batch: Sequence[Episode]) -> None:
        """Append finished episodes durably (flushed and fsynced before returning)."""
        self._episodes.append(episode.to_dict() for episode in batch)

    def write_summary(self, record: dict[str, Any]) -> None:
        self.run.write_json(SUMMARY_FILE, record)

    def close(self) -> None:
        self.run.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.run.__exit__(*exc)  # an error before any episode: nothing of the run is left


def read_episodes(path: Path, *, repair: bool = False) -> list[Episode]:
    """Episodes of an episodes.jsonl. A last line cut off mid-write (the process was killed) is dropped, and with
    `repair` also truncated from the file so that appending continues on a clean line."""
    records, good_end = read_json_lines(Path(path))
    episodes = []
    for number, record in enumerate(records, start=1):
        try:
            episode = Episode.from_dict(record)
        except (ValueError, KeyError, TypeError) as error:  # a whole line: edited, not torn by a kill
            raise R3Error(f"{path}: line {number} is not an episode ({error})") from None
        if episode.index != len(episodes):
            raise R3Error(f"{path}: line {number} holds episode {episode.index}, expected {len(episodes)}")
        episodes.append(episode)
    if repair and Path(path).exists() and good_end < Path(path).stat().st_size:
        logger.warning("%s: dropping a partly written last line", path)
        truncate(Path(path), good_end)
    return episodes


def read_run(out: str | Path, *, complete: bool = False) -> dict[str, Any]:
    """The summary record of a finished run directory (for `--compare`); with `complete`, every field the comparison
    tables read is checked, with its type (one line naming a missing or mistyped one)."""
    path = Path(out) / SUMMARY_FILE
    if not path.is_file():
        raise R3Error(f"{out} holds no finished evaluation (no {SUMMARY_FILE})")
    try:
        record = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:
        raise R3Error(f"{path}: not valid JSON ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("summary"), dict):
        raise R3Error(f"{path}: not an r3 evaluation summary (no 'summary' object)")
    if complete:
        _check_summary(path, record)
    return record


def _check_summary(path: Path, record: dict[str, Any]) -> None:
    """Every field `r3 compare` and the tables read, with its type: an edited or foreign summary is one line naming
    the field, not a KeyError or TypeError half-way through a table."""
    from r3.evaluation.tables import ACCURACIES, LENGTHS, TRUNCATIONS

    summary = record["summary"]

    def refuse(field: str, value: Any, expected: str) -> None:
        raise R3Error(f"{path}: field '{field}' must be {expected}, got {shorten(value, 60)}; the summary was edited "
                      "or is not r3's: rerun the evaluation")

    for key in ("task", "model"):
        if not isinstance(record.get(key), str):
            refuse(key, record.get(key, "(absent)"), "a string")
    if not isinstance(record.get("settings", {}), dict):
        refuse("settings", record["settings"], "an object")
    for key, least in (("n_problems", 0), ("max_attempts", 1)):
        value = summary.get(key, "(absent)")
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            refuse(f"summary.{key}", value, f"an integer of at least {least}")
    shares = {key: summary.get(key, "(absent)") for key in ACCURACIES}
    shares |= {key: summary[key] for key in TRUNCATIONS if key in summary}
    if summary["max_attempts"] > 2:
        within = summary.get("within_attempts")
        key = str(summary["max_attempts"])
        shares[f"within_attempts.{key}"] = within.get(key, "(absent)") if isinstance(within, dict) else within
    for key, share in shares.items():
        if not (isinstance(share, dict) and all(_is_number(share.get(k)) for k in ("accuracy", "low", "high"))
                and all(isinstance(share.get(k), int) for k in ("correct", "n"))):
            refuse(f"summary.{key}", share, "a share (accuracy, low, high, correct, n)")
    for key in LENGTHS:
        if key not in summary or not (summary[key] is None or _is_number(summary[key])):
            refuse(f"summary.{key}", summary.get(key, "(absent)"), "a number or null")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
