"""The demo pipeline's plumbing on a shortened run: few puzzles, two training steps (the real demo is `make demo`)."""

import json
from pathlib import Path

import pytest

from r3.cli import main
from r3.demo.config import DemoConfig
from r3.demo.model import MODEL_DIR
from r3.demo.pipeline import Paths, run_demo, stages
from r3.errors import R3Error

pytestmark = pytest.mark.skipif(not (MODEL_DIR / "model.safetensors").exists(),
                                reason="demo model not built (scripts/build_demo_model.py)")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    settings = DemoConfig(out=str(out), test_puzzles=12, mine_puzzles=6, max_samples=4, steps=2, batch_size=32,
                          progress=False, control=True)
    report = run_demo(settings)
    return settings, report


def test_every_stage_writes_its_output(demo_run):
    settings, _report = demo_run
    paths = Paths(Path(settings.out))
    for stage in stages(settings, paths):
        assert stage.done_marker.exists(), stage.name
    test_rows = [json.loads(line) for line in paths.test_data.read_text().splitlines()]
    train_rows = [json.loads(line) for line in paths.train_data.read_text().splitlines()]
    assert len(test_rows) == 12 and len(train_rows) == 6
    assert not {(tuple(sorted(r["nums"])), r["target"]) for r in test_rows} & {
        (tuple(sorted(r["nums"])), r["target"]) for r in train_rows}
    summary = json.loads((paths.eval_after / "summary.json").read_text())["summary"]
    assert summary["n_problems"] == 12
    assert (paths.train / "checkpoint-2" / "trainer_state.json").exists()


def test_report_holds_table_curves_reflections_and_commands(demo_run):
    settings, report = demo_run
    text = report.read_text()
    assert "| before training |" in text and "| after reflection training |" in text
    assert "Within two attempts:" in text
    assert (Path(settings.out) / "training_curves.png").stat().st_size > 0
    commands = [line for line in text.splitlines() if line.startswith(("r3 ", "python -m r3"))]
    assert [c.split()[1] for c in commands] == ["eval", "mine", "train", "eval", "-m", "eval"]
    assert "| control (reflection left out) |" in text
    assert all("--model" in c and "--no_progress" not in c for c in commands)


def test_rerun_skips_finished_stages_and_refuses_other_settings(demo_run):
    settings, _ = demo_run
    before = (Path(settings.out) / "eval_after" / "summary.json").stat().st_mtime_ns
    run_demo(settings)
    assert (Path(settings.out) / "eval_after" / "summary.json").stat().st_mtime_ns == before
    with pytest.raises(R3Error, match="other settings"):
        run_demo(DemoConfig(out=settings.out, test_puzzles=13, mine_puzzles=6, max_samples=4, steps=2,
                            batch_size=32, progress=False, control=True))


def test_cli_reports_a_missing_model_in_one_line(tmp_path, capsys):
    assert main(["demo", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "no demo model" in capsys.readouterr().err


def test_attempt_tokens_reach_the_eval_and_mine_commands(tmp_path):
    settings = DemoConfig(out=str(tmp_path / "run"), attempt_max_new_tokens=48)
    for stage in stages(settings, Paths(Path(settings.out))):
        if stage.name in ("eval_before", "mine", "eval_after"):
            argv = stage.command.split()
            assert argv[argv.index("--attempt_max_new_tokens") + 1] == "48", stage.name


def test_overwrite_removes_only_what_a_demo_wrote(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    with pytest.raises(R3Error, match="no demo run"):
        run_demo(DemoConfig(out=str(thesis), overwrite=True, test_puzzles=2, mine_puzzles=2, steps=1))
    assert (thesis / "chapter1.tex").read_text() == "precious"


def test_page_beside_the_report_shows_every_stage_and_the_reflections_trl_logged(demo_run):
    from r3.viewer import page_data

    settings, report = demo_run
    assert (report.parent / "view.html").stat().st_size > 0
    sections = page_data([settings.out])["sections"]
    assert [(s["kind"], s["name"]) for s in sections] == [
        ("compare", "eval_before vs eval_after"), ("compare", "eval_before vs eval_control"), ("eval", "eval_before"),
        ("eval", "eval_after"), ("eval", "eval_control"), ("train", "train"), ("train", "control"), ("mine", "mine")]
    train = sections[5]
    assert train["log_completions"] and train["groups"]  # the recipe's log_completions: TRL's own table
    group = train["groups"][0]
    assert group["source"] == "completions" and group["problem"].startswith("Make ") and group["attempt"]
    assert len(group["reflections"]) == 8 and all(isinstance(r["reward"], float) for r in group["reflections"])
