"""The end-of-run summary: did the model change, did retry success move, and how to measure it properly.

`RunRecorder` fingerprints the trainable weights when training starts and ends, counts the retries the reward
verified at each step, and at the end logs a few lines and writes OUTPUT_DIR/train_summary.json:

    r3 train: 10 steps in 1m02s (6.20 s/step)
      model changed: NO - the trainable weights are bit-identical to the start: this run trained nothing
      retry success: 12.5% [3.5, 36.0] (2/16) at steps 1-1 -> 12.5% [3.5, 36.0] (2/16) at steps 10-10
      reflection length: 32.0 -> 32.0 tokens
      measure it on held-out data: r3 eval --model runs/train --task countdown --data ... --split 'train[32:64]' ...

Retry success counts the retries verified on the main process (all of them with one process): the interval is then
honest about how many retries the numbers rest on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import shlex
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from r3.provenance import now, provenance
from r3.rundir import write_atomic
from r3.stats import proportion
from r3.training.callbacks import is_training_record, reflection_tokens

logger = logging.getLogger("r3.train")

SUMMARY_FILE = "train_summary.json"
FINGERPRINT_TENSORS = 8
FINGERPRINT_ELEMENTS = 1 << 20  # per tensor: a strided sample, so a 7B model's fingerprint stays cheap
HELD_OUT_MAX = 1000


def fingerprint(model: Any) -> str | None:
    """A hash of a strided sample of up to 8 trainable tensors spread through the model; None when the weights are
    not all on this process (ZeRO-3 keeps empty placeholders, FSDP2 holds DTensor shards) or nothing is trainable."""
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not params or any(p.numel() == 0 or hasattr(p, "device_mesh") for _, p in params):
        return None
    count = min(FINGERPRINT_TENSORS, len(params))
    picked = [params[round(i * (len(params) - 1) / max(count - 1, 1))] for i in range(count)]
    digest = hashlib.blake2b(digest_size=16)
    for name, param in picked:
        flat = param.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // FINGERPRINT_ELEMENTS)]
        digest.update(name.encode())
        digest.update(sample.float().cpu().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class TrainSummary:
    """What `train_summary.json` holds (JSON-ready through `asdict`)."""

    steps: int
    first_step: int
    seconds: float
    model_changed: bool | None  # None: could not tell (sharded weights)
    retry_success_start: dict[str, Any] | None
    retry_success_end: dict[str, Any] | None
    start_steps: list[int]  # [first, last] step of the window
    end_steps: list[int]
    reflection_tokens_start: float | None
    reflection_tokens_end: float | None
    alarms: list[dict[str, Any]] = field(default_factory=list)
    eval_command: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # r3.provenance: versions, commit, start, command


def _pct(p: dict[str, Any] | None) -> str:
    if p is None:
        return "-"
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}] ({p['correct']}/{p['n']})"


def summary_lines(summary: TrainSummary) -> list[str]:
    """The lines the log shows at the end of training (under 100 columns; the command is continued with \\)."""
    from r3.training.callbacks import duration, per_step

    done = summary.steps - summary.first_step
    speed = f" ({per_step(summary.seconds / done)})" if done > 0 else ""
    resumed = f" (resumed at step {summary.first_step})" if summary.first_step else ""
    lines = [f"r3 train: {summary.steps} steps{resumed} in {duration(summary.seconds)}{speed}"]
    if summary.model_changed is None:
        lines.append("  model changed: cannot tell (the weights are sharded over processes)")
    elif summary.model_changed:
        lines.append("  model changed: yes (the trainable weights differ from the start)")
    else:
        lines.append("  model changed: NO - the weights are bit-identical to the start: this run trained nothing")
    lines += start_end_lines(summary)
    if summary.alarms:
        text = "alarms: " + ", ".join(f"{a['name']} (step {a['step']})" for a in summary.alarms)
        lines += textwrap.wrap(text, width=92, initial_indent="  ", subsequent_indent="    ")
    if summary.eval_command:
        lines.append("  measure it on held-out data:")
        lines += ["    " + line for line in continued(summary.eval_command)]
    return lines


def start_end_lines(summary: TrainSummary) -> list[str]:
    """Retry success and reflection length at the start and the end; one line each when the two windows are the
    same steps (a run of one step, say), where two would only repeat each other."""
    start, end = summary.start_steps, summary.end_steps
    a, b = summary.reflection_tokens_start, summary.reflection_tokens_end
    if start == end:
        window = f"  retry success, steps {start[0]}-{start[1]}: {_pct(summary.retry_success_end)}"
        lines = [window + "  (95% Wilson interval)"]
        return lines + ([] if b is None else [f"  reflection length: {b:.1f} tokens (mean, same steps)"])
    first, last = f"steps {start[0]}-{start[1]}:", f"steps {end[0]}-{end[1]}:"
    width = max(len(first), len(last))
    lines = [f"  retry success, {first:<{width}} {_pct(summary.retry_success_start)}",
             f"  retry success, {last:<{width}} {_pct(summary.retry_success_end)}  (95% Wilson intervals)"]
    if a is not None and b is not None:
        lines.append(f"  reflection length: {a:.1f} -> {b:.1f} tokens (mean, same steps)")
    return lines


def continued(command: str, width: int = 80) -> list[str]:
    """A shell command cut between arguments into lines of about `width` characters, continued with \\."""
    lines, current = [], ""
    for word in shlex.split(command):
        word = shlex.quote(word) if word != "r3" else word
        if current and len(current) + len(word) + 3 > width and word.startswith("--"):
            lines.append(current + " \\")
            current = "    " + word
        else:
            current = f"{current} {word}" if current else word
    return lines + [current]


def held_out_split(split: str | None, limit: int | None) -> str | None:
    """A split just after the rows a run used: 'train[:100]' -> 'train[100:200]', 'train' with limit 32 ->
    'train[32:64]'; None when it cannot be told (the caller then asks for one)."""
    split = split or "train"
    match = re.fullmatch(r"(\w+)\[(\d*):(\d+)\]", split.replace(" ", ""))
    if match:
        name, start, stop = match.group(1), int(match.group(2) or 0), int(match.group(3))
        size = min(stop - start, HELD_OUT_MAX)
        return f"{name}[{stop}:{stop + size}]"
    if re.fullmatch(r"\w+", split) and limit:
        return f"{split}[{limit}:{limit + min(limit, HELD_OUT_MAX)}]"
    return None


def eval_command(output_dir: str | Path, task: str, data: str | None, split: str | None, limit: int | None,
                 mode: str = "offline", settings: dict[str, Any] | None = None) -> str:
    """The `r3 eval` command that measures the trained model on rows it was neither mined nor trained on, in the
    setting it was trained in: the task options, columns, prompt templates, chat-template options, token budgets and
    sampling of `settings` (the training config) that differ from eval's defaults are repeated on it.

    Offline, `data` is the mining run: the task data it mined (and, where training leaves them unset, the options and
    templates it mined with) come from its run.json."""
    mined: dict[str, Any] = {}
    if mode == "offline" and data is not None:
        run_file = Path(data) / "run.json" if Path(data).is_dir() else Path(data).parent / "run.json"
        try:
            mined = json.loads(run_file.read_text(encoding="utf-8"))
            data, split, limit = mined.get("data"), mined.get("split"), mined.get("limit")
        except (OSError, ValueError, AttributeError):
            data, split, limit, mined = None, None, None, {}
    held = held_out_split(split, limit)
    parts = ["r3 eval", "--model", str(output_dir), "--task", task]
    parts += ["--data", data if data else "TASK_DATA"]
    parts += ["--split", held if held else "HELD_OUT_SPLIT"]
    for name, value in carried_settings(settings or {}, mined if isinstance(mined, dict) else {}).items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value).lower() if isinstance(
            value, bool) else str(value)
        parts += ["--" + name.replace("_", "-"), text]
    parts += ["--out", f"{output_dir}/eval"]
    return " ".join(p if p.startswith("--") or p == "r3 eval" else shlex.quote(p) for p in parts)


# shared fields that do not say how a problem is posed or judged (the command names data, split and model itself)
NOT_CARRIED = frozenset({"task", "data", "split", "limit", "skip_bad_lines", "seed", "model"})


def carried_settings(settings: dict[str, Any], mined: dict[str, Any]) -> dict[str, Any]:
    """The fields eval shares with training (r3.config's task, template, reasoning, sampling and budget groups)
    whose value differs from eval's default; an unset one is taken from the mining run when it set it."""
    from r3 import config as groups

    defaults = {f.name: f.default for group in (groups.TaskArgs, groups.TemplateArgs, groups.ReasoningArgs,
                                                groups.SamplingArgs, groups.AttemptBudgetArgs,
                                                groups.ReflectionBudgetArgs)
                for f in dataclasses.fields(group) if f.name not in NOT_CARRIED}
    carried = {}
    for name, default in defaults.items():
        value = settings.get(name)
        if value is None:
            value = mined.get(name)
        if value is not None and value != default:
            carried[name] = value
    return carried


class RunRecorder(TrainerCallback):
    """Fingerprints, per-step retry tallies and timings; `summary` is filled in at the end of training."""

    def __init__(self, output_dir: str | Path, reward: Any = None, alarms: Any = None, command: str = ""):
        self.output_dir = Path(output_dir)
        self.reward = reward
        self.alarms = alarms
        self.command = command
        self.summary: TrainSummary | None = None
        self.tallies: dict[int, tuple[int, int]] = {}  # step -> (retries solved, retries)
        self.records: list[dict[str, Any]] = []
        self._before: str | None = None
        self._start = 0.0
        self._started = ""
        self._first_step = 0
        self._seen: Any = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._start, self._first_step, self._started = time.monotonic(), state.global_step, now()
        self._before = fingerprint(model) if model is not None else None

    def on_step_end(self, args, state, control, **kwargs):
        samples = getattr(self.reward, "last_samples", None)
        if samples and samples is not self._seen:  # a new generation batch was rewarded
            self._seen = samples
            solved, n = self.tallies.get(state.global_step, (0, 0))
            self.tallies[state.global_step] = (solved + sum(s.correct for s in samples), n + len(samples))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and is_training_record(logs):
            self.records.append({"step": state.global_step, **logs})

    def on_train_end(self, args, state, control, model=None, **kwargs):
        after = fingerprint(model) if model is not None else None
        changed = None if self._before is None or after is None else after != self._before
        self.summary = build_summary(self.tallies, self.records, state.global_step, self._first_step,
                                     time.monotonic() - self._start, changed,
                                     getattr(self.alarms, "raised", []), self.command, int(args.logging_steps))
        self.summary.provenance = provenance(started=self._started or None)
        if state.is_world_process_zero:
            logger.info("\n".join(summary_lines(self.summary)))
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.output_dir / SUMMARY_FILE, json.dumps(asdict(self.summary), indent=2) + "\n")


def build_summary(tallies: dict[int, tuple[int, int]], records: list[dict[str, Any]], steps: int, first_step: int,
                  seconds: float, changed: bool | None, alarms: list[Any], command: str,
                  logging_steps: int = 1) -> TrainSummary:
    """Start vs end over the first and last tenth of the steps run (at least one logging step each)."""
    window = max(1, logging_steps, math.ceil((steps - first_step) / 10))
    start = [first_step + 1, min(first_step + window, steps)]
    end = [max(steps - window + 1, first_step + 1), steps]

    def success(lo: int, hi: int) -> dict[str, Any] | None:
        counts = [tallies[s] for s in tallies if lo <= s <= hi]
        n = sum(c[1] for c in counts)
        return proportion(sum(c[0] for c in counts), n).to_dict() if n else None

    def length(lo: int, hi: int) -> float | None:
        values = [v for r in records if lo <= r["step"] <= hi and (v := reflection_tokens(r)) is not None]
        return sum(values) / len(values) if values else None

    return TrainSummary(
        steps=steps, first_step=first_step, seconds=seconds, model_changed=changed,
        retry_success_start=success(*start), retry_success_end=success(*end), start_steps=start, end_steps=end,
        reflection_tokens_start=length(*start), reflection_tokens_end=length(*end),
        alarms=[{"name": a.name, "step": a.step, "message": a.message} for a in alarms], eval_command=command,
    )


def read_summary(directory: str | Path) -> dict[str, Any] | None:
    """A run's train_summary.json, or None when it is missing or unreadable (a run still going, or killed)."""
    path = Path(directory) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, ValueError):
        return None


__all__ = [
    "SUMMARY_FILE",
    "RunRecorder",
    "TrainSummary",
    "build_summary",
    "eval_command",
    "fingerprint",
    "held_out_split",
    "read_summary",
    "summary_lines",
]
