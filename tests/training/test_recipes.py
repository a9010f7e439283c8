"""Recipes written for `trl grpo` and open-r1 run under `r3 train` on the tiny model (CPU), and a dataset folder that
declares two configurations is loaded by configuration name through `r3 eval`, `r3 mine` and `r3 train`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from r3.cli import main
from r3.tasks.base import Task, require
from r3.types import Verdict

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
WORDS = {"short": ["ox", "ant", "bee", "cat", "dog", "elk", "fox", "gnu"],
         "long": ["elephant", "kangaroo", "flamingo", "hedgehog", "mongoose", "antelope", "squirrel", "tortoise"]}


class SeenWordsTask(Task):
    """train_fakes.ParityTask's verdicts (a random model passes about half the time, so GRPO has something to learn) with a
    prompt template (so a recipe's system_prompt applies), recording every example it judges, to show which
    configuration's rows a command read."""

    name = "seen_words"
    fields = ("word",)
    prompt_template = "Say the word {word}."
    seen: ClassVar[set[str]] = set()

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "word": str(require(row, "word"))}

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        SeenWordsTask.seen.add(example["word"])
        even = len(completion) % 2 == 0
        return Verdict(even, "even length" if even else f"odd length {len(completion)}")


TASK = "test_recipes:SeenWordsTask"


@pytest.fixture(scope="module")
def word_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset folder as on the hub: data files and a README.md whose `configs:` declares `short` and `long`."""
    folder = tmp_path_factory.mktemp("words")
    cards = []
    for config, words in WORDS.items():
        (folder / config).mkdir()
        (folder / config / "train.jsonl").write_text("".join(json.dumps({"word": w}) + "\n" for w in words))
        cards.append({"config_name": config, "data_files": [{"split": "train", "path": f"{config}/train.jsonl"}]})
    (folder / "README.md").write_text("---\n" + yaml.safe_dump({"configs": cards}) + "---\n# two word lists\n")
    return folder


@pytest.fixture(autouse=True)
def _forget_seen() -> None:
    SeenWordsTask.seen = set()


def test_a_trl_grpo_recipe_trains(tiny_model_dir: Path, word_folder: Path, tmp_path: Path) -> None:
    """The keys `trl grpo --config` takes (ScriptArguments, ModelConfig, GRPOConfig), plus r3's task and budgets."""
    recipe = tmp_path / "grpo.yaml"
    recipe.write_text(f"""
model_name_or_path: {tiny_model_dir}
model_revision: main
dtype: float32
attn_implementation: eager
trust_remote_code: false
use_peft: true
lora_r: 8
lora_alpha: 16
lora_dropout: 0.0
lora_target_modules: [q_proj, v_proj]
lora_task_type: CAUSAL_LM
load_in_4bit: false
dataset_name: {word_folder}
dataset_config: long
dataset_train_split: train
dataset_test_split: test
output_dir: {tmp_path / "out"}
learning_rate: 1.0e-3
per_device_train_batch_size: 8
gradient_accumulation_steps: 1
num_generations: 4
max_steps: 2
logging_steps: 1
temperature: 1.0
beta: 0.0
report_to: none
save_strategy: "no"
seed: 0
use_cpu: true
bf16: false
task: {TASK}
mode: online
reflection_max_new_tokens: 8
attempt_max_new_tokens: 8
""")
    assert main(["train", "--config", str(recipe), "--disable_tqdm", "true"]) == 0
    out = tmp_path / "out"
    state = json.loads((out / "train_summary.json").read_text()) if (out / "train_summary.json").is_file() else {}
    recorded = yaml.safe_load((out / "r3_train_config.yaml").read_text())
    assert recorded["data"] == str(word_folder) and recorded["data_config"] == "long" and recorded["use_lora"]
    assert recorded["model_init_kwargs"] == {"revision": "main", "dtype": "float32", "attn_implementation": "eager"}
    assert (out / "adapter").is_dir() and (out / "config.json").is_file()
    assert SeenWordsTask.seen and SeenWordsTask.seen <= set(WORDS["long"]), SeenWordsTask.seen
    assert state.get("global_step", 2) == 2


def test_the_shipped_open_r1_style_recipe_trains(tiny_model_dir: Path, word_folder: Path, tmp_path: Path) -> None:
    """configs/open_r1_style.yaml as shipped, with the model, the data and the sizes swapped for tiny local ones."""
    overrides = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(word_folder),
                 "--dataset_config", "short", "--task", TASK, "--output_dir", str(tmp_path / "out"),
                 "--torch_dtype", "float32", "--attn_implementation", "eager", "--use_cpu", "true",
                 "--bf16", "false", "--gradient_checkpointing", "false", "--max_steps", "2",
                 "--num_generations", "4", "--per_device_train_batch_size", "8", "--gradient_accumulation_steps", "1",
                 "--reflection_max_new_tokens", "8", "--attempt_max_new_tokens", "8", "--save_strategy", "no",
                 "--disable_tqdm", "true"]
    assert main(["train", "--config", str(CONFIGS / "open_r1_style.yaml"), *overrides]) == 0
    recorded = yaml.safe_load((tmp_path / "out" / "r3_train_config.yaml").read_text())
    assert recorded["system_prompt"].startswith("You are a helpful assistant") and recorded["warmup_steps"] == 0.1
    assert (tmp_path / "out" / "config.json").is_file()
    assert SeenWordsTask.seen and SeenWordsTask.seen <= set(WORDS["short"]), SeenWordsTask.seen


def test_eval_and_mine_read_the_named_configuration(tiny_model_dir: Path, word_folder: Path, tmp_path: Path) -> None:
    common = ["--model", str(tiny_model_dir), "--task", TASK, "--data", str(word_folder), "--split", "train",
              "--attempt_max_new_tokens", "4", "--no_progress"]
    assert main(["eval", *common, "--dataset_config", "short", "--reflection_max_new_tokens", "4",
                 "--out", str(tmp_path / "eval")]) == 0
    assert SeenWordsTask.seen and SeenWordsTask.seen <= set(WORDS["short"]), SeenWordsTask.seen
    SeenWordsTask.seen = set()
    assert main(["mine", *common, "--data_config", "long", "--max_samples", "2", "--out", str(tmp_path / "mine")]) == 0
    assert SeenWordsTask.seen and SeenWordsTask.seen <= set(WORDS["long"]), SeenWordsTask.seen


def test_a_missing_configuration_name_is_one_line(word_folder: Path, tmp_path: Path, capsys) -> None:
    code = main(["eval", "--model", "no/such-model", "--task", TASK, "--data", str(word_folder),
                 "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 2 and "available configs: ['short', 'long']" in err and "data_config" in err
    assert len(err.strip().splitlines()) == 1
