"""What a researcher sees while `r3 train` runs, and what every run leaves behind.

    callbacks = training_callbacks(trainer, reward, output_dir, task=..., alarm_steps=5, log_samples=2)
    install(trainer, callbacks)   # replaces transformers' dict printer / tqdm bar

- `Console`: one line per logging step with the numbers that matter for reflection-only GRPO (retry success,
  reflection length, share of groups with no reward spread, KL, learning rate, speed, ETA), instead of TRL's
  29-key dict; every few steps a few reflection -> retry pairs, readably.
- `MetricsFile`: every logged metric, one JSON object per logging step, appended to OUTPUT_DIR/metrics.jsonl (the
  log backends of `report_to` still get everything); the shown samples go to OUTPUT_DIR/samples.jsonl.
- `SignalAlarms` (`r3.training.alarms`): a warning in plain words when the run cannot be learning.
- `RunRecorder` (`r3.training.summary`): fingerprints the weights before and after and writes the summary.

All of them act on the main process only; the metric values are TRL's, already averaged over processes.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from r3.errors import shorten
from r3.rundir import read_json_lines, truncate

logger = logging.getLogger("r3.train")

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
SAMPLE_SHOWS = 5  # sample pairs are shown about this many times per run (and at the first logging step)
SAMPLES_KEPT = 4  # pairs written to samples.jsonl at each sample step, for the report's "early vs late"

# One name per number, everywhere r3 shows it (console, curves, report, summary): key in TRL's logs -> label.
RETRY_SUCCESS = "r3/retry_success"
REFLECTION_TOKENS = "r3/reflection_tokens"
ZERO_SPREAD = "frac_reward_zero_std"  # TRL's, over all processes; r3/zero_spread_groups is the per-process twin
KL = "kl"


def first_value(record: dict[str, Any], *keys: str) -> float | None:
    """The first of `keys` present in a log record (TRL's and r3's names for a number), as a float."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def retry_success(record: dict[str, Any]) -> float | None:
    return first_value(record, RETRY_SUCCESS, "rewards/retry_success/mean")


def reflection_tokens(record: dict[str, Any]) -> float | None:
    return first_value(record, REFLECTION_TOKENS, "completions/mean_length")


def zero_spread(record: dict[str, Any]) -> float | None:
    return first_value(record, ZERO_SPREAD, "r3/zero_spread_groups")


def is_training_record(record: dict[str, Any]) -> bool:
    """A per-step record (not the end-of-training `train_runtime` one, not an evaluation)."""
    return "train_runtime" not in record and not any(key.startswith("eval_") for key in record)


def duration(seconds: float) -> str:
    """'2h05m', '9m20s', '14s'."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def per_step(seconds: float) -> str:
    """A training speed for humans: '0.24 s/step', '37 s/step', '23m20s/step' (never '1.4e+03 s/step')."""
    if seconds < 10:
        return f"{seconds:.2g} s/step"
    return f"{seconds:.0f} s/step" if seconds < 60 else f"{duration(seconds)}/step"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def console_line(record: dict[str, Any], step: int, max_steps: int, seconds_per_step: float | None) -> str:
    """The one line a logging step shows (under 100 columns with the log level in front), e.g.

     12/500  retry 41%  refl 18.2 tok  zero-spread 25%  kl 0.0012  lr 3e-05  1.1 s/step  ETA 9m16s

    (step/max steps, retry success, mean reflection length, share of groups with zero reward spread, KL to the
    reference, learning rate, seconds per step since the last line, time left at that speed)
    """
    width = len(str(max_steps))
    parts = [f"{step:>{width}}/{max_steps}", f"retry {_percent(retry_success(record))}"]
    length = reflection_tokens(record)
    parts.append("refl -" if length is None else f"refl {length:.1f} tok")
    parts.append(f"zero-spread {_percent(zero_spread(record))}")
    kl = first_value(record, KL)
    if kl is not None:
        parts.append(f"kl {kl:.2g}")
    lr = first_value(record, "learning_rate")
    if lr is not None:
        parts.append(f"lr {lr:.2g}")
    if seconds_per_step is not None:
        parts.append(per_step(seconds_per_step))
        parts.append(f"ETA {duration(seconds_per_step * max(max_steps - step, 0))}")
    return "  ".join(parts)


def varied(samples: list[Any], limit: int) -> list[Any]:
    """Up to `limit` samples, from as many different problems as there are (a batch lists a group's together)."""
    firsts = {}
    for sample in samples:
        firsts.setdefault(sample.problem_id, sample)
    picked = list(firsts.values())[:limit]
    chosen = {id(s) for s in picked}
    return picked + [s for s in samples if id(s) not in chosen][: limit - len(picked)]


def sample_lines(step: int, samples: list[Any], limit: int) -> list[str]:
    """A few reflection -> retry pairs, one pair per three short lines (under 100 columns)."""
    lines = []
    for sample in varied(samples, limit):
        verdict = "solved" if sample.correct else "wrong"
        lines.append(f"  step {step}, problem {shorten(sample.problem_id, 30)}: retry {verdict} "
                     f"({shorten(sample.reason, 60)})")
        lines.append(f"    reflection: {_flat(sample.reflection, 80)}")
        lines.append(f"    retry:      {_flat(sample.retry, 80)}")
    return lines


def _flat(text: str, limit: int) -> str:
    """One line of model text: newlines shown as ⏎, tabs as spaces, cut to `limit` characters."""
    flat = text.replace("\r", "").replace("\t", " ").replace("\n", " ⏎ ")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class Console(TrainerCallback):
    """One readable line per logging step, and sample pairs about `SAMPLE_SHOWS` times per run."""

    def __init__(self, reward: Any = None, log_samples: int = 2, samples_every: int | None = None):
        self.reward = reward
        self.log_samples = log_samples
        self.samples_every = samples_every
        self._last: tuple[int, float] | None = None  # (step, time) of the previous logging step
        self._first_step: int | None = None

    def sample_step(self, step: int, args: Any, max_steps: int) -> bool:
        """Whether samples are shown at this logging step: the first one, then every `samples_every` steps."""
        if self._first_step is None or step == self._first_step:
            return True
        every = self.samples_every or max(1, math.ceil(max_steps / SAMPLE_SHOWS))
        logging_steps = max(1, int(args.logging_steps)) if args.logging_steps >= 1 else 1
        every = max(logging_steps, every)
        return step // every > (step - logging_steps) // every

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = (state.global_step, time.monotonic())
        self._first_step = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or not is_training_record(logs):
            return
        now, step = time.monotonic(), state.global_step
        speed = None
        if self._last is not None and step > self._last[0]:
            speed = (now - self._last[1]) / (step - self._last[0])
        self._last = (step, now)
        logger.info(console_line(logs, step, state.max_steps, speed))
        if self._first_step is None:
            self._first_step = step
        samples = list(getattr(self.reward, "last_samples", []) or [])
        if samples and self.log_samples > 0 and self.sample_step(step, args, state.max_steps):
            logger.info("\n".join(sample_lines(step, samples, self.log_samples)))


class MetricsFile(TrainerCallback):
    """OUTPUT_DIR/metrics.jsonl: every logged metric, one JSON object per logging step, with `step` and `time`.

    On resume, lines of steps after the checkpoint (and an earlier session's end-of-training record) are dropped
    first, so the file never holds a step twice; a last line torn by a kill (cut inside a UTF-8 character, say) is
    cut off as eval's store does. OUTPUT_DIR/samples.jsonl gets a few reflection -> retry pairs at each step the
    console shows them, and is cut back the same way.
    """

    def __init__(self, output_dir: str | Path, reward: Any = None, console: Console | None = None):
        self.path = Path(output_dir) / METRICS_FILE
        self.samples_path = Path(output_dir) / SAMPLES_FILE
        self.reward = reward
        self.console = console

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.path, self.samples_path):
            keep_steps_up_to(path, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
        _append(self.path, record)
        samples = list(getattr(self.reward, "last_samples", []) or [])
        show = self.console is None or self.console.sample_step(state.global_step, args, state.max_steps)
        if samples and is_training_record(logs) and show:
            for sample in varied(samples, SAMPLES_KEPT):
                _append(self.samples_path, {"step": state.global_step, "problem_id": sample.problem_id,
                                            "reflection": sample.reflection, "retry": sample.retry,
                                            "correct": sample.correct, "reason": sample.reason})


def _append(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with open(path, "ab") as handle:
        handle.write(line.encode("utf-8", "backslashreplace"))  # a lone surrogate as its JSON escape


def keep_steps_up_to(path: Path, step: int) -> None:
    """Cut a metrics or samples file back to the records of steps 1..`step` (none when `step` is 0), dropping an
    end-of-training record and a torn last line. Lines are appended in step order, so what is kept is a prefix and
    one `truncate` keeps it (durably, without rewriting the file)."""
    if not path.is_file():
        return
    _, good = read_json_lines(path)  # a torn last line is left out; a corrupt middle line is a one-line error
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            if step == 0 or offset + len(line) > good:
                break
            record = json.loads(line)
            if not isinstance(record.get("step"), int) or record["step"] > step or "train_runtime" in record:
                break
            offset += len(line)
    if offset < path.stat().st_size:
        logger.info("%s: keeping the records of steps up to %d", path, step)
    truncate(path, offset)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl / samples.jsonl ([] when there is none; cut or undecodable lines are
    skipped: a reader of a run still going or killed mid-line must not fail)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def install(trainer: Any, callbacks: list[TrainerCallback]) -> None:
    """Add r3's callbacks and remove transformers' own console output of logs (the dict printer, or the tqdm bar
    that writes the same dicts): r3's console line replaces both; the logs still reach every `report_to` backend."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    try:
        from transformers.utils.notebook import NotebookProgressCallback

        trainer.remove_callback(NotebookProgressCallback)
    except ImportError:  # IPython is not installed
        pass
    for callback in callbacks:
        trainer.add_callback(callback)


__all__ = ["METRICS_FILE", "SAMPLES_FILE", "Console", "MetricsFile", "console_line", "install", "read_jsonl"]
