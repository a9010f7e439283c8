"""Learning-signal alarms: say early, in plain words, when a run cannot be learning.

A GRPO run whose groups all get the same reward has zero advantages everywhere: the loss is zero, the gradient is
zero and the weights never move, yet the trainer runs to the end and saves a model identical to the base. These
alarms watch the logged metrics and warn once a condition has held for `steps` consecutive logging steps (again
if it comes back after clearing), naming the likely cause and the fix.

    alarms = SignalAlarms(steps=5, max_completion_length=256, attempt_max_new_tokens=512)
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transformers import TrainerCallback

from r3.training.callbacks import first_value, is_training_record, retry_success, zero_spread

logger = logging.getLogger("r3.train")

TRUNCATED = 0.9  # "almost all": this share of reflections (or retries) hit their token limit
EPSILON = 1e-12
WRAP = 90  # warnings are wrapped to fit 100 columns with the level in front


@dataclass(frozen=True)
class Alarm:
    """One raised alarm: which condition, at which step, and the message shown."""

    name: str
    step: int
    message: str


@dataclass(frozen=True)
class _Condition:
    name: str
    holds: Callable[[dict[str, Any]], bool]
    message: Callable[[dict[str, Any], int], str]


def _zero_spread(record: dict[str, Any]) -> bool:
    share = zero_spread(record)
    return share is not None and share >= 1 - EPSILON


def _zero_grad(record: dict[str, Any]) -> bool:
    norm = first_value(record, "grad_norm")
    return norm is not None and abs(norm) <= EPSILON


def _saturated(record: dict[str, Any]) -> bool:
    success = retry_success(record)
    return success is not None and (success <= EPSILON or success >= 1 - EPSILON) and not _zero_spread(record)


class SignalAlarms(TrainerCallback):
    """Warns when, for `steps` logging steps in a row: every group has zero reward spread; the gradient norm is 0;
    almost all reflections or retries hit their token limit; or the retry success is 0% or 100%."""

    def __init__(self, steps: int = 5, *, max_completion_length: int | None = None,
                 attempt_max_new_tokens: int | None = None):
        if steps < 1:
            raise ValueError(f"alarm steps must be at least 1, got {steps}")
        self.steps = steps
        self.raised: list[Alarm] = []
        self._streaks: dict[str, int] = {}
        reflection_limit = f"the reflection budget ({max_completion_length} tokens)"
        retry_limit = f"the retry budget ({attempt_max_new_tokens} tokens)"
        self.conditions = [
            _Condition("zero_spread", _zero_spread, lambda r, k: (
                f"no learning signal: for {k} logged steps every group of reflections got the same reward "
                "(all retries failed, or all succeeded), so every advantage is 0 and the weights do not move. "
                "Likely cause: the retries are too hard or too easy for this model on this data, or the verifier "
                "rejects the answer format. Fix: check `r3 eval` on this data (the share of failures fixed after "
                "reflecting should be well between 0% and 100%), mine failures the model can sometimes fix, raise "
                "num_generations or the temperature.")),
            _Condition("zero_grad", _zero_grad, lambda r, k: (
                f"gradient norm 0 for {k} logged steps: no parameter is changing. Likely cause: zero reward spread "
                "(every advantage is 0) with no KL term to move, or no trainable parameters. Fix: see the reward "
                "spread; check the learning rate and, with LoRA, lora_target_modules.")),
            _Condition("reflections_truncated", lambda r: _share(r, "completions/clipped_ratio") >= TRUNCATED,
                       lambda r, k: (
                f"{100 * _share(r, 'completions/clipped_ratio'):.0f}% of reflections stopped at {reflection_limit} "
                f"for {k} logged steps: the retry sees cut-off reflections and the length is all that varies. "
                "Fix: raise reflection_max_new_tokens, or ask for a shorter reflection (reflection_instruction).")),
            _Condition("retries_truncated", lambda r: _share(r, "r3/retry_truncated") >= TRUNCATED,
                       lambda r, k: (
                f"{100 * _share(r, 'r3/retry_truncated'):.0f}% of retries stopped at {retry_limit} for {k} "
                "logged steps: a cut-off retry rarely verifies, so the reward says little about the reflection. "
                "Fix: raise attempt_max_new_tokens (the budget of the first attempt and of every retry).")),
            _Condition("saturated", _saturated, lambda r, k: (
                f"retry success was {100 * (retry_success(r) or 0):.0f}% for {k} logged steps: "
                + ("no retry succeeds, so no reflection earns a reward. Likely cause: the task is too hard for this "
                   "model, or its answers miss the format the verifier expects. Fix: check a few retries "
                   "(log_samples) and `r3 eval`; start from failures the model can fix."
                   if (retry_success(r) or 0) < 0.5 else
                   "every retry succeeds whatever the reflection says, so reflections cannot be told apart. "
                   "Likely cause: the failures are too easy (the model fixes them without reflecting). "
                   "Fix: mine harder failures (r3 mine), or lower retry_temperature so that luck fixes fewer."))),
        ]

    def check(self, record: dict[str, Any], step: int) -> list[Alarm]:
        """Update the streaks with one logged record; return the alarms it raises (also logged as warnings)."""
        new = []
        for condition in self.conditions:
            streak = self._streaks.get(condition.name, 0) + 1 if condition.holds(record) else 0
            self._streaks[condition.name] = streak
            if streak == self.steps:
                alarm = Alarm(condition.name, step, condition.message(record, streak))
                new.append(alarm)
                logger.warning(textwrap.fill(f"step {step}: {alarm.message}", width=WRAP, subsequent_indent="  "))
        self.raised.extend(new)
        return new

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and is_training_record(logs):
            self.check(logs, state.global_step)


def _share(record: dict[str, Any], key: str) -> float:
    value = first_value(record, key)
    return -1.0 if value is None else value


__all__ = ["Alarm", "SignalAlarms"]
