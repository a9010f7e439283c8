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

from r3.config.base import RULES, CommandConfig, as_mapping, check_values, command_line, option
from r3.config.fields import (
    AttemptBudgetArgs,
    BackendArgs,
    ModelArgs,
    ReasoningArgs,
    ReflectionBudgetArgs,
    RunArgs,
    SamplingArgs,
    ShardArgs,
    TaskArgs,
    TemplateArgs,
    ThreadArgs,
    VllmArgs,
    generator_options,
)
from r3.config.files import merge, packaged_config, parse_yaml, read_config_file

__all__ = [
    "RULES", "AttemptBudgetArgs", "BackendArgs", "CommandConfig", "ModelArgs", "ReasoningArgs", "ReflectionBudgetArgs",
    "RunArgs", "SamplingArgs", "ShardArgs", "TaskArgs", "TemplateArgs", "ThreadArgs", "VllmArgs", "as_mapping", "check_values",
    "command_line", "generator_options", "merge", "option", "packaged_config", "parse_yaml", "read_config_file",
]
