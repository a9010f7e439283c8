"""What a finished (or running) `r3 train` run left on disk, read back for reports.

A run directory holds metrics.jsonl, samples.jsonl, train_summary.json and r3_train_config.yaml (written by
`r3.training.watch` and `r3.training.trainer`). Runs from before metrics.jsonl existed fall back to the
`log_history` of their newest checkpoint's trainer_state.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from r3.errors import R3Error
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
    config: dict[str, Any] = {}
    if (directory / CONFIG_FILE).exists():
        try:
            loaded = yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            config = loaded if isinstance(loaded, dict) else {}
        except (OSError, yaml.YAMLError):
            config = {}
    return Run(directory, records, read_jsonl(directory / SAMPLES_FILE), summary, config)


__all__ = ["Run", "load_run", "log_history", "run_records"]
