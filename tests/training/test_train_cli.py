"""`r3 train` end to end on the tiny model (CPU): parameters change, checkpoints and the final model load, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from train_fakes import write_config, write_failures
from transformers import AutoModelForCausalLM, AutoTokenizer

from r3.cli import main


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("train_cli")
    data = write_failures(base / "mine" / "failures.jsonl")
    config = write_config(base / "config.yaml", tiny_model_dir, base / "mine", base / "out")
    code = main(["train", "--config", str(config), "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "1"])
    assert code == 0
    assert data.exists()
    return base


def _params(path: Path) -> dict[str, torch.Tensor]:
    model = AutoModelForCausalLM.from_pretrained(path)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_final_model_loads_and_differs_from_the_start(trained: Path, tiny_model_dir: Path) -> None:
    out = trained / "out"
    before, after = _params(tiny_model_dir), _params(out)
    assert before.keys() == after.keys()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert len(changed) > len(before) // 2, f"only {changed} changed"
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    recorded = (out / "r3_train_config.yaml").read_text()
    assert "train_fakes:ParityTask" in recorded and "beta: 0.001" in recorded


def test_checkpoint_loads_and_training_resumes(trained: Path) -> None:
    out = trained / "out"
    assert AutoModelForCausalLM.from_pretrained(out / "checkpoint-1") is not None
    code = main(["train", "--config", str(trained / "config.yaml"), "--max_steps", "3",
                 "--save_strategy", "steps", "--save_steps", "1", "--resume_from_checkpoint", "last"])
    assert code == 0
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [1, 2, 3]


def test_unknown_field_stops_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "no-such-model", tmp_path / "d", tmp_path / "out")
    assert main(["train", "--config", str(config), "--num_generation", "4"]) == 2
    assert "unknown option --num_generation" in capsys.readouterr().err


def test_lora_saves_a_merged_model_and_the_adapter(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = write_failures(tmp_path / "failures.jsonl", count=2)
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", max_steps=1)
    assert main(["train", "--config", str(config), "--use_lora", "--lora_r", "4"]) == 0
    merged = _params(tmp_path / "out")
    assert not any("lora" in name for name in merged)  # a plain model r3 eval loads without peft
    before = _params(tiny_model_dir)
    changed = {name for name in before if not torch.equal(before[name], merged[name])}
    assert changed and all("proj" in name for name in changed)  # only LoRA-targeted linear layers moved
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()


def test_a_finished_run_without_checkpoints_is_finished_and_cannot_be_continued(tiny_model_dir: Path,
                                                                                 tmp_path: Path, capsys,
                                                                                 caplog) -> None:
    write_failures(tmp_path / "mine" / "failures.jsonl", count=2)
    config = write_config(tmp_path / "config.yaml", tiny_model_dir, tmp_path / "mine", tmp_path / "out")
    argv = ["train", "--config", str(config), "--max_steps", "1", "--save_strategy", "no"]
    assert main(argv) == 0
    model = (tmp_path / "out" / "model.safetensors").read_bytes()
    capsys.readouterr()
    with caplog.at_level("INFO"):
        assert main(argv) == 0  # the same command: finished, nothing to do
    assert "finished at step 1: nothing to do" in caplog.text
    assert main([*argv[:3], "--max_steps", "2", "--save_strategy", "no"]) == 2  # more steps: nothing to resume from
    assert "already holds a finished training run" in capsys.readouterr().err
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == model


def test_resuming_with_another_chat_template_is_refused(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    write_failures(tmp_path / "mine" / "failures.jsonl", count=2)
    config = write_config(tmp_path / "config.yaml", model, tmp_path / "mine", tmp_path / "out")
    argv = ["train", "--config", str(config), "--save_strategy", "steps", "--save_steps", "1"]
    assert main([*argv, "--max_steps", "1"]) == 0
    assert json.loads((tmp_path / "out" / "run.json").read_text())["chat_template"]["template_sha256"]
    template = model / "chat_template.jinja"  # where transformers 5 keeps a saved model's template
    template.write_text(template.read_text().replace("<|im_start|>", "<|im_start|> ", 1))
    capsys.readouterr()
    assert main([*argv, "--max_steps", "2", "--resume_from_checkpoint", "last"]) == 2
    err = capsys.readouterr().err
    assert "made with other inputs: the model files and the chat template changed" in err
    assert "chat_template.template_sha256" in err and len(err.strip().splitlines()) == 1
