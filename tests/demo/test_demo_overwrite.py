"""`r3 demo --overwrite` deletes only what the demo wrote: a user's files inside its stage folders stay."""

from __future__ import annotations

import json
from pathlib import Path

from r3.demo.config import DemoConfig
from r3.demo.pipeline import SETTINGS_FILE, Paths, check_out
from r3.rundir import RunDir


def earlier_demo(out: Path, settings: DemoConfig) -> dict[str, str]:
    """A finished demo's files (stage runs, training output, data, report) plus a user's file in each folder."""
    out.mkdir()
    (out / SETTINGS_FILE).write_text(json.dumps(settings.identity()))
    (out / "report.md").write_text("# demo report")
    (out / "data").mkdir()
    (out / "data" / "test.jsonl").write_text("{}\n")
    for stage in ("eval_before", "eval_after"):
        with RunDir.open(out / stage, "eval", {"model": "m"}) as run:
            run.write_json("summary.json", {})
            run.appender("episodes.jsonl").append([{"i": 0}])
    with RunDir.open(out / "mine", "mine", {"model": "m"}) as run:
        run.appender("failures.jsonl").append([{"i": 0}])
    train = out / "train"
    with RunDir.open(train, "train", {}) as run:
        run.write_atomic("r3_train_config.yaml", "a: 1\n")
    for name in ("model.safetensors", "config.json", "tokenizer.json", "metrics.jsonl", "checkpoint-2/optimizer.pt",
                 "checkpoint-2/model.safetensors", "checkpoint-2/trainer_state.json"):
        (train / name).parent.mkdir(exist_ok=True)
        (train / name).write_text("x")
    users = {"train/notes.md": "my notes", "train/checkpoint-2/analysis.ipynb": "{}", "data/mine.csv": "a,b",
             "eval_before/thoughts.txt": "hmm", "mine/keep.txt": "keep", "thesis.tex": "precious"}
    for name, text in users.items():
        (out / name).write_text(text)
    return users


def test_overwrite_keeps_the_users_files_inside_the_stage_folders(tmp_path):
    out = tmp_path / "demo"
    settings = DemoConfig(out=str(out), test_puzzles=10, mine_puzzles=5, steps=1)
    users = earlier_demo(out, settings)
    check_out(settings, Paths(out), overwrite=True)
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted([*users, SETTINGS_FILE])  # demo.json: written again for the new run
    assert {name: (out / name).read_text() for name in users} == users
    assert not (out / "eval_after").exists()  # a stage folder holding nothing else is gone


def test_the_demo_never_writes_through_a_symlinked_folder(tmp_path):
    import pytest

    from r3.demo.pipeline import write_data
    from r3.errors import R3Error

    out, user = tmp_path / "demo", tmp_path / "user"
    out.mkdir()
    user.mkdir()
    (out / "data").symlink_to(user)
    settings = DemoConfig(out=str(out), test_puzzles=3, mine_puzzles=2, steps=1)
    with pytest.raises(R3Error, match="data is a symbolic link"):
        write_data(settings, Paths(out))
    assert list(user.iterdir()) == []
