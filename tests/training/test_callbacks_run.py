"""Real tiny runs through `r3 train`: a run that cannot learn is called out within K steps and its summary says the
weights did not move; a run with a learning signal raises no such alarm; every run leaves its record."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from train_fakes import write_failures

from r3.cli import main
from r3.training.watch import DEFAULT_ALARM_STEPS

STEPS = DEFAULT_ALARM_STEPS  # the alarm must fire within the first K logged steps
NO_SIGNAL = {"zero_spread", "zero_grad", "saturated"}


def _write_config(path: Path, model: Path, task: str, out: str, data: str) -> Path:
    """A 5-step CPU recipe: 2 problems x 4 reflections per step, beta 0 (no KL term that could move weights)."""
    config = {"task": task, "model": str(model), "data": data, "output_dir": out, "num_generations": 4,
              "per_device_train_batch_size": 8, "reflection_max_new_tokens": 8, "attempt_max_new_tokens": 8,
              "max_steps": STEPS, "learning_rate": 1e-2, "beta": 0.0, "save_strategy": "no", "report_to": "none",
              "seed": 0, "use_cpu": True, "logging_steps": 1, "dataloader_num_workers": 0, "disable_tqdm": True}
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Two runs in one directory (relative paths, as a user types them): 'dead' and 'live'; their console logs."""
    base = tmp_path_factory.mktemp("watch")
    logs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(base)
        # AppleTask: only "apple" is right, so every group is all-right or all-wrong: zero spread, zero gradient
        for name, task in (("dead", "apple"), ("live", "parity")):
            write_failures(base / f"mine-{task}" / "failures.jsonl", task=task)  # 8 problems; word 0 is "apple"
            stream = io.StringIO()
            handler = logging.StreamHandler(stream)
            handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
            root, level = logging.getLogger(), logging.getLogger().level
            root.addHandler(handler)
            root.setLevel(logging.INFO)  # as the CLI sets it (pytest keeps its own handlers, so basicConfig is a no-op)
            try:
                assert main(["train", "--config", str(_write_config(base / f"{name}.yaml", tiny_model_dir,
                                                                    f"train_fakes:{task.title()}Task", name,
                                                                    f"mine-{task}"))]) == 0
            finally:
                root.removeHandler(handler)
                root.setLevel(level)
            logs[name] = stream.getvalue()
    return base, logs


def _summary(run: Path) -> dict:
    return json.loads((run / "train_summary.json").read_text(encoding="utf-8"))


def test_a_run_that_cannot_learn_is_called_out_within_k_steps(runs) -> None:
    base, logs = runs
    summary = _summary(base / "dead")
    alarms = {a["name"]: a["step"] for a in summary["alarms"]}
    assert alarms["zero_spread"] <= STEPS and alarms["zero_grad"] <= STEPS
    assert "WARNING step 5: no learning signal" in logs["dead"]
    assert summary["model_changed"] is False
    assert "model changed: NO" in logs["dead"]


def test_a_run_with_a_learning_signal_raises_no_such_alarm(runs) -> None:
    base, logs = runs
    summary = _summary(base / "live")
    assert not {a["name"] for a in summary["alarms"]} & NO_SIGNAL
    assert "no learning signal" not in logs["live"]
    assert summary["model_changed"] is True
    assert summary["retry_success_start"]["n"] == 8  # 2 problems x 4 reflections, one retry each
    assert "model changed: yes" in logs["live"]


def test_the_console_is_one_line_per_step_not_trls_dict(runs) -> None:
    _, logs = runs
    lines = logs["live"].splitlines()
    assert all(len(line) <= 100 for line in logs["dead"].splitlines())  # alarms and the summary too
    step_lines = [line for line in lines if line.startswith("INFO ") and "  retry " in line and "/5 " in line]
    assert len(step_lines) == STEPS
    assert not any("'grad_norm'" in line or "{'loss'" in line for line in lines)
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)  # readable at 100 columns
    assert "reflection: " in logs["live"] and "retry:      " in logs["live"]  # sample pairs, readably


def test_every_run_leaves_metrics_curves_report_and_card(runs) -> None:
    base, _ = runs
    run = base / "live"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == list(range(1, STEPS + 1))
    assert all("r3/retry_success" in r and "grad_norm" in r for r in records if "loss" in r)
    png = (run / "training_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1100, 720)
    report = (run / "report.md").read_text()
    for part in ("# r3 training run: live", "![training curves](training_curves.png)", "## Sample reflections",
                 "early, step 1", "late, step 5", "train_fakes:ParityTask", "model changed: yes"):
        assert part in report
    card = (run / "README.md").read_text()
    for part in ("2505.24726", "train_fakes:ParityTask", "steps: 5", "retry success", "r3 eval --model live"):
        assert part in card
    assert "[None]" not in card


def test_report_overlays_two_runs(runs) -> None:
    from r3.report import report_runs

    base, _ = runs
    path = report_runs([base / "dead", base / "live"], out=base / "compare")
    text = path.read_text()
    assert "| dead |" in text and "| live |" in text and "| NO |" in text and "| yes |" in text
    assert (base / "compare" / "training_curves.png").stat().st_size > 20_000
