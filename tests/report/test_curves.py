"""The training-curves figure: four labelled panels from zero, the run and model in the title, overlays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from r3.errors import R3Error
from r3.report import load_run, report_runs, write_run_report
from r3.report.curves import plot_training_curves


def _records(success: float, length: float, steps: int = 10, kl: bool = True) -> list[dict]:
    records = [{"step": s, "loss": 0.0, "r3/retry_success": success + 0.01 * s, "r3/reflection_tokens": length + 0.1 * s,
                "frac_reward_zero_std": 0.5, **({"kl": 0.001 * s} if kl else {})} for s in range(1, steps + 1)]
    return records + [{"step": steps, "train_runtime": 12.0}]  # the end-of-training record is not a point


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures saved by the code under test (still open for inspection)."""
    saved: list[Figure] = []
    real = Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_every_panel_is_labelled_and_starts_at_zero(tmp_path: Path, figures: list[Figure]) -> None:
    assert plot_training_curves({"run-a": _records(0.3, 11.5)}, tmp_path / "c.png", title="run-a: countdown | m")
    (figure,) = figures
    assert figure._suptitle.get_text() == "run-a: countdown | m"
    for axis in figure.axes:
        assert axis.get_xlabel() == "training step" and axis.get_ylabel() and axis.get_title()
        low, high = axis.get_ylim()
        assert -0.05 * high < low <= 0  # from 0, with a small margin that keeps a line at 0 visible
    success, length = figure.axes[0], figure.axes[1]
    assert success.get_ylim()[1] == pytest.approx(1.03)
    assert length.get_ylim()[1] > 12.5  # 11.6-12.5 tokens drawn from 0: a one-token drift looks like one
    assert list(success.lines[0].get_xdata()) == list(range(1, 11))


def test_a_metric_never_logged_says_so_instead_of_empty_axes(tmp_path: Path, figures: list[Figure]) -> None:
    plot_training_curves({"a": _records(0.3, 10, kl=False)}, tmp_path / "c.png", title="t")
    kl_axis = figures[0].axes[3]
    assert not kl_axis.lines and "not logged" in kl_axis.texts[0].get_text()


def test_overlay_draws_one_labelled_line_per_run(tmp_path: Path, figures: list[Figure]) -> None:
    plot_training_curves({"a": _records(0.2, 10), "b": _records(0.5, 20)}, tmp_path / "c.png", title="a vs b")
    for axis in figures[0].axes[:3]:
        assert [t.get_text() for t in axis.get_legend().get_texts()] == ["a", "b"]


def _run_dir(path: Path, records: list[dict], model: str = "org/base") -> Path:
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "r3_train_config.yaml").write_text(f"task: countdown\nmodel: {model}\nmax_steps: 10\n")
    (path / "samples.jsonl").write_text("".join(json.dumps(
        {"step": s, "problem_id": str(s), "reflection": f"try {s}", "retry": "<answer>1+2</answer>",
         "correct": s > 5, "reason": ""}) + "\n" for s in (1, 10)))
    return path


def test_run_report_names_model_task_and_shows_samples_early_and_late(tmp_path: Path) -> None:
    run = _run_dir(tmp_path / "run-a", _records(0.3, 11.5))
    text = write_run_report(run).read_text()
    assert "**org/base**" in text and "**countdown**" in text
    assert "early, step 1:" in text and "late, step 10:" in text and "reflection `try 10`" in text
    assert "| retry success | 31.0% | 40.0% |" in text
    assert (run / "training_curves.png").stat().st_size > 10_000


def test_runs_without_metrics_jsonl_fall_back_to_the_checkpoint_log_history(tmp_path: Path) -> None:
    run = tmp_path / "old"
    (run / "checkpoint-10").mkdir(parents=True)
    (run / "checkpoint-10" / "trainer_state.json").write_text(json.dumps({"log_history": _records(0.3, 10)}))
    assert len(load_run(run).records) == 11


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(R3Error, match="no metrics.jsonl and no checkpoint"):
        load_run(tmp_path)
    with pytest.raises(R3Error, match="no such run directory"):
        load_run(tmp_path / "missing")
    a = _run_dir(tmp_path / "a", _records(0.1, 5))
    with pytest.raises(R3Error, match="--out"):
        report_runs([a, a])
