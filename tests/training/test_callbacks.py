"""The console line, the learning-signal alarms, the summary's arithmetic and the eval command, on literal logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from r3.training.alarms import SignalAlarms
from r3.training.callbacks import console_line, install, read_jsonl, varied
from r3.training.reward import RetrySample
from r3.training.summary import build_summary, eval_command, fingerprint, held_out_split, summary_lines

HEALTHY = {"loss": 0.01, "grad_norm": 0.8, "learning_rate": 3e-5, "kl": 0.0012, "r3/retry_success": 0.41,
           "r3/reflection_tokens": 18.2, "frac_reward_zero_std": 0.25, "completions/clipped_ratio": 0.1,
           "r3/retry_truncated": 0.0}
DEAD = {**HEALTHY, "grad_norm": 0.0, "r3/retry_success": 0.0, "frac_reward_zero_std": 1.0}


def test_console_line_holds_the_numbers_of_the_method_in_under_100_columns() -> None:
    line = console_line(HEALTHY, step=12, max_steps=500, seconds_per_step=1.14)
    assert line == " 12/500  retry 41%  refl 18.2 tok  zero-spread 25%  kl 0.0012  lr 3e-05  1.1 s/step  ETA 9m16s"
    assert len("INFO " + line) < 100  # the CLI's log format puts the level in front


def test_console_line_without_kl_speed_or_r3_metrics_falls_back_to_trl_names() -> None:
    record = {"rewards/retry_success/mean": 0.5, "completions/mean_length": 7.0, "learning_rate": 1e-4}
    assert console_line(record, 1, 10, None) == " 1/10  retry 50%  refl 7.0 tok  zero-spread -  lr 0.0001"


def _feed(alarms: SignalAlarms, records: list[dict]) -> list[tuple[int, str]]:
    raised = []
    for step, record in enumerate(records, start=1):
        raised += [(step, a.name) for a in alarms.check(record, step)]
    return raised


def test_no_learning_signal_raises_zero_spread_and_zero_gradient_at_the_kth_step(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="r3.train"):
        raised = _feed(SignalAlarms(3), [DEAD] * 6)
    assert raised == [(3, "zero_spread"), (3, "zero_grad")]
    text = "\n".join(caplog.messages)
    assert "no learning signal" in text and "Fix:" in text and "gradient norm 0" in text
    assert all(len("WARNING " + line) <= 100 for line in text.splitlines())


def test_a_streak_broken_by_one_healthy_step_does_not_alarm_and_a_new_streak_alarms_again() -> None:
    alarms = SignalAlarms(3)
    assert _feed(alarms, [DEAD, DEAD, HEALTHY, DEAD, DEAD]) == []
    assert [a.name for a in alarms.check(DEAD, 6)] == ["zero_spread", "zero_grad"]


def test_healthy_steps_never_alarm() -> None:
    assert _feed(SignalAlarms(2), [HEALTHY] * 10) == []


def test_truncated_reflections_and_retries_and_saturated_success_alarm_with_their_fix() -> None:
    clipped = {**HEALTHY, "completions/clipped_ratio": 0.97, "r3/retry_truncated": 0.95}
    alarms = SignalAlarms(2, max_completion_length=32, attempt_max_new_tokens=24)
    assert _feed(alarms, [clipped] * 2) == [(2, "reflections_truncated"), (2, "retries_truncated")]
    assert "reflection budget (32 tokens)" in alarms.raised[0].message
    assert "raise reflection_max_new_tokens" in alarms.raised[0].message
    assert "retry budget (24 tokens)" in alarms.raised[1].message
    assert "raise attempt_max_new_tokens" in alarms.raised[1].message
    solved = {**HEALTHY, "r3/retry_success": 1.0, "frac_reward_zero_std": 0.5}
    assert _feed(SignalAlarms(2), [solved] * 2) == [(2, "saturated")]


def test_fingerprint_sees_any_change_of_a_trainable_tensor() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    before = fingerprint(model)
    assert fingerprint(model) == before
    with torch.no_grad():
        model[1].bias[0] += 1e-6
    assert fingerprint(model) != before
    for p in model.parameters():
        p.requires_grad_(False)
    assert fingerprint(model) is None


def test_summary_compares_the_first_and_last_tenth_with_wilson_intervals() -> None:
    tallies = {step: (1, 8) if step <= 2 else (6, 8) for step in range(1, 21)}
    records = [{"step": s, "r3/reflection_tokens": 30.0 if s <= 2 else 12.0} for s in range(1, 21)]
    summary = build_summary(tallies, records, steps=20, first_step=0, seconds=100.0, changed=True, alarms=[],
                            command="r3 eval ...")
    assert summary.start_steps == [1, 2] and summary.end_steps == [19, 20]
    assert summary.retry_success_start["correct"] == 2 and summary.retry_success_start["n"] == 16
    assert summary.retry_success_end["accuracy"] == 0.75
    assert 0.0 < summary.retry_success_start["low"] < 0.125 < summary.retry_success_start["high"]
    text = "\n".join(summary_lines(summary))
    assert "model changed: yes" in text and "12.5% [" in text and "30.0 -> 12.0 tokens" in text
    unchanged = build_summary({}, [], 5, 0, 1.0, False, [], "")
    assert "model changed: NO" in "\n".join(summary_lines(unchanged))


@pytest.mark.parametrize(("split", "limit", "held"), [
    ("train[:100]", None, "train[100:200]"), ("train[100:150]", None, "train[150:200]"),
    (None, 32, "train[32:64]"), ("test", 5000, "test[5000:6000]"), ("train", None, None), ("train[:5%]", None, None),
])
def test_held_out_split_follows_the_rows_used(split, limit, held) -> None:
    assert held_out_split(split, limit) == held


def test_eval_command_reads_the_mined_data_from_the_mining_run(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "run.json").write_text(json.dumps({"data": "sample:countdown", "split": None, "limit": 32}))
    command = eval_command("runs/train", "countdown", str(tmp_path / "mine"), None, None, "offline")
    assert command == ("r3 eval --model runs/train --task countdown --data sample:countdown --split 'train[32:64]' "
                       "--out runs/train/eval")
    unknown = eval_command("runs/t", "countdown", None, None, None, "online")
    assert "--data TASK_DATA --split HELD_OUT_SPLIT" in unknown


def test_varied_samples_come_from_different_problems() -> None:
    samples = [RetrySample(pid, "r", "x", False, "") for pid in ("1", "1", "1", "2", "2", "3")]
    assert [s.problem_id for s in varied(samples, 2)] == ["1", "2"]
    assert len(varied(samples, 5)) == 5


def test_install_replaces_the_dict_printer(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    args = TrainingArguments(output_dir="unused", disable_tqdm=True, report_to="none", use_cpu=True)
    trainer = Trainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir), args=args)
    names = lambda: {type(c).__name__ for c in trainer.callback_handler.callbacks}
    assert "PrinterCallback" in names()
    install(trainer, [])
    assert not names() & {PrinterCallback.__name__, ProgressCallback.__name__}


def test_read_jsonl_skips_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo')
    assert read_jsonl(path) == [{"step": 1, "loss": 0.5}]
    assert read_jsonl(tmp_path / "none.jsonl") == []


def test_check_report_to_names_the_extra_before_the_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers.integrations

    from r3.errors import R3Error
    from r3.preflight import check_report_to

    monkeypatch.setattr(transformers.integrations, "get_available_reporting_integrations", lambda: ["wandb"])
    check_report_to(["wandb"])
    for empty in (None, "none", [], ["none"], "all"):
        check_report_to(empty)
    with pytest.raises(R3Error, match=r"tensorboard is not installed: pip install 'r3-reflect\[tensorboard\]'"):
        check_report_to(["tensorboard"])
    with pytest.raises(R3Error, match=r"pip install 'mlflow'"):
        check_report_to("mlflow")
    with pytest.raises(R3Error, match="unknown log backend 'tensorbord'"):
        check_report_to(["wandb", "tensorbord"])


def test_samples_are_shown_at_the_first_logging_step_then_about_five_times_a_run() -> None:
    from types import SimpleNamespace

    from r3.training.callbacks import Console

    console = Console(log_samples=2)
    args = SimpleNamespace(logging_steps=10)
    shown = []
    for step in range(10, 501, 10):
        if console.sample_step(step, args, 500):
            shown.append(step)
        console._first_step = console._first_step or step
    assert shown == [10, 100, 200, 300, 400, 500]


def test_metrics_file_on_resume_drops_the_steps_after_the_checkpoint(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from r3.training.callbacks import MetricsFile

    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 0.1}) + "\n" for s in (1, 2, 3)))
    metrics = MetricsFile(tmp_path)
    metrics.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=2), None)
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
    metrics.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=0), None)  # a fresh run
    assert read_jsonl(tmp_path / "metrics.jsonl") == []


def test_the_card_trl_writes_at_checkpoints_and_on_push_to_hub_is_r3s(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from r3.training import model_card

    (tmp_path / "train_summary.json").write_text(json.dumps({
        "steps": 1750, "seconds": 7200.0, "model_changed": True, "eval_command": "r3 eval --model ORG/r3-qwen ...",
        "retry_success_start": {"correct": 20, "n": 256, "accuracy": 0.078, "low": 0.05, "high": 0.12},
        "retry_success_end": {"correct": 90, "n": 256, "accuracy": 0.352, "low": 0.29, "high": 0.41},
        "reflection_tokens_start": 80.0, "reflection_tokens_end": 41.5}))
    trainer = SimpleNamespace(args=SimpleNamespace(output_dir=str(tmp_path)), is_world_process_zero=lambda: True)
    config = {"model": "Qwen/Qwen2.5-1.5B-Instruct", "task": "countdown", "data": "runs/mine", "split": None,
              "learning_rate": 5e-7, "max_steps": 1750, "beta": 0.001, "num_generations": 8}
    model_card.install(trainer, config)
    trainer.create_model_card(model_name="r3-qwen", dataset_name=None, tags=None)  # what TRL and push_to_hub call
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\n") and "\nlibrary_name: transformers\n" in card.split("\n---\n")[0]
    assert "base_model: Qwen/Qwen2.5-1.5B-Instruct" in card and "# r3-qwen" in card
    for part in ("arXiv 2505.24726", "task: `countdown`", "data: `runs/mine`", "learning_rate 5e-07",
                 "steps: 1750 (120.0 minutes)", "7.8% [5.0, 12.0] (20/256) at the start -> 35.2%",
                 "reflection length: 80.0 -> 41.5 tokens", "r3 eval --model ORG/r3-qwen", "@article{bensal2025reflect"):
        assert part in card, part
    assert "None" not in card.split("## Citation")[0]
