"""`r3 train` settings: r3's own (`TrainConfig`) beside TRL's `GRPOConfig`, from one YAML file and the command line.

    r3 train --config configs/tiny_cpu.yaml --max-steps 5 --learning_rate 1e-5 --model_init_kwargs.dtype bfloat16
    config, training = r3.load_config("train", "configs/tiny_cpu.yaml", ["--max_steps", "5"])

One flat YAML mapping holds both, as in open-r1: a key that names a `TrainConfig` field goes to r3, one that names a
`GRPOConfig` (or `transformers.TrainingArguments`) field goes to TRL; `r3.config.parser` checks every key and value.
Shared settings keep the names every r3 command uses: `temperature`, `top_p`, `top_k`, `seed` and
`chat_template_kwargs` are TRL's own fields here; `reflection_max_new_tokens` is the reflection budget (TRL's
`max_completion_length`, which r3 sets from it); `attempt_max_new_tokens` is the budget of the retry inside the reward
(and of the first attempt in online mode). A recipe written for `trl grpo` or open-r1 keeps its names
(`dataset_name`, `torch_dtype`, `use_peft`, ...: `r3.config.compat`).

Loading is in two steps, so that a wrong setting is reported in about a second: `check_settings` checks every key,
r3's own values and the model path without importing TRL (its GRPOConfig names are read from TRL's source, not
imported); then TRL's GRPOConfig values are parsed and checked together with r3's (`check_combination`). Both come
before any model or data is loaded.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from r3.config import (
    AttemptBudgetArgs,
    CommandConfig,
    ModelArgs,
    ReasoningArgs,
    ReflectionBudgetArgs,
    TaskArgs,
    ThreadArgs,
    option,
)
from r3.errors import R3Error

# GRPOConfig fields whose TRL default does not suit r3. The paper's KL coefficient is 0.001, TRL's default beta is 0;
# TRL's default loss is "dapo", r3 uses the original per-sequence GRPO loss. Set them in a config to change them.
R3_TRAINING_DEFAULTS: dict[str, Any] = {"loss_type": "grpo", "beta": 0.001, "logging_steps": 1}
# Off on CPU unless set: bf16 fails on CPU, gradient checkpointing makes tiny models ~30x slower.
CPU_TRAINING_DEFAULTS: dict[str, Any] = {"bf16": False, "activation_checkpointing": False}


@dataclass
class TrainConfig(CommandConfig, ThreadArgs, ReflectionBudgetArgs, AttemptBudgetArgs, ReasoningArgs, ModelArgs,
                  TaskArgs):
    """r3's own training settings (TRL's live in `GRPOConfig`); see docs/training.md."""

    mode: Literal["offline", "online"] = option(
        "offline", "offline: train on failures from `r3 mine` (the paper); online: first attempts made during "
                   "training from plain task data, only failed ones go on to reflection")
    failures_per_problem: int = option(1, "offline: how many of a problem's mined failed attempts become prompts")
    allow_incomplete_data: bool = option(
        False, "offline: train on an `r3 mine` run that has not finished (refused by default)")
    allow_missing_optimizer_state: bool = option(
        False, "resume from a checkpoint without optimizer.pt / scheduler.pt (fresh optimizer state; refused by "
               "default)")
    retry_temperature: float | None = option(None, "sampling temperature of the retry inside the reward "
                                                   "(default: temperature, the reflections' own)")
    attempt_temperature: float | None = option(None, "online: temperature of the first attempt (default: "
                                                     "temperature)")
    max_prompt_length: int | None = option(None, "longest reflection prompt in tokens (default: only the model's "
                                                 "context length applies)")
    drop_long_prompts: bool = option(False, "drop prompts over the token budget instead of stopping with an error")
    use_lora: bool = option(False, "train a LoRA adapter (peft) instead of all weights")
    lora_r: int = option(16, "LoRA rank")
    lora_alpha: int = option(32, "LoRA alpha")
    lora_dropout: float = option(0.05, "LoRA dropout")
    lora_target_modules: list[str] = option(["all-linear"], "LoRA target modules (lm_head never)")
    log_samples: int = option(2, "reflection -> retry pairs shown at each logging step (0: none)")
    alarm_steps: int = option(5, "warn when the learning signal is missing for this many logged steps in a row")

    required: ClassVar[tuple[str, ...]] = ("task", "model")
    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ("log_samples", "alarm_steps", "allow_missing_optimizer_state", "threads")

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(t == "lm_head" or t.endswith(".lm_head") for t in self.lora_target_modules):
            raise R3Error("field 'lora_target_modules': lm_head cannot be a LoRA target (TRL computes log-probs "
                          "from lm_head.weight directly, so an adapter there would never train)")
        for name in ("retry_temperature", "attempt_temperature"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise R3Error(f"field '{name}' must be >= 0, got {value}")


@functools.cache
def grpo_field_names() -> frozenset[str]:
    """The names of TRL's GRPOConfig fields (TrainingArguments' included), read from TRL's and transformers' source
    without importing them (importing them takes seconds); if their layout is not the expected one, imported."""
    classes = {("trl", "trainer/grpo_config.py"): "GRPOConfig", ("trl", "trainer/base_config.py"): "_BaseConfig",
               ("transformers", "training_args.py"): "TrainingArguments"}
    names: set[str] = set()
    for (package, path), class_name in classes.items():
        spec = importlib.util.find_spec(package)
        found = _dataclass_fields(Path(spec.submodule_search_locations[0]) / path, class_name) if spec else None
        if found is None:
            import trl

            return frozenset(f.name for f in dataclasses.fields(trl.GRPOConfig) if f.init)
        names |= found
    return frozenset(names)


def _dataclass_fields(path: Path, class_name: str) -> set[str] | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    body = next((node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name), None)
    if body is None:
        return None
    return {node.target.id for node in body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and not node.target.id.startswith("_") and not _init_false(node.value)}


def _init_false(value: ast.expr | None) -> bool:
    return isinstance(value, ast.Call) and any(k.arg == "init" and isinstance(k.value, ast.Constant)
                                               and k.value.value is False for k in value.keywords)


def check_settings(values: dict[str, Any], argv: list[str], where: str, *, check_model: bool = False) -> TrainConfig:
    """r3's settings and every key of both configs checked before TRL is imported: unknown and unusable keys (all
    in one message), r3's values, required fields, `output_dir`, the task and its options, and (`check_model`) a
    model path that is clearly local but missing."""
    from r3.config.parser import ConfigParser
    from r3.generation import check_model_source

    parser = ConfigParser([TrainConfig], prog="r3 train", later=grpo_field_names())
    (config,) = parser.parse_mapping(values, argv, where)
    if "output_dir" not in parser.later_given:
        raise R3Error("missing --output_dir (or 'output_dir:' in the config): where checkpoints and the model go")
    config.build_task()  # the task's name, options, column mapping and prompt templates
    if check_model and config.model is not None:
        check_model_source(config.model)
    return config


def train_parser(*, cuda: bool | None = None):
    """The parser of `r3 train`: TrainConfig + GRPOConfig, with r3's defaults for TRL fields."""
    from trl import GRPOConfig

    from r3.config.parser import ConfigParser

    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    defaults = {**R3_TRAINING_DEFAULTS, **({} if cuda else CPU_TRAINING_DEFAULTS)}
    return ConfigParser([TrainConfig, GRPOConfig], prog="r3 train", defaults=defaults,
                        description="Reflection-only GRPO: r3's fields, then TRL's GRPOConfig fields.")


def load_train_config(source: str | Path | dict | None = None, overrides: list[str] | None = None, *,
                      cuda: bool | None = None, check_model: bool = False) -> tuple[TrainConfig, Any]:
    """`(TrainConfig, GRPOConfig)` from a YAML file or a dict, then command-line overrides. Nothing is loaded;
    `check_model` (`r3 train`) also refuses a local model path that does not exist, before TRL is imported."""
    from r3.config.files import read_config_file
    from r3.config.parser import pop_config

    argv, path = pop_config((["--config", str(source)] if source is not None and not isinstance(source, dict)
                             else []) + list(overrides or []))
    values = dict(source) if isinstance(source, dict) else read_config_file(path) if path else {}
    where = str(path) if path else "config"
    check_settings(values, argv, where, check_model=check_model)
    parser = train_parser(cuda=cuda)
    config, training = parser.parse_mapping(values, argv, where)
    training.max_completion_length = config.reflection_max_new_tokens
    check_combination(config, training)
    return config, training


def check_combination(config: TrainConfig, training: Any) -> None:
    """Settings that are valid alone but not together, and ranges of TRL's own fields."""
    from r3.config import check_values

    check_values(training)
    if str(getattr(training.eval_strategy, "value", training.eval_strategy)) != "no":
        raise R3Error(f"eval_strategy: {training.eval_strategy.value}: r3 train evaluates nothing while it trains (it "
                      "has no eval set); set eval_strategy: no and evaluate checkpoints with `r3 eval`")
    if config.mode == "online":
        per_process = training.per_device_train_batch_size * training.steps_per_generation
        if per_process % training.num_generations:
            raise R3Error(
                f"online mode needs whole groups on each process: per_device_train_batch_size x "
                f"steps_per_generation ({per_process}) must be a multiple of num_generations "
                f"({training.num_generations}), so that a group's reflections all follow the same first attempt"
            )
    if training.use_vllm and training.vllm_max_model_length is not None:
        budget = config.reflection_max_new_tokens + config.attempt_max_new_tokens
        prompt = config.max_prompt_length or 0
        if prompt + budget >= training.vllm_max_model_length:
            raise R3Error(
                f"vllm_max_model_length ({training.vllm_max_model_length}) leaves no room for the retry: the "
                f"reflection prompt ({config.max_prompt_length or 'unbounded'} tokens) + reflection_max_new_tokens "
                f"({config.reflection_max_new_tokens}) + attempt_max_new_tokens ({config.attempt_max_new_tokens}) "
                "must fit; raise vllm_max_model_length or lower the budgets")


def config_to_dict(config: TrainConfig, training: Any) -> dict[str, Any]:
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


__all__ = ["TrainConfig", "check_combination", "check_settings", "config_to_dict", "grpo_field_names",
           "load_train_config", "train_parser"]
