"""The one configuration system: every command's settings, defaults, YAML rules and errors (r3.config,
r3.config.parser)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from r3.cli import COMMANDS, main
from r3.config.parser import ConfigParser
from r3.errors import R3Error
from r3.evaluation.config import EvalConfig
from r3.mining.config import MineConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# settings that several commands share must have one name and one default everywhere (issue 10)
SHARED = ("temperature", "top_p", "top_k", "seed", "attempt_max_new_tokens", "reflection_max_new_tokens",
          "batch_size", "task", "task_options", "data", "split", "limit", "columns", "chat_template_kwargs",
          "strip_reasoning", "model")
# the demo's defaults are the settings of its published table (r3.demo.config says why)
DEMO_OWN_DEFAULTS = {"seed", "attempt_max_new_tokens", "reflection_max_new_tokens", "batch_size", "model"}


def command_help(command: str, capsys) -> str:
    argv = ["data", "countdown", "--help"] if command == "data" else [command, "--help"]
    try:
        code = main(argv)
    except SystemExit as exit_info:  # argparse's --help exits
        code = exit_info.code
    assert code == 0
    return capsys.readouterr().out


def help_options(text: str) -> dict[str, str]:
    """option name -> its help text (up to the next option), from argparse's --help output."""
    options: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"\s{2}(--[\w-]+)", line)
        if match:
            current = match.group(1).replace("-", "_")[2:]
            options[current] = line
        elif current and line.startswith(" " * 10):
            options[current] += " " + line.strip()
    return options


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("train",)])
def test_every_command_has_help_with_config_and_defaults(command, capsys):
    text = command_help(command, capsys)
    assert "--config FILE.yaml" in text
    if command not in ("tasks", "compare"):
        assert "(default:" in text


def test_shared_settings_have_one_name_and_one_default(capsys):
    seen: dict[str, dict[str, str]] = {}
    for command in ("eval", "mine", "train", "forgetting", "verify", "demo", "data"):
        options = help_options(command_help(command, capsys))
        for name in SHARED:
            if name in options:
                if command == "demo" and name in DEMO_OWN_DEFAULTS:
                    continue
                default = re.search(r"\(default: ([^)]*)\)", options[name])
                seen.setdefault(name, {})[command] = default.group(1) if default else ""
    for name in ("temperature", "top_p", "top_k", "seed", "attempt_max_new_tokens", "task", "data", "model"):
        assert len(seen.get(name, {})) >= 2, f"{name} is shared by fewer than two commands: {seen.get(name)}"
    for name, per_command in seen.items():
        assert len(set(per_command.values())) == 1, f"{name} has different defaults: {per_command}"


def test_train_help_lists_r3_and_trl_fields(capsys):
    text = command_help("train", capsys)
    for option in ("--reflection_max_new_tokens", "--attempt_max_new_tokens", "--learning_rate", "--num_generations",
                   "--chat_template_kwargs", "--task_options", "--data_config"):
        assert option in text, option
    options = help_options(text)  # TRL's names are noted where r3's are described, not listed as options
    assert "model_name_or_path" in options["model"] and "dataset_config" in options["data_config"]
    assert "torch_dtype (= model_init_kwargs.dtype)" in options["model_init_kwargs"]
    assert "use_peft" in options["use_lora"] and "--model_name_or_path" not in text


def test_every_yaml_under_configs_parses():
    from r3.training.config import load_train_config

    recipes = [p for p in CONFIGS.rglob("*.yaml") if p.parent.name not in ("base", "accelerate")]
    assert recipes
    for path in recipes:
        load_train_config(path, ["--use_cpu", "true"], cuda=False)


@pytest.mark.parametrize("config_class", [EvalConfig, MineConfig])
def test_defaults_build_and_dashes_or_underscores(config_class):
    parser = ConfigParser([config_class], prog="r3 x")
    (config,) = parser.parse(["--model", "m", "--task", "countdown", "--out", "o", "--top-p", "0.5", "--top_k", "3"])
    assert (config.top_p, config.top_k, config.temperature, config.seed) == (0.5, 3, 1.0, 42)
    defaults = {f.name for f in dataclasses.fields(config_class)}
    assert {"task_options", "columns", "chat_template_kwargs", "vllm_tensor_parallel_size"} <= defaults


def test_yaml_file_then_command_line(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("model: m\ntask: function_calling\nout: o\ntemperature: 0\ntask_options: {match: bfcl}\n"
                    "columns:\n  query: question\nchat_template_kwargs: {enable_thinking: false}\nlimit: null\n")
    (config,) = ConfigParser([EvalConfig], prog="r3 eval").parse(
        ["--config", str(path), "--temperature", "0.5", "--task-option", "match=exact",
         "--chat_template_kwargs.enable_thinking", "true"])
    assert config.temperature == 0.5 and config.task_options == {"match": "exact"}
    assert config.columns == {"query": "question"} and config.chat_template_kwargs == {"enable_thinking": True}


@pytest.mark.parametrize("yaml_text, argv, message", [
    ("temprature: 1\n", [], r"eval.yaml: unknown field 'temprature'.*did you mean temperature"),
    ("limit: abc\n", [], r"eval.yaml: field 'limit': invalid int value: 'abc'"),
    ("limit: [3]\n", [], r"eval.yaml: field 'limit' expects a single value, got a list"),
    ("temperature: {a: 1}\n", [], r"eval.yaml: field 'temperature' expects a single value, got a mapping"),
    ("", ["--temprature", "1"], r"unknown option --temprature.*did you mean --temperature"),
    ("", ["--top-p", "0"], r"field 'top_p' must be in \(0, 1\]"),
    ("", ["--temperature", "-1"], r"field 'temperature' must be a finite number >= 0"),
    ("", ["--limit", "0"], r"field 'limit' must be at least 1"),
    ("", ["--backend", "tf"], r"field 'backend': invalid choice: 'tf'"),
    ("", ["--task-option", "oops"], r"--task-option expects KEY=VALUE"),
    ("columns: [a]\n", [], r"field 'columns' expects"),
    ("- 1\n", [], r"not valid YAML|must be a YAML mapping"),
])
def test_errors_name_the_file_or_option_and_the_field(tmp_path, yaml_text, argv, message):
    path = tmp_path / "eval.yaml"
    path.write_text("model: m\ntask: countdown\nout: o\n" + yaml_text)
    with pytest.raises(R3Error, match=message):
        ConfigParser([EvalConfig], prog="r3 eval").parse(["--config", str(path), *argv])


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(R3Error, match="aliases|expands"):
        ConfigParser([EvalConfig], prog="r3 eval").parse(["--config", str(path)])


def test_yaml_1_2_booleans_keep_no_a_string(tmp_path):
    from r3.config import parse_yaml

    assert parse_yaml("a: no\nb: yes\nc: off\nd: false\ne: True\n", "x") == {
        "a": "no", "b": "yes", "c": "off", "d": False, "e": True}


def test_load_config_api_takes_a_dict_or_a_file(tmp_path):
    import r3

    config = r3.load_config("eval", {"model": "m", "task": "countdown", "out": "o"}, ["--limit", "4"])
    assert isinstance(config, r3.EvalConfig) and config.limit == 4
    (tmp_path / "m.yaml").write_text("model: m\ntask: countdown\nout: o\nmax_samples: 8\n")
    mine = r3.load_config("mine", tmp_path / "m.yaml")
    assert isinstance(mine, r3.MineConfig) and mine.max_samples == 8
    with pytest.raises(R3Error, match="no config for command"):
        r3.load_config("nope", {})
    assert {"get_task", "evaluate", "mine", "train", "load_config", "EvalConfig"} <= set(dir(r3))


def test_packaged_recipes_are_found_outside_a_clone(tmp_path, monkeypatch):
    from r3.config import read_config_file

    monkeypatch.chdir(tmp_path)
    assert read_config_file("configs/tiny_cpu.yaml")["task"] == "countdown"


def test_list_fields_take_a_yaml_list_on_the_command_line():
    from r3.training.config import load_train_config

    base = {"task": "countdown", "model": "m", "output_dir": "o"}
    _, training = load_train_config(base, ["--report_to", "[tensorboard, wandb]"], cuda=False)
    assert training.report_to == ["tensorboard", "wandb"]
    _, training = load_train_config({**base, "report_to": ["tensorboard", "wandb"]}, [], cuda=False)
    assert training.report_to == ["tensorboard", "wandb"]


def test_negative_flags_say_what_they_do_and_each_default_shows_once(capsys):
    for command in ("demo", "eval", "mine"):
        options = help_options(command_help(command, capsys))
        assert "show progress bars" in options["progress"]
        assert "the same as --progress false" in options["no_progress"] and "show" not in options["no_progress"]
        for name, text in options.items():
            assert text.count("default") <= 1, f"r3 {command} --{name}: {text}"
    options = help_options(command_help("demo", capsys))
    assert options["steps"].endswith("(default: the recipe's max_steps)")


def test_suggestions_are_close_matches_or_none():
    from r3.config.names import close_matches

    assert close_matches("attn_implementation", {"cache_implementation", "temperature"}) == []
    assert close_matches("num_generation", {"num_generations", "num_iterations"}) == ["num_generations"]
    assert close_matches("lerning_rate", {"learning_rate", "warmup_steps"}) == ["learning_rate"]
    assert close_matches("modle", {"model", "task"}) == ["model"]  # a swap of neighbours is one edit
    assert close_matches("seed", {"limit", "split"}) == []


def test_trl_names_work_in_every_command_that_loads_data(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("model_name_or_path: m\ntask: gsm8k\nout: o\ndataset_name: openai/gsm8k\ndataset_config: main\n")
    for config_class in (EvalConfig, MineConfig):
        (config,) = ConfigParser([config_class], prog="r3 x").parse(
            ["--config", str(path), "--dataset-train-split", "train[:5]"])
        assert (config.model, config.data, config.data_config, config.split) == ("m", "openai/gsm8k", "main",
                                                                                 "train[:5]")
    (config,) = ConfigParser([EvalConfig], prog="r3 eval").parse(
        ["--model", "m", "--task", "gsm8k", "--out", "o", "--data_config", "socratic"])
    assert config.data_config == "socratic"


def test_every_unknown_key_of_eval_is_named_at_once_without_far_fetched_hints(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("model: m\ntask: countdown\nout: o\nattn_implementation: sdpa\ntemprature: 0\n")
    with pytest.raises(R3Error) as error:
        ConfigParser([EvalConfig], prog="r3 eval").parse(["--config", str(path), "--reward_funcs", "accuracy"])
    message = str(error.value)
    assert message.startswith("3 settings r3 eval cannot use: ") and "\n" not in message
    assert "unknown field 'attn_implementation' (r3 eval has no such setting)" in message
    assert "did you mean temperature" in message and "cache_implementation" not in message
    assert "the command line: option --reward_funcs is not used by r3: r3's reward is the task's verifier" in message
