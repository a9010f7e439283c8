"""The base of every command's config: `option` fields with help text, range rules, `CommandConfig`.

One rule per field name (`RULES`) applies to every config that has the field, r3's and TRL's alike, so a range is
written once however many commands share the setting.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from r3.errors import R3Error, shorten


def option(default: Any = None, help: str = "", **metadata: Any) -> Any:
    """A dataclass field with help text (mutable defaults are copied per instance)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return field(default=default, metadata={"help": help, **metadata})



def _at_least(low: float) -> typing.Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def _finite_non_negative(v: float) -> str | None:
    return None if math.isfinite(v) and v >= 0 else "must be a finite number >= 0"


def _probability(v: float) -> str | None:
    return None if 0 < v <= 1 else "must be in (0, 1]"


RULES: dict[str, typing.Callable[[Any], str | None]] = {
    "temperature": _finite_non_negative,
    "top_p": _probability,
    "top_k": _at_least(0),
    "seed": lambda v: None if 0 <= v < 2**32 else "must be in [0, 2**32)",
    "limit": _at_least(1),
    "batch_size": _at_least(1),
    "attempts": _at_least(1),
    "attempt_max_new_tokens": _at_least(1),
    "reflection_max_new_tokens": _at_least(1),
    "max_completion_length": _at_least(1),
    "max_samples": _at_least(1),
    "keep": _at_least(1),
    "failures_per_problem": _at_least(1),
    "max_prompt_length": _at_least(1),
    "lora_r": _at_least(1),
    "lora_alpha": _at_least(1),
    "lora_dropout": lambda v: None if 0 <= v < 1 else "must be in [0, 1)",
    "per_device_train_batch_size": _at_least(1),
    "gradient_accumulation_steps": _at_least(1),
    "num_generations": _at_least(2),
    "learning_rate": _finite_non_negative,
    "beta": _finite_non_negative,
    "logging_steps": lambda v: None if v > 0 else "must be positive",
    "max_steps": lambda v: None if v == -1 or v >= 1 else "must be at least 1 (or -1 for num_train_epochs)",
    "num_train_epochs": lambda v: None if math.isfinite(v) and v > 0 else "must be a positive number",
    "vllm_tensor_parallel_size": _at_least(1),
    "vllm_data_parallel_size": _at_least(1),
    "vllm_gpu_memory_utilization": _probability,
    "vllm_max_model_length": _at_least(1),
    "num_shards": _at_least(1),
    "shard_index": _at_least(0),
    "alarm_steps": _at_least(1),
    "threads": _at_least(1),
}

MAPPING_FIELDS = ("task_options", "columns", "chat_template_kwargs")


def check_values(config: Any) -> None:
    """Every rule in `RULES` that applies to a field of `config`; the first violation is an R3Error."""
    for f in dataclasses.fields(config):
        rule = RULES.get(f.name)
        value = getattr(config, f.name, None)
        if rule is None or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        problem = rule(value)
        if problem:
            raise R3Error(f"field '{f.name}' {problem}, got {shorten(value)}")


def as_mapping(value: Any, name: str) -> dict | None:
    """A mapping field's value: a dict, JSON text of one, or None."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value) if value.strip() else {}
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise R3Error(f"field '{name}' expects a mapping (YAML mapping or JSON object), got {shorten(value)}")


@dataclass
class CommandConfig:
    """Base of every command's config: normalizes mapping fields and applies `RULES` once it is built.

    `required` fields may stay None while a config is built piece by piece (tests, the Python API); the command
    line and the stage entry points (`r3.evaluate`, `r3.mine`, `r3.train`) call `check_required` before they start.
    """

    required: ClassVar[tuple[str, ...]] = ()
    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ("out", "overwrite", "progress", "batch_size", "num_shards",
                                               "shard_index", "threads")

    def __post_init__(self) -> None:
        for name in MAPPING_FIELDS:
            if hasattr(self, name):
                setattr(self, name, as_mapping(getattr(self, name), name))
        check_values(self)
        if getattr(self, "chat_template_path", None) and getattr(self, "model", None):
            from r3.models import with_chat_template

            self.model = with_chat_template(self.model, self.chat_template_path)  # a folder holding the template

    def check_required(self) -> None:
        """An R3Error naming every required field that has no value."""
        missing = [name for name in self.required if getattr(self, name) in (None, "")]
        if missing:
            raise R3Error("missing " + ", ".join(f"--{name} (or '{name}:' in the config)" for name in missing))

    def identity(self) -> dict[str, Any]:
        """The settings that decide a run's result: a resumed run must share them with the run it continues."""
        return {k: v for k, v in self.to_dict().items() if k not in self.NOT_IDENTITY}

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping (what a config file would hold)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}


def command_line(command: str, *configs: Any, first: tuple[str, ...] = ()) -> str:
    """The `r3 COMMAND ...` line that rebuilds `configs`: `first` tokens, then every field that differs from its
    default (shell-quoted), so that a report can show a command a reader can paste."""
    import shlex

    tokens = ["r3", command, *first]
    for config in configs:
        for f in dataclasses.fields(config):
            if not f.init or f.name == "progress":
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            value = getattr(config, f.name)
            if value == default or (value is None and default is dataclasses.MISSING):
                continue
            if isinstance(value, bool):
                tokens.append(f"--{f.name}" if value else f"--no_{f.name}")
            elif isinstance(value, dict):
                tokens += [f"--{f.name}", shlex.quote(json.dumps(value))]
            elif isinstance(value, (list, tuple)):
                tokens += [f"--{f.name}", *(shlex.quote(str(item)) for item in value)]
            else:
                tokens += [f"--{f.name}", shlex.quote(str(value))]
    return " ".join(tokens)
