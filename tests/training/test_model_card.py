"""r3's model card: built with huggingface_hub's ModelCard, TRL's sections plus r3's, the eval table when one exists."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from huggingface_hub import ModelCard

from r3.training import model_card

CONFIG = {"model": "Qwen/Qwen2.5-1.5B-Instruct", "task": "countdown", "data": "sample:countdown",
          "split": "train[:150]", "learning_rate": 5e-7, "max_steps": 4, "report_to": ["tensorboard"],
          "logging_dir": "runs/t/runs", "attempt_max_new_tokens": 64}


def _proportion(correct: int, n: int) -> dict:
    return {"correct": correct, "n": n, "accuracy": correct / n, "low": correct / n / 2, "high": (correct / n + 1) / 2}


def _eval(folder: Path, model: str, first: int, within: int) -> None:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({
        "model": model, "task": "countdown",  # the task's name; settings hold the task as it was given
        "settings": {"task": "countdown", "data": "sample:countdown", "split": "train[150:200]", "limit": None},
        "summary": {"first_attempt": _proportion(first, 50), "within_two": _proportion(within, 50),
                    "reflection_success_rate": _proportion(within - first, 50 - first)}}))


def test_the_card_has_trls_sections_and_r3s(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "train-tiny"
    out.mkdir(parents=True)
    (out / "train_summary.json").write_text(json.dumps({
        "steps": 4, "seconds": 60.0, "model_changed": True, "eval_command": f"r3 eval --model {out} --out {out}/eval",
        "provenance": {"r3": "0.1.0", "python": "3.11.7", "git": {"commit": "f" * 40, "dirty": False},
                       "packages": {"torch": "2.13.0", "transformers": "5.25.0", "trl": "1.16.0", "vllm": "0.31.0"}}}))
    path = model_card.write_model_card(out, CONFIG, hub_model_id="me/r3-tiny")
    card = ModelCard.load(path)  # the hub's own parser reads it back
    assert card.data.base_model == "Qwen/Qwen2.5-1.5B-Instruct" and "trl" in card.data.tags
    text = card.text
    for section in ("## Quick start", "## Training procedure", "### Framework versions", "## Citations"):
        assert section in text, section  # TRL's sections
    assert 'pipeline("text-generation", model="me/r3-tiny"' in text and "max_new_tokens=64" in text
    assert "- TRL: 1.16.0\n- Transformers: 5.25.0\n- Pytorch: 2.13.0\n" in text  # the versions the run recorded
    assert "- r3: 0.1.0 (git ffffffffffff)" in text and "- vllm: 0.31.0" in text
    assert "TensorBoard logs: `tensorboard --logdir runs/t/runs`" in text  # report_to's tracker
    assert "@software{vonwerra2020trl" in text and "@article{bensal2025reflect" in text
    for part in ("base model: `Qwen/Qwen2.5-1.5B-Instruct`", "task: `countdown`",
                 "data: `sample:countdown` (split train[:150])", "learning_rate 5e-07", "steps: 4 (1.0 minutes)",
                 f"r3 eval --model {out}"):
        assert part in text, part
    assert "No evaluation of this model was found yet" in text and "| model |" not in text


def test_the_card_shows_the_before_after_table_once_evaluations_exist(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    out = runs / "train-tiny"
    out.mkdir(parents=True)
    _eval(runs / "eval-before", CONFIG["model"], 5, 9)
    _eval(runs / "eval-after", str(out), 7, 16)
    _eval(runs / "eval-other-split", CONFIG["model"], 1, 2)
    data = json.loads((runs / "eval-other-split" / "summary.json").read_text())
    data["settings"]["split"] = "test"
    (runs / "eval-other-split" / "summary.json").write_text(json.dumps(data))  # other problems: not a "before"
    card = ModelCard.load(model_card.write_model_card(out, CONFIG))
    rows = [line for line in card.text.splitlines() if line.startswith(("| base model", "| trained"))]
    assert len(rows) == 2
    assert rows[0].startswith("| base model `Qwen/Qwen2.5-1.5B-Instruct` | 10.0%") and "eval-before" in rows[0]
    assert rows[1].startswith(f"| trained model `{out}` | 14.0%") and "| 32.0%" in rows[1]
    results = {r.metric_name: r.metric_value for r in card.data.eval_results}  # model-index on the hub
    assert results == {"first attempt": 0.14, "within two": 0.32, "reflection success rate": round(9 / 43, 4)}


def test_the_suggested_eval_judges_the_setting_training_used(tmp_path: Path) -> None:
    """Task options, columns, templates, budgets and temperature of training (or of the mining run, where training
    leaves them unset) are repeated on the `r3 eval` that the console, report.md and the card suggest."""
    from r3.config.parser import ConfigParser
    from r3.evaluation.config import EvalConfig
    from r3.training.summary import continued, eval_command

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "run.json").write_text(json.dumps({
        "data": "sample:countdown", "split": "train[:150]", "columns": {"nums": "numbers"},
        "system_prompt": "Solve {nums}, briefly.", "attempt_max_new_tokens": 999}))
    settings = {"task_options": {"max_length": 100}, "attempt_max_new_tokens": 32, "reflection_max_new_tokens": 24,
                "temperature": 0.7, "top_p": 1.0, "top_k": 0, "seed": 7, "chat_template_kwargs": None,
                "strip_reasoning": True, "learning_rate": 1e-5}
    command = eval_command("runs/t", "countdown", str(tmp_path / "mine"), None, None, "offline", settings)
    words = [w for line in continued(command) for w in shlex.split(line.rstrip(" \\"))]
    (config,) = ConfigParser([EvalConfig], prog="r3 eval").parse(words[2:])  # the command parses as written
    assert config.task_options == {"max_length": 100} and config.columns == {"nums": "numbers"}
    assert config.system_prompt == "Solve {nums}, briefly." and config.strip_reasoning is True
    assert (config.attempt_max_new_tokens, config.reflection_max_new_tokens, config.temperature) == (32, 24, 0.7)
    assert (config.split, config.seed, config.out) == ("train[150:300]", 42, "runs/t/eval")  # eval's own seed
    assert "--top-p" not in command and "--learning-rate" not in command  # defaults and training-only fields stay out
