"""One configuration system for every r3 command: dataclasses, a YAML file and command-line overrides.

    r3 eval --config configs/eval/countdown.yaml --temperature 0 --limit 50
    r3 train --config configs/tiny_cpu.yaml --learning-rate 3e-5 --chat_template_kwargs.enable_thinking false

Each command's settings are one dataclass (`EvalConfig`, `MineConfig`, `TrainConfig` + TRL's `GRPOConfig`, ...) built
from the field groups below, so a setting shared by several commands has one name, one default and one help text.
transformers' `HfArgumentParser` turns the dataclasses into the command line (dashes or underscores, `--help` with
every default), as in open-r1 and TRL. What r3 adds, in `ConfigParser`:

- `--config FILE.yaml` anywhere on the command line; the file's keys are checked (an unknown key names the file and
  the closest field names) and fed through the same argparse types as the command line, so a YAML value is
  type-checked exactly like `--field value` (TrlParser turns YAML into unchecked argparse defaults instead).
  A file may start from others with `base: other.yaml` (or a list); its own keys win, mappings merge key by key.
- YAML 1.2 booleans (`save_strategy: no` stays the string "no") and a bound on aliases (no "billion laughs").
- mapping fields (`task_options`, `columns`, `chat_template_kwargs`, `model_init_kwargs`, ...) from YAML mappings,
  JSON on the command line, or one key at a time: `--chat_template_kwargs.enable_thinking false`,
  `--task-option match=bfcl` (repeatable).
- every error is one `R3Error` line naming the file or the command line, the field and the value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from r3.errors import R3Error, shorten

MAX_YAML_BYTES = 1_000_000
MAX_YAML_ALIASES = 64
MAX_YAML_NODES = 100_000


# ---------------------------------------------------------------------------------------------------------------
# Field groups. A command's config inherits the groups it needs; a field's help text is its documentation.
# ---------------------------------------------------------------------------------------------------------------


def option(default: Any = None, help: str = "", **metadata: Any) -> Any:
    """A dataclass field with help text (mutable defaults are copied per instance)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TaskArgs:
    """What to solve and where the examples come from."""

    task: str | None = option(None, "task name (see `r3 tasks`) or package.module:ClassName")
    task_options: dict | str | None = option(
        None, "the task's options as a mapping, e.g. {match: bfcl}; on the command line also --task-option KEY=VALUE")
    data: str | None = option(
        None, "data source: sample:NAME, a .jsonl/.json/.csv/.tsv/.parquet file, a saved dataset directory or a hub "
              "id (default: the task's dataset)")
    split: str | None = option(None, "split, with optional slicing: train, test[:100], train[100:150] (default: the "
                                     "task's)")
    limit: int | None = option(None, "use only the first N examples (after the split)")
    columns: dict | str | None = option(
        None, "dataset column per task field, e.g. {nums: numbers, target: goal, id: unique_id}")
    system_prompt: str | None = option(None, "system prompt template ({field} = the example's fields)")
    prompt_template: str | None = option(None, "first-attempt user prompt template ({field} = the example's fields)")
    reflection_instruction: str | None = option(
        None, "user turn asking for a reflection ({reason} = the verifier's reason; default: the task's)")
    retry_instruction: str | None = option(None, "user turn asking for a retry (default: the task's)")
    skip_bad_lines: bool = option(False, "skip and count malformed data rows instead of stopping at the first")

    def prompt_templates(self):
        """The prompt overrides as the task layer takes them (None when there are none)."""
        from r3.types import PromptTemplates

        values = (self.system_prompt, self.prompt_template, self.reflection_instruction, self.retry_instruction)
        if all(value is None for value in values):
            return None
        return PromptTemplates(*values)

    def build_task(self):
        """The configured task: options, column mapping and prompt templates applied."""
        from r3.tasks import get_task

        return get_task(self.task, self.task_options, columns=self.columns, prompts=self.prompt_templates())


@dataclass
class ModelArgs:
    """Which model."""

    model: str | None = option(None, "hub id or local model directory", aliases=["--model_name_or_path",
                                                                                   "--model-name-or-path"])


@dataclass
class BackendArgs:
    """Which engine generates (eval, mine)."""

    backend: Literal["hf", "vllm"] = option("hf", "generation backend: hf (transformers) or vllm")


@dataclass
class TemplateArgs:
    """Chat-template options (TRL's GRPOConfig has the same field for r3 train)."""

    chat_template_kwargs: dict | str | None = option(
        None, "options for the chat template, e.g. {enable_thinking: false}; Llama's date is pinned unless given")


@dataclass
class ReasoningArgs:
    """How earlier turns are shown (eval, mine and train alike)."""

    strip_reasoning: bool = option(
        False, "show only the text after </think> of earlier attempts and reflections (default: all of it)")


@dataclass
class VllmArgs:
    """vLLM engine settings (backend vllm)."""

    vllm_tensor_parallel_size: int = option(1, "GPUs per vLLM engine (tensor parallelism)")
    vllm_gpu_memory_utilization: float = option(0.9, "share of GPU memory vLLM may take")
    vllm_max_model_length: int | None = option(None, "vLLM context length (default: the model's)")
    vllm_data_parallel_size: int = option(1, "vLLM engines per node (data parallelism)")


def generator_options(config: Any) -> dict[str, Any]:
    """Keyword arguments for `r3.generation.load_generator` from a config's template and vLLM fields."""
    options: dict[str, Any] = {"chat_template_kwargs": getattr(config, "chat_template_kwargs", None)}
    if getattr(config, "backend", "hf") == "vllm":
        options.update(tensor_parallel_size=config.vllm_tensor_parallel_size,
                       gpu_memory_utilization=config.vllm_gpu_memory_utilization,
                       max_model_len=config.vllm_max_model_length, seed=config.seed)
        if config.vllm_data_parallel_size > 1:
            options["data_parallel_size"] = config.vllm_data_parallel_size
    return options


@dataclass
class SamplingArgs:
    """How attempts and reflections are sampled (the same names and defaults as TRL's GRPOConfig)."""

    temperature: float = option(1.0, "sampling temperature; 0 = greedy")
    top_p: float = option(1.0, "nucleus sampling: keep the smallest set of tokens with this much probability")
    top_k: int = option(0, "keep only the K most likely tokens; 0 = no top-k filter")
    seed: int = option(42, "run seed; each sample's seed is derived from it")


@dataclass
class AttemptBudgetArgs:
    """Token budget of attempts (shared by eval, mine and train)."""

    attempt_max_new_tokens: int = option(512, "token budget of each attempt (the first and every retry)")


@dataclass
class ReflectionBudgetArgs:
    """Token budget of reflections (shared by eval and train)."""

    reflection_max_new_tokens: int = option(256, "token budget of each reflection")


@dataclass
class RunArgs:
    """Where a command writes, and how it treats an earlier run there."""

    out: str | None = option(None, "output directory (a rerun with the same settings resumes)")
    overwrite: bool = option(False, "delete the files an earlier run wrote in --out and start again")
    progress: bool = option(True, "show progress bars (--no-progress hides them)")
    batch_size: int = option(32, "problems per generate call; finished batches are written to disk")


# ---------------------------------------------------------------------------------------------------------------
# Validation: one rule per field name, applied to every config that has the field (r3's and TRL's alike).
# ---------------------------------------------------------------------------------------------------------------


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
    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ("out", "overwrite", "progress", "batch_size")

    def __post_init__(self) -> None:
        for name in MAPPING_FIELDS:
            if hasattr(self, name):
                setattr(self, name, as_mapping(getattr(self, name), name))
        check_values(self)

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


# ---------------------------------------------------------------------------------------------------------------
# YAML: bounded, YAML 1.2 booleans, `base:` includes.
# ---------------------------------------------------------------------------------------------------------------


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false) and limits on aliases and nodes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (*anchor references)")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise yaml.YAMLError(f"more than {MAX_YAML_NODES} nodes")
        return super().compose_node(parent, index)


_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))


def _expanded_size(value: Any, budget: int) -> int:
    """Nodes in `value` with aliases expanded, stopping once past `budget` (an alias bomb expands exponentially)."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def parse_yaml(text: str, where: str) -> Any:
    """YAML text through the bounded loader; every problem is an R3Error naming `where`."""
    if len(text) > MAX_YAML_BYTES:
        raise R3Error(f"{where}: config file larger than {MAX_YAML_BYTES} bytes")
    try:
        content = yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as error:
        raise R3Error(f"{where}: not valid YAML: {shorten(str(error), 200)}") from None
    except RecursionError:
        raise R3Error(f"{where}: YAML nested too deeply") from None
    if _expanded_size(content, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise R3Error(f"{where}: YAML expands to more than {MAX_YAML_NODES} values (nested aliases)")
    return content


def packaged_config(path: str | Path) -> Path | None:
    """The recipe shipped in the package for `configs/NAME.yaml` (so README commands work from a wheel install)."""
    parts = Path(path).parts
    if len(parts) < 2 or parts[0] != "configs":
        return None
    from importlib import resources

    candidate = Path(str(resources.files("r3").joinpath("configs", *parts[1:])))
    return candidate if candidate.is_file() else None


def read_config_file(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a mapping, with its `base:` files merged underneath it.

    `configs/NAME.yaml` that does not exist here is read from the recipes shipped with r3 (`r3/configs`).
    """
    if not Path(path).expanduser().exists():
        path = packaged_config(path) or path
    path = Path(path).expanduser().resolve()
    if path in seen:
        raise R3Error(f"{path}: 'base' files include each other: {' -> '.join(str(p) for p in (*seen, path))}")
    if path.is_dir():
        raise R3Error(f"{path}: is a directory, not a config file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise R3Error(f"cannot read config {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise R3Error(f"{path}: not a UTF-8 text file") from None
    content = parse_yaml(text, str(path))
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise R3Error(f"{path}: a config must be a YAML mapping of field: value, got {type(content).__name__}")
    bases = content.pop("base", None) or []
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise R3Error(f"{path}: 'base' must be a file name or a list of file names, got {shorten(bases)}")
    merged: dict[str, Any] = {}
    for base in bases:
        merged = merge(merged, read_config_file(path.parent / base, (*seen, path)))
    return merge(merged, content)


def merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """`high` over `low`; nested mappings merge key by key."""
    out = dict(low)
    for key, value in high.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


__all__ = [
    "RULES", "AttemptBudgetArgs", "BackendArgs", "CommandConfig", "ModelArgs", "ReasoningArgs", "ReflectionBudgetArgs",
    "RunArgs", "SamplingArgs", "TaskArgs", "TemplateArgs", "VllmArgs", "as_mapping", "check_values", "command_line",
    "generator_options", "merge", "option", "packaged_config", "parse_yaml", "read_config_file",
]
