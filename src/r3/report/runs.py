"""What a finished (or running) `r3 train` run left on disk, read back for reports.

A run directory holds metrics.jsonl, samples.jsonl, train_summary.json and r3_train_config.yaml (written by
`r3.training.watch` and `r3.training.trainer`). Runs from before metrics.jsonl existed fall back to the
`log_history` of their newest checkpoint's trainer_state.json.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from r3.errors import R3Error, shorten
from r3.training.callbacks import METRICS_FILE, SAMPLES_FILE, read_jsonl
from r3.training.summary import read_summary

CONFIG_FILE = "r3_train_config.yaml"  # r3.training.trainer.RUN_CONFIG_FILE (not imported: it pulls in TRL)


@dataclass
class Run:
    """One training run's record."""

    directory: Path
    records: list[dict[str, Any]]
    samples: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def model(self) -> str:
        return str(self.config.get("model") or "unknown model")

    @property
    def task(self) -> str:
        return str(self.config.get("task") or "unknown task")


def log_history(directory: Path) -> list[dict[str, Any]]:
    """TRL's logged metrics from the newest checkpoint's trainer_state.json ([] when there is none)."""
    states = sorted(directory.glob("checkpoint-*/trainer_state.json"),
                    key=lambda p: int(p.parent.name.split("-")[-1]) if p.parent.name.split("-")[-1].isdigit() else -1)
    for path in (directory / "trainer_state.json", *reversed(states)):
        if path.exists():
            try:
                return json.loads(path.read_text(encoding="utf-8")).get("log_history", [])
            except (OSError, ValueError):
                continue
    return []


def run_records(directory: str | Path) -> list[dict[str, Any]]:
    """A run's logged metrics: metrics.jsonl, else the newest checkpoint's log_history ([] when neither)."""
    directory = Path(directory)
    return read_jsonl(directory / METRICS_FILE) or log_history(directory)


def load_run(directory: str | Path) -> Run:
    """Read a run directory; R3Error when it holds no training record at all."""
    directory = Path(directory)
    if not directory.is_dir():
        raise R3Error(f"{directory}: no such run directory")
    records = run_records(directory)
    if not records:
        raise R3Error(f"{directory}: no {METRICS_FILE} and no checkpoint trainer_state.json: not an r3 training run "
                      "(or it has not logged a step yet)")
    summary = read_summary(directory)
    if summary is not None:
        check_summary(directory / "train_summary.json", summary)
    samples = read_jsonl(directory / SAMPLES_FILE)
    for name, rows in ((METRICS_FILE, records), (SAMPLES_FILE, samples)):
        step = next((r["step"] for r in rows if "step" in r and not _is_int(r["step"])), None)
        if step is not None or (name == SAMPLES_FILE and any("step" not in r for r in rows)):
            raise R3Error(f"{directory / name}: a record's 'step' is {shorten(step, 40)}, not an integer; the file was "
                          "edited or is not r3's")
    config: dict[str, Any] = {}
    if (directory / CONFIG_FILE).exists():
        try:
            loaded = yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            config = loaded if isinstance(loaded, dict) else {}
        except (OSError, yaml.YAMLError):
            config = {}
    return Run(directory, records, samples, summary, config)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_share(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and all(_is_number(value.get(k)) for k in ("accuracy", "low",
                                                                                                  "high"))
                             and all(_is_int(value.get(k)) for k in ("correct", "n")))


def _is_window(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)


def _is_alarms(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(a, dict) and _is_int(a.get("step")) and
                                           isinstance(a.get("name"), str) and isinstance(a.get("message"), str)
                                           for a in value)


# train_summary.json field -> (what it must be, its check); the report reads each of them
SUMMARY_FIELDS: dict[str, tuple[str, Any]] = {
    "steps": ("an integer", _is_int), "first_step": ("an integer", _is_int), "seconds": ("a number", _is_number),
    "model_changed": ("true, false or null", lambda v: v is None or isinstance(v, bool)),
    "retry_success_start": ("a share or null", _is_share), "retry_success_end": ("a share or null", _is_share),
    "start_steps": ("[first, last]", _is_window), "end_steps": ("[first, last]", _is_window),
    "reflection_tokens_start": ("a number or null", lambda v: v is None or _is_number(v)),
    "reflection_tokens_end": ("a number or null", lambda v: v is None or _is_number(v)),
}
OPTIONAL_FIELDS: dict[str, tuple[str, Any]] = {
    "alarms": ("a list of {name, step, message}", _is_alarms), "eval_command": ("a string", lambda v: isinstance(v,
                                                                                                               str)),
}


def check_summary(path: Path, summary: Any) -> None:
    """One line naming the first missing or mistyped field of a train_summary.json the report would read."""
    if not isinstance(summary, dict):
        raise R3Error(f"{path}: not a JSON object; the file was edited or is not r3's")
    for name, (expected, valid) in (SUMMARY_FIELDS | OPTIONAL_FIELDS).items():
        if name not in summary and name in OPTIONAL_FIELDS:
            continue
        if not valid(summary.get(name)):
            raise R3Error(f"{path}: field '{name}' must be {expected}, got {shorten(summary.get(name, '(absent)'), 60)}"
                          "; the file was edited or is not r3's")


__all__ = ["Run", "load_run", "log_history", "run_records"]
