"""Every training recipe parses; bad training configs stop with one line naming the field."""

from __future__ import annotations

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
