"""Every training recipe parses; bad training configs stop with one line naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from r3.errors import R3Error
from r3.training.config import load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name not in ("base", "accelerate"))
PAPER_MODELS = {"Qwen/Qwen2-1.5B-Instruct", "Qwen/Qwen2-7B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct",
                "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "microsoft/Phi-3.5-mini-instruct"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_recipe_parses(path: Path) -> None:
    config, training = load_train_config(path, ["--use_cpu", "true"], cuda=False)  # GPU recipes: checked on a CPU
    assert config.task and training.loss_type and training.output_dir
    assert training.max_completion_length == config.reflection_max_new_tokens
    if path.parent.name in ("countdown", "function_calling"):  # the paper recipes
        assert (training.beta, training.learning_rate, training.max_steps) == (0.001, 5e-7, 1750)
        assert training.lr_scheduler_type == "cosine" and training.use_vllm
        assert training.per_device_train_batch_size * training.gradient_accumulation_steps * 8 == 256


def test_recipes_cover_the_paper() -> None:
    seen = {(path.parent.name, yaml.safe_load(path.read_text())["model"]) for path in RECIPES if path.parent != CONFIGS}
    assert seen == {(task, model) for task in ("countdown", "function_calling") for model in PAPER_MODELS}
    included = {yaml.safe_load(p.read_text()).get("base") for p in CONFIGS.rglob("*.yaml")}
    for base in (CONFIGS / "base").glob("*.yaml"):
        assert any(b and Path(b).name == base.name for b in included), f"{base} is included by no recipe"


def test_accelerate_configs_load() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    found = {p.name: load_config_from_file(str(p)) for p in (CONFIGS / "accelerate").glob("*.yaml")}
    assert {"single_gpu.yaml", "multi_gpu.yaml", "multi_gpu_zero3.yaml"} <= found.keys()
    assert found["multi_gpu_zero3.yaml"].deepspeed_config["zero_stage"] == 3


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("task: countdown\nmodel: m\noutput_dir: out\n" + text)
    return path


@pytest.mark.parametrize("text, overrides, message", [
    ("num_generation: 4\n", [], r"c.yaml: unknown field 'num_generation'.*did you mean num_generations"),
    ("", ["--learning_rat", "1e-5"], "unknown option --learning_rat.*did you mean --learning_rate"),
    ("num_generations: [8]\n", [], "c.yaml: field 'num_generations' expects a single value, got a list"),
    ("", ["--beta", "high"], "field 'beta': invalid float value: 'high'"),
    ("beta: high\n", [], "c.yaml: field 'beta': invalid float value: 'high'"),
    ("mode: offlin\n", [], "field 'mode': invalid choice: 'offlin'"),
    ("use_lora: yes please\n", [], "field 'use_lora'"),
    ("lora_target_modules: [q_proj, lm_head]\n", [], "lm_head cannot be a LoRA target"),
    ("num_generations: 3\n", [], "invalid GRPOConfig settings: .*divisible by num_generations"),
    ("attempt_max_new_tokens: 0\n", [], "'attempt_max_new_tokens' must be at least 1"),
    ("max_completion_length: 64\n", [], "set that instead"),
    ("", ["--per_device_train_batch_size", "0"], "'per_device_train_batch_size' must be at least 1"),
    ("", ["--learning_rate", "nan"], "'learning_rate' must be a finite number"),
    ("", ["--temperature", "-1"], "'temperature' must be a finite number >= 0"),
    ("", ["--seed", "99999999999"], "'seed' must be in"),
    ("base: 5\n", [], "'base' must be a file name"),
    ("- a list\n", [], "not valid YAML|must be a YAML mapping"),
])
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(R3Error, match=message):
        load_train_config(_write(tmp_path, text), overrides, cuda=False)


def test_missing_fields_and_files(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("model: m\noutput_dir: out\n")
    with pytest.raises(R3Error, match="missing --task"):
        load_train_config(tmp_path / "c.yaml", cuda=False)
    (tmp_path / "d.yaml").write_text("model: m\ntask: countdown\n")
    with pytest.raises(R3Error, match="missing --output_dir"):
        load_train_config(tmp_path / "d.yaml", cuda=False)
    with pytest.raises(R3Error, match="nope.yaml: no such file|cannot read config"):
        load_train_config(tmp_path / "nope.yaml", cuda=False)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(R3Error, match="include each other"):
        load_train_config(tmp_path / "loop.yaml", cuda=False)


def test_base_files_merge_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("beta: 0.5\nmodel_init_kwargs: {dtype: float32, revision: main}\n")
    path = _write(tmp_path, "base: base.yaml\nlearning_rate: 5e-7\nmodel_init_kwargs: {dtype: bfloat16}\n")
    config, training = load_train_config(
        path, ["--beta=0.25", "--model_init_kwargs.revision", "v2", "--use-lora", "--learning-rate", "3e-7"],
        cuda=False)
    assert training.beta == 0.25 and training.learning_rate == 3e-7
    assert training.model_init_kwargs == {"dtype": "bfloat16", "revision": "v2"}
    assert config.use_lora is True and config.task == "countdown"
    assert training.bf16 is False and not training.activation_checkpointing  # CPU defaults
    assert training.loss_type == "grpo"  # r3's explicit default, not TRL's "dapo"


def test_trl_habits_work(tmp_path: Path) -> None:
    """TRL and open-r1 users write model_name_or_path and `save_strategy: no` (YAML 1.1 would read a boolean)."""
    path = tmp_path / "c.yaml"
    path.write_text("task: countdown\nmodel_name_or_path: m\noutput_dir: out\nsave_strategy: no\n")
    config, training = load_train_config(path, ["--chat_template_kwargs.enable_thinking", "false"], cuda=False)
    assert config.model == "m" and training.save_strategy.value == "no"
    assert training.chat_template_kwargs == {"enable_thinking": False}
    config, training = load_train_config({"task": "countdown", "model": "m", "output_dir": "o"},
                                         ["--save-strategy", "no", "--model-name-or-path", "n"], cuda=False)
    assert config.model == "n" and training.save_strategy.value == "no"


def test_three_bad_keys_are_named_in_one_message(tmp_path: Path) -> None:
    path = _write(tmp_path, "reward_funcs: [accuracy]\nlerning_rate: 1.0e-5\nfoo_bar: 1\n")
    with pytest.raises(R3Error) as error:
        load_train_config(path, cuda=False)
    message = str(error.value)
    assert message.startswith(f"{path}: 3 settings r3 train cannot use: (1) ") and "\n" not in message
    assert "field 'reward_funcs' is not used by r3: r3's reward is the task's verifier" in message
    assert "unknown field 'lerning_rate' (r3 train has no such setting; did you mean learning_rate?)" in message
    assert "unknown field 'foo_bar' (r3 train has no such setting)" in message


def test_file_and_command_line_problems_come_together(tmp_path: Path) -> None:
    path = _write(tmp_path, "max_completion_length: 64\n")
    with pytest.raises(R3Error) as error:
        load_train_config(path, ["--reward_weights", "[1, 2]", "--attn_implementaton", "sdpa"], cuda=False)
    message = str(error.value)
    assert message.startswith("3 settings r3 train cannot use: ")
    assert f"{path}: field 'max_completion_length' is not used by r3: r3 sets it from reflection_max_new_tokens" \
        in message
    assert "the command line: option --reward_weights is not used by r3: r3 trains on one reward" in message
    assert "--attn_implementaton (r3 train has no such setting; did you mean --attn_implementation?)" in message


# the keys of a `trl grpo --config` recipe (TRL's ScriptArguments, ModelConfig and GRPOConfig) and open-r1's
TRL_RECIPE = """
model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
model_revision: v2
torch_dtype: bfloat16
attn_implementation: sdpa
trust_remote_code: true
use_peft: true
lora_r: 8
lora_alpha: 16
lora_dropout: 0.1
lora_target_modules: [q_proj, v_proj]
load_in_4bit: false
use_dora: false
dataset_name: openai/gsm8k
dataset_config: main
dataset_train_split: train[:100]
dataset_test_split: test
dataset_streaming: false
gradient_checkpointing: true
gradient_checkpointing_kwargs: {use_reentrant: false}
warmup_ratio: 0.1
hub_model_revision: r3
overwrite_output_dir: false
output_dir: out
task: gsm8k
"""


def test_trl_and_open_r1_names_set_r3s_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(TRL_RECIPE)
    config, training = load_train_config(path, ["--dataset-config", "socratic"], cuda=False)
    assert (config.model, config.data, config.data_config, config.split) == (
        "Qwen/Qwen2.5-0.5B-Instruct", "openai/gsm8k", "socratic", "train[:100]")
    assert training.model_init_kwargs == {"revision": "v2", "dtype": "bfloat16", "attn_implementation": "sdpa"}
    assert training.trust_remote_code and config.use_lora and config.lora_target_modules == ["q_proj", "v_proj"]
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (8, 16, 0.1)
    assert training.activation_checkpointing is True  # over r3's CPU default: the recipe's own choice wins
    assert training.warmup_steps == 0.1 and training.hub_revision == "r3"


@pytest.mark.parametrize("text, message", [
    ("model_name_or_path: n\n", ("'model_name_or_path' and 'model' set the same setting (model_name_or_path is "
                                 "another name for model); keep one")),
    ("dtype: float32\ntorch_dtype: bfloat16\n", "'torch_dtype' and 'dtype' set the same setting"),
    ("model_init_kwargs: {dtype: float32}\ntorch_dtype: bfloat16\n", "'torch_dtype' and 'model_init_kwargs'"),
    ("load_in_4bit: true\n", "field 'load_in_4bit' is not used by r3: r3 trains full or LoRA weights"),
    ("overwrite_output_dir: true\n", "resumes from output_dir's newest checkpoint"),
    ("dataset_prompt_column: problem\n", "columns: {FIELD: COLUMN}"),
    ("eval_strategy: steps\n", "r3 train evaluates nothing while it trains"),
    ("evaluation_strategy: epoch\n", "set eval_strategy: no"),
])
def test_one_name_per_setting_and_unused_settings_say_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(R3Error, match=re.escape(message)):
        load_train_config(_write(tmp_path, text), cuda=False)


# open-r1's recipes/Qwen2.5-1.5B-Instruct/grpo/config_demo.yaml (2025), unmodified
OPEN_R1_DEMO = """
model_name_or_path: Qwen/Qwen2.5-1.5B-Instruct
model_revision: main
torch_dtype: bfloat16
attn_implementation: flash_attention_2
dataset_name: open-r1/OpenR1-Math-220k
dataset_prompt_column: problem
system_prompt: "You are a helpful AI Assistant that provides well-reasoned and detailed responses."
bf16: true
use_vllm: true
do_eval: false
gradient_accumulation_steps: 4
gradient_checkpointing: true
gradient_checkpointing_kwargs:
  use_reentrant: false
hub_model_id: Qwen2.5-1.5B-Open-R1-GRPO
hub_strategy: every_save
learning_rate: 2.0e-05
log_completions: true
log_level: info
logging_first_step: true
logging_steps: 1
logging_strategy: steps
lr_scheduler_type: cosine
max_prompt_length: 512
max_completion_length: 1024
max_steps: -1
num_generations: 16
num_train_epochs: 1
output_dir: data/Qwen2.5-1.5B-Open-R1-GRPO
overwrite_output_dir: true
per_device_eval_batch_size: 16
per_device_train_batch_size: 16
push_to_hub: true
report_to:
- wandb
reward_funcs:
- accuracy
- format
- tag_count
reward_weights:
- 1.0
- 1.0
- 1.0
save_strategy: "epoch"
save_total_limit: 1
seed: 42
temperature: 0.7
warmup_ratio: 0.1
"""


def test_an_open_r1_recipe_gets_every_change_it_needs_in_one_message(tmp_path: Path) -> None:
    path = tmp_path / "config_demo.yaml"
    path.write_text(OPEN_R1_DEMO)
    with pytest.raises(R3Error) as error:
        load_train_config(path, cuda=False)
    message = str(error.value)
    assert message.startswith(f"{path}: 5 settings r3 train cannot use: ")
    for key in ("dataset_prompt_column", "max_completion_length", "overwrite_output_dir", "reward_funcs",
                "reward_weights"):
        assert f"field '{key}' is not used by r3" in message
    kept = [line for line in OPEN_R1_DEMO.splitlines() if not line.startswith(
        ("dataset_prompt_column", "max_completion_length", "overwrite_output_dir", "reward_", "- accuracy",
         "- format", "- tag_count", "- 1.0"))]
    path.write_text("\n".join(kept) + "\ntask: gsm8k\nmode: online\n")
    config, training = load_train_config(path, ["--use_cpu", "true"], cuda=False)  # a GPU recipe, checked on a CPU
    assert config.model == "Qwen/Qwen2.5-1.5B-Instruct" and config.data == "open-r1/OpenR1-Math-220k"
    assert config.max_prompt_length == 512 and training.model_init_kwargs["attn_implementation"] == "flash_attention_2"


def test_grpo_field_names_read_from_the_source_are_trls() -> None:
    import dataclasses

    from trl import GRPOConfig

    from r3.training.config import grpo_field_names

    assert grpo_field_names() == {f.name for f in dataclasses.fields(GRPOConfig) if f.init}


@pytest.mark.parametrize("text, message", [
    ("lerning_rate: 1\n", "unknown field 'lerning_rate'"),
    ("", "model directory '{tmp}/no-such-model' does not exist"),
    ("reward_funcs: [accuracy]\n", "field 'reward_funcs' is not used by r3"),
    ("task_options: {no_such_option: 1}\n", "no_such_option"),
])
def test_settings_errors_come_before_trl_and_torch_are_imported(tmp_path: Path, text: str, message: str) -> None:
    """`r3 train` checks every key, r3's values and a local model path without importing TRL (seconds of CPU)."""
    import subprocess
    import sys

    path = tmp_path / "c.yaml"
    path.write_text(f"task: countdown\nmodel: {tmp_path}/no-such-model\noutput_dir: {tmp_path}/out\n{text}")
    probe = ("import sys; from r3.cli import main; code = main(['train', '--config', sys.argv[1]]); "
             "print(code, sorted(m for m in ('trl', 'torch', 'accelerate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.stdout.strip() == "2 []", done.stdout + done.stderr
    assert message.format(tmp=tmp_path) in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_docs_name_every_trl_and_open_r1_name() -> None:
    from r3.config.compat import ALIASES, UNUSED

    text = (CONFIGS.parent / "docs" / "training.md").read_text()
    missing = [name for name in (*ALIASES, *UNUSED) if f"`{name}`" not in text and f"`{name}:" not in text]
    assert not missing, f"docs/training.md does not mention {missing}"
