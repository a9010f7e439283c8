"""Every config in configs/ parses; bad configs stop with one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from r3.errors import R3Error
from r3.training.config import coerce, load_config, parse_overrides

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name not in ("base", "accelerate"))
PAPER_MODELS = {"Qwen/Qwen2-1.5B-Instruct", "Qwen/Qwen2-7B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct",
                "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "microsoft/Phi-3.5-mini-instruct"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_recipe_parses(path: Path) -> None:
    config, training = load_config(path, ["--use_cpu", "true"], cuda=False)  # GPU recipes: checked on a CPU here
    assert config.task and training.loss_type and training.output_dir
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
    ("num_generation: 4\n", [], "unknown field 'num_generation'.*did you mean num_generations"),
    ("", ["--learning_rat", "1e-5"], "command line: unknown field 'learning_rat'"),
    ("num_generations: [8]\n", [], "field 'num_generations' expects int or null, got \\[8\\]"),
    ("", ["--beta", "high"], "command line: field 'beta' expects float, got 'high'"),
    ("mode: offlin\n", [], "field 'mode' expects 'offline' or 'online'"),
    ("use_lora: yes please\n", [], "field 'use_lora' expects bool"),
    ("lora_target_modules: [q_proj, lm_head]\n", [], "lm_head cannot be a LoRA target"),
    ("num_generations: 3\n", [], "invalid training settings: .*divisible by num_generations"),
    ("retry_max_new_tokens: 0\n", [], "'retry_max_new_tokens' must be at least 1"),
    ("- a list\n", [], "not valid YAML|must be a YAML mapping"),
])
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(R3Error, match=message):
        load_config(_write(tmp_path, text), overrides, cuda=False)


def test_missing_fields_and_files(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("model: m\noutput_dir: out\n")
    with pytest.raises(R3Error, match="missing required field 'task'"):
        load_config(tmp_path / "c.yaml", cuda=False)
    with pytest.raises(R3Error, match="cannot read config"):
        load_config(tmp_path / "nope.yaml", cuda=False)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(R3Error, match="include each other"):
        load_config(tmp_path / "loop.yaml", cuda=False)


def test_base_files_merge_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("beta: 0.5\nmodel_init_kwargs: {dtype: float32, revision: main}\n")
    path = _write(tmp_path, "base: base.yaml\nlearning_rate: 5e-7\nmodel_init_kwargs: {dtype: bfloat16}\n")
    config, training = load_config(path, ["--beta=0.25", "--model_init_kwargs.revision", "v2", "--use_lora"],
                                   cuda=False)
    assert training.beta == 0.25 and training.learning_rate == 5e-7  # YAML reads 5e-7 as a string: coerced
    assert training.model_init_kwargs == {"dtype": "bfloat16", "revision": "v2"}
    assert config.use_lora is True and config.task == "countdown"
    assert training.bf16 is False and training.gradient_checkpointing is False  # CPU defaults
    assert training.loss_type == "grpo"  # r3's explicit default, not TRL's "dapo"


def test_overrides_and_coercion() -> None:
    assert parse_overrides(["--a", "1", "--b=[x, y]", "--c", "--d.e", "null"]) == {
        "a": 1, "b": ["x", "y"], "c": True, "d": {"e": None}}
    with pytest.raises(R3Error, match="expected --field value"):
        parse_overrides(["beta"])
    assert coerce("3", int) == 3 and coerce(2, float) == 2.0 and coerce(None, int | None) is None
    for value, annotation in [(True, int), ("x", float), (1.5, int), ("x", list[str])]:
        with pytest.raises(TypeError):
            coerce(value, annotation)
