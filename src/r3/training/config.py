"""`r3 train` configuration: r3's own fields (`R3Config`) and TRL's `GRPOConfig`, from one YAML file.

    r3 train --config configs/tiny_cpu.yaml --max_steps 5 --learning_rate 1e-5 --model_init_kwargs.dtype bfloat16

One flat YAML mapping holds both: a key that names an `R3Config` field goes to r3, one that names a `GRPOConfig`
(or `transformers.TrainingArguments`) field goes to TRL, anything else is an error naming the key and the closest
known names. A file may start from others with `base: other.yaml` (or a list); its own keys win, and mappings are
merged key by key. Command-line overrides come last: `--field value` or `--field=value`, where the value is read as
YAML (`--bf16 false`, `--report_to '[tensorboard]'`, `--temperature 0.7`), a bare `--field` means true, and
`--field.key value` sets one key inside a mapping field such as `model_init_kwargs`.

Why not `trl.TrlParser` as is: it turns the YAML into argparse defaults, which argparse never type-checks unless they
are strings, so `num_generations: [8]` would reach GRPOConfig unchecked and fail deep inside the trainer. Here every
value is checked against the field's annotation before anything is built, and every error is one `R3Error` line.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from r3.errors import R3Error, shorten

# GRPOConfig fields whose TRL default does not suit r3. The paper's KL coefficient is 0.001, TRL's default beta is 0;
# TRL's default loss is "dapo", r3 uses the original per-sequence GRPO loss. Set them in a config to change them.
R3_TRAINING_DEFAULTS: dict[str, Any] = {"loss_type": "grpo", "beta": 0.001, "logging_steps": 1}
# Off on CPU unless set: bf16 fails on CPU, gradient checkpointing makes tiny models ~30x slower.
# (`activation_checkpointing` is transformers 5's name for `gradient_checkpointing`, which TRL still sets.)
CPU_TRAINING_DEFAULTS: dict[str, Any] = {"bf16": False, "activation_checkpointing": False}
ALIASES = {"activation_checkpointing": "gradient_checkpointing"}


@dataclass
class R3Config:
    """r3's own training settings (TRL's live in `GRPOConfig`).

    Attributes:
        task: task name ("countdown", "function_calling") or "package.module:Class".
        model: hub id or local path of the policy to train.
        mode: "offline" trains on failures from `r3 mine` (the paper); "online" makes the first attempt during
            training from plain task data, and only failed attempts go on to reflection.
        data: offline: an `r3 mine` output directory, its failures.jsonl, or a hub/local dataset in that schema;
            online: any task data source (`sample:NAME`, a file, a hub id); None uses the task's default dataset.
        data_split / data_limit: split for hub datasets; keep only the first N rows.
        failures_per_problem: offline: how many of a problem's kept failed attempts become training prompts.
        reflection_instruction / retry_instruction: override the task's instructions ({reason} is filled in).
        retry_max_new_tokens / retry_temperature: sampling of the retry made inside the reward; a temperature of
            None uses GRPOConfig.temperature (the reflections' own).
        attempt_max_new_tokens / attempt_temperature: online mode: sampling of the first attempt.
        max_prompt_length: longest reflection prompt in tokens (None: only the model's length limit applies).
        drop_long_prompts: drop prompts that do not fit the token budget instead of stopping with an error.
        use_lora / lora_*: train a LoRA adapter (peft) instead of all weights; lm_head is never a target.
        log_samples: reflections and retries written to the log at each logging step (main process).
    """

    task: str
    model: str
    mode: Literal["offline", "online"] = "offline"
    data: str | None = None
    data_split: str | None = None
    data_limit: int | None = None
    failures_per_problem: int = 1
    reflection_instruction: str | None = None
    retry_instruction: str | None = None
    retry_max_new_tokens: int = 512
    retry_temperature: float | None = None
    attempt_max_new_tokens: int = 512
    attempt_temperature: float | None = None
    max_prompt_length: int | None = None
    drop_long_prompts: bool = False
    use_lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "all-linear"
    log_samples: int = 2

    def __post_init__(self) -> None:
        positive = ("failures_per_problem", "retry_max_new_tokens", "attempt_max_new_tokens", "lora_r")
        for name in positive:
            if getattr(self, name) < 1:
                raise R3Error(f"field '{name}' must be at least 1, got {getattr(self, name)}")
        for name in ("data_limit", "max_prompt_length"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise R3Error(f"field '{name}' must be at least 1 or null, got {getattr(self, name)}")
        for name in ("retry_temperature", "attempt_temperature"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise R3Error(f"field '{name}' must be >= 0, got {getattr(self, name)}")
        targets = [self.lora_target_modules] if isinstance(self.lora_target_modules, str) else self.lora_target_modules
        if any(t == "lm_head" or t.endswith(".lm_head") for t in targets):
            raise R3Error("field 'lora_target_modules': lm_head cannot be a LoRA target (TRL computes log-probs "
                          "from lm_head.weight directly, so an adapter there would never train)")


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file with its `base:` files merged underneath it."""
    path = path.expanduser().resolve()
    if path in seen:
        raise R3Error(f"{path}: 'base' files include each other: {' -> '.join(str(p) for p in (*seen, path))}")
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except OSError as error:
        raise R3Error(f"cannot read config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise R3Error(f"{path}: not valid YAML: {shorten(str(error), 200)}") from None
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise R3Error(f"{path}: a config must be a YAML mapping of field: value, got {type(content).__name__}")
    bases = content.pop("base", None) or []
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = _merge(merged, _read_yaml(path.parent / base, (*seen, path)))
    return _merge(merged, content)


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def parse_overrides(tokens: list[str]) -> dict[str, Any]:
    """`--field value`, `--field=value`, bare `--field` (true) and `--field.key value` into a nested mapping."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) == 2:
            raise R3Error(f"command line: expected --field value, got {shorten(token)}")
        name, has_value, text = token[2:].partition("=")
        if not has_value:
            if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                text, i = tokens[i + 1], i + 1
            else:
                text = "true"
        try:
            value = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            value = text
        target = out
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise R3Error(f"command line: '--{name}' sets a key inside '{parent}', which already has a value")
        target[leaf] = value
        i += 1
    return out


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arm) for arm in typing.get_args(annotation))
    if typing.get_origin(annotation) is Literal:
        return " or ".join(repr(v) for v in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", None) or str(annotation)


def coerce(value: Any, annotation: Any) -> Any:
    """`value` checked against a dataclass annotation (numbers in strings are read: YAML keeps `5e-7` a string).

    Raises TypeError when the value does not fit.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        exact = [arm for arm in args if _is_instance(value, arm)]
        for arm in exact + [arm for arm in args if arm not in exact and arm is not type(None)]:
            try:
                return coerce(value, arm)
            except TypeError:
                continue
        raise TypeError
    if origin is Literal:
        if value in args:
            return value
        raise TypeError
    if annotation is type(None):
        if value is None:
            return None
        raise TypeError
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if annotation in (int, float):
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, str):
            try:
                value = annotation(value) if annotation is float else int(value, 0)
            except ValueError:
                raise TypeError from None
        if isinstance(value, int) or (annotation is float and isinstance(value, float)):
            return annotation(value)
        if annotation is int and isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise TypeError
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return value
        if value in {member.value for member in annotation}:
            return value
        raise TypeError
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return [coerce(item, args[0]) for item in value] if args else list(value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise TypeError
        return value
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise TypeError
    return value


def _is_instance(value: Any, arm: Any) -> bool:
    if arm is Any:
        return True
    if arm is type(None):
        return value is None
    base = typing.get_origin(arm) or arm
    if base is Literal:
        return value in typing.get_args(arm)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return False
    return isinstance(base, type) and isinstance(value, base) and not (base is int and isinstance(value, bool))


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _split(values: dict[str, Any], where: dict[str, str], r3_types: dict, trl_types: dict) -> tuple[dict, dict]:
    known = {**r3_types, **trl_types}
    r3_kwargs, trl_kwargs = {}, {}
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.7)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise R3Error(f"{where[key]}: unknown field '{key}' (neither an r3 field nor a GRPOConfig field){hint}")
        try:
            value = coerce(value, known[key])
        except TypeError:
            raise R3Error(
                f"{where[key]}: field '{key}' expects {_type_name(known[key])}, got {shorten(value)}"
            ) from None
        (r3_kwargs if key in r3_types else trl_kwargs)[key] = value
    return r3_kwargs, trl_kwargs


def load_config(path: str | Path, overrides: list[str] | None = None, *, cuda: bool | None = None):
    """Parse a config file and command-line overrides into `(R3Config, GRPOConfig)`; every error is an R3Error.

    `cuda` says whether a GPU is there (default: ask torch); without one, bf16 and gradient checkpointing default to
    off. Nothing is loaded: no model, no data.
    """
    from trl import GRPOConfig

    values = _read_yaml(Path(path))
    where = {key: str(path) for key in values}
    cli = parse_overrides(list(overrides or []))
    values = _merge(values, cli)
    where.update({key: "command line" for key in cli})
    r3_types, trl_types = _field_types(R3Config), _field_types(GRPOConfig)
    clash = set(r3_types) & set(trl_types)
    assert not clash, f"R3Config fields shadow GRPOConfig fields: {clash}"
    r3_kwargs, trl_kwargs = _split(values, where, r3_types, trl_types)

    for name in ("task", "model"):
        if name not in r3_kwargs:
            raise R3Error(f"{path}: missing required field '{name}'")
    if trl_kwargs.get("output_dir") is None:
        raise R3Error(f"{path}: missing required field 'output_dir' (where checkpoints and the final model go)")
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    defaults = dict(R3_TRAINING_DEFAULTS)
    if not cuda or trl_kwargs.get("use_cpu"):
        defaults.update(CPU_TRAINING_DEFAULTS)
    for key, value in defaults.items():
        if key not in trl_kwargs and ALIASES.get(key) not in trl_kwargs:
            trl_kwargs[key] = value
    r3_config = R3Config(**r3_kwargs)
    try:
        training = GRPOConfig(**trl_kwargs)
    except (ValueError, TypeError) as error:
        raise R3Error(f"{path}: invalid training settings: {shorten(str(error), 400)}") from None
    check_combination(r3_config, training, str(path))
    return r3_config, training


def check_combination(config: R3Config, training: Any, where: str) -> None:
    """Settings that are valid alone but not together."""
    if config.mode == "online":
        per_process = training.per_device_train_batch_size * training.steps_per_generation
        if per_process % training.num_generations:
            raise R3Error(
                f"{where}: online mode needs whole groups on each process: per_device_train_batch_size x "
                f"steps_per_generation ({per_process}) must be a multiple of num_generations "
                f"({training.num_generations}), so that a group's reflections all follow the same first attempt"
            )
    limit = training.vllm_max_model_length if training.use_vllm else None
    if config.max_prompt_length is not None and limit is not None and config.max_prompt_length >= limit:
        raise R3Error(f"{where}: max_prompt_length ({config.max_prompt_length}) must be below "
                          f"vllm_max_model_length ({training.vllm_max_model_length})")


def config_to_dict(config: R3Config, training: Any) -> dict[str, Any]:
    """Both configs as one plain mapping, as a config file would hold them (for the run record)."""
    out = dataclasses.asdict(config)
    for f in dataclasses.fields(training):
        if f.init:
            value = getattr(training, f.name)
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
    return {key: value for key, value in out.items() if _is_plain(value)}


def _is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


__all__ = ["R3Config", "check_combination", "coerce", "config_to_dict", "load_config", "parse_overrides"]
