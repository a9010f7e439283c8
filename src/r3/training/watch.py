"""Everything that lets a researcher watch and trust a run, attached to a trainer in one call.

    recorder = attach(trainer, reward, output_dir=..., task=..., data=..., split=..., limit=..., mode="offline")
    trainer.train()
    recorder.summary   # model changed? retry success start -> end; also OUTPUT_DIR/train_summary.json

Console line per logging step, sample reflection -> retry pairs, OUTPUT_DIR/metrics.jsonl and samples.jsonl
(`r3.training.callbacks`), learning-signal alarms (`r3.training.alarms`), the end-of-run summary
(`r3.training.summary`), and r3's model card in place of TRL's (`r3.training.model_card`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r3.training.alarms import SignalAlarms
from r3.training.callbacks import Console, MetricsFile, install
from r3.training.summary import RunRecorder, eval_command

DEFAULT_ALARM_STEPS = 5


def attach(trainer: Any, reward: Any, *, output_dir: str | Path, task: str, data: str | None = None,
           split: str | None = None, limit: int | None = None, mode: str = "offline", log_samples: int = 2,
           samples_every: int | None = None, alarm_steps: int = DEFAULT_ALARM_STEPS,
           attempt_max_new_tokens: int | None = None, settings: dict[str, Any] | None = None) -> RunRecorder:
    """Install r3's console, metrics file, alarms and summary on `trainer`; returns the summary recorder.

    `reward` is the bound `RetryReward` (its `last_samples` feed the sample pairs and the retry tallies); give it
    `log_samples=0` so that the pairs are not logged twice. `attempt_max_new_tokens` is the retry's token budget
    (named in the truncation alarm). `settings` (the training config as a mapping) are the task options, templates,
    budgets and sampling the suggested `r3 eval` repeats."""
    console = Console(reward, log_samples=log_samples, samples_every=samples_every)
    alarms = SignalAlarms(alarm_steps, max_completion_length=trainer.args.max_completion_length,
                          attempt_max_new_tokens=attempt_max_new_tokens)
    command = eval_command(output_dir, task, data, split, limit, mode, settings)
    recorder = RunRecorder(output_dir, reward, alarms, command)
    install(trainer, [console, MetricsFile(output_dir, reward, console), alarms, recorder])
    return recorder


__all__ = ["DEFAULT_ALARM_STEPS", "attach"]
