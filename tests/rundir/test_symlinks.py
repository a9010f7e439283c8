"""r3.rundir against symlinks and foreign files: nothing outside the run is created, changed or deleted.

Each test builds a user's folder beside the run, snapshots everything under tmp_path that is not the run's own
business, does what a hostile or careless user would, and checks the snapshot again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from r3.errors import R3Error
from r3.rundir import RUN_FILE, RunDir, remove_run

IDENTITY = {"model": "m", "seed": 0}


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root`: a link's target, a file's bytes, or 'dir' (links are not followed)."""
    entries: dict[str, object] = {}
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[key] = "dir"
            else:
                entries[key] = path.read_bytes()
    return entries


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """The user's own folder beside the run, with a file in it."""
    folder = tmp_path / "user-folder"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    (folder / "items.jsonl").write_text('{"mine": true}\n')
    return folder


def test_a_subfolder_linked_outside_is_never_written_through(tmp_path, user):
    out = tmp_path / "run"
    out.mkdir()
    (out / "sub").symlink_to(user)
    before = snapshot(user)
    with RunDir.open(out, "test", IDENTITY) as run:
        for write in (lambda: run.write_json("sub/summary.json", {}), lambda: run.appender("sub/rows.jsonl"),
                      lambda: run.claim("sub/deeper/x.json")):
            with pytest.raises(R3Error, match="sub is a symbolic link; r3 never writes through one") as error:
                write()
            assert "\n" not in str(error.value)
    assert snapshot(user) == before


def test_a_symlinked_lock_creates_nothing_outside(tmp_path, user):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".r3.lock").symlink_to(user / "dangling.lock")
    with pytest.raises(R3Error, match="r3.lock is a symbolic link"):
        RunDir.open(out, "test", IDENTITY)
    assert not (user / "dangling.lock").exists()
    assert sorted(p.name for p in out.iterdir()) == [".r3.lock"]  # no run.json: a refusal writes nothing


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_lock_is_refused_without_hanging(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / ".r3.lock")
    with pytest.raises(R3Error, match="not a regular file"):
        RunDir.open(out, "test", IDENTITY)


def test_a_symlinked_run_file_or_its_temporary_is_refused(tmp_path, user):
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_FILE).symlink_to(user / "thesis.tex")
    with pytest.raises(R3Error, match="run.json is not a regular file"):
        RunDir.open(out, "test", IDENTITY)
    (out / RUN_FILE).unlink()
    (out / ".run.json.r3-tmp").symlink_to(user / "new.json")
    before = snapshot(user)
    with pytest.raises(R3Error, match="r3-tmp"):
        RunDir.open(out, "test", IDENTITY)
    assert snapshot(user) == before


def test_files_named_like_temporaries_but_not_in_the_manifest_survive_a_resume(tmp_path):
    out = tmp_path / "run"
    with RunDir.open(out, "test", IDENTITY) as run:
        run.write_json("summary.json", {"a": 1})
        run.appender("rows.jsonl").append([{"a": 1}])
    mine = {name: f"user's {name}" for name in (".rows.jsonl.r3-tmp", ".summary.json.4242.tmp", ".notes.r3-tmp")}
    for name, text in mine.items():
        (out / name).write_text(text)
    (out / ".summary.json.r3-tmp").write_text('{"a": ')  # the run's own, left by a kill mid-write
    with RunDir.open(out, "test", IDENTITY) as run:
        assert run.resumed
        run.write_json("summary.json", {"a": 2})
    assert not (out / ".summary.json.r3-tmp").exists()
    assert {name: (out / name).read_text() for name in mine} == mine


def test_a_foreign_file_at_a_temporary_name_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".summary.json.r3-tmp").write_text("theirs")
    with RunDir.open(out, "test", IDENTITY) as run, pytest.raises(R3Error, match="not written by this r3 run"):
        run.write_json("summary.json", {})
    assert (out / ".summary.json.r3-tmp").read_text() == "theirs" and not (out / "summary.json").exists()


def test_overwrite_never_deletes_behind_a_symlinked_parent(tmp_path, user):
    """The forgetting case: the manifest lists base/items.jsonl, and `base` became a link to the user's folder."""
    out = tmp_path / "run"
    with RunDir.open(out, "test", IDENTITY) as run:
        run.write_atomic("base/items.jsonl", "{}\n")
        run.write_atomic("base/deep/results.json", "{}")
    for path in sorted(out.joinpath("base").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (out / "base").rmdir()
    (out / "base").symlink_to(Path("..") / user.name)
    (user / "deep").mkdir()
    (user / "deep" / "results.json").write_text("user's results")
    before = snapshot(user)
    with RunDir.open(out, "test", {**IDENTITY, "seed": 1}, overwrite=True) as run:
        assert not run.resumed
    assert snapshot(user) == before
    assert (out / "base").is_symlink()


def test_overwrite_leaves_a_recorded_folder_that_became_a_link(tmp_path, user):
    out = tmp_path / "run"
    with RunDir.open(out, "test", IDENTITY) as run:
        run.write_atomic("sub/a.json", "{}")
    (out / "sub" / "a.json").unlink()
    (out / "sub").rmdir()
    empty = tmp_path / "empty-user-folder"
    empty.mkdir()
    (out / "sub").symlink_to(empty)
    with RunDir.open(out, "test", IDENTITY, overwrite=True):
        pass
    assert empty.is_dir() and (out / "sub").is_symlink()


def test_a_run_file_replaced_by_a_link_is_not_appended_or_truncated_through(tmp_path, user):
    out = tmp_path / "run"
    with RunDir.open(out, "test", IDENTITY) as run:
        run.appender("rows.jsonl").append([{"a": 1}])
    (out / "rows.jsonl").unlink()
    (out / "rows.jsonl").symlink_to(user / "items.jsonl")
    before = snapshot(user)
    with RunDir.open(out, "test", IDENTITY) as run, pytest.raises(R3Error, match="symbolic link"):
        run.appender("rows.jsonl")
    assert snapshot(user) == before


def test_a_refusal_leaves_no_lock_in_a_users_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_FILE).write_text("{not json")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(R3Error, match="not readable JSON"):
        RunDir.open(out, "test", IDENTITY)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", RUN_FILE]


def test_remove_run_deletes_only_the_manifest(tmp_path):
    out = tmp_path / "stage"
    with RunDir.open(out, "eval", IDENTITY) as run:
        run.write_json("summary.json", {})
        run.appender("sub/episodes.jsonl").append([{"a": 1}])
    (out / "sub" / "user.txt").write_text("mine")
    assert remove_run(out) is True
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["sub", "sub/user.txt"]
    assert remove_run(out) is False  # no run left there
    (out / "sub" / "user.txt").unlink()
    with RunDir.open(out, "eval", IDENTITY) as run:
        run.write_json("summary.json", {})
    assert remove_run(out) is True and out.exists()  # `sub` was there before this run: kept, and so is `out`


def test_attach_joins_the_run_there_and_still_refuses_foreign_files(tmp_path):
    out = tmp_path / "train"
    with RunDir.open(out, "train", {"model": "m"}) as run:
        run.write_atomic("r3_train_config.yaml", "a: 1\n")
    (out / "notes.md").write_text("mine")
    with RunDir.attach(out, "report") as run:
        assert run.kind == "train"
        run.write_atomic("report.md", "# report\n")
        with pytest.raises(R3Error, match="notes.md exists but was not written by this r3 run"):
            run.write_atomic("notes.md", "x")
    record = json.loads((out / RUN_FILE).read_text())
    assert record["model"] == "m" and record["r3_run"]["kind"] == "train"
    assert record["r3_run"]["files"] == ["r3_train_config.yaml", "report.md"]
    with RunDir.open(out, "train", {"model": "m"}) as run:  # the training run still resumes
        assert run.resumed
    assert (out / "notes.md").read_text() == "mine"


def test_a_fresh_run_that_fails_before_any_result_leaves_nothing(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), RunDir.open(out, "test", IDENTITY) as run:
        run.appender("rows.jsonl")  # created, still empty
        raise RuntimeError("the model failed to load")
    assert not out.exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError), RunDir.open(mine, "test", IDENTITY) as run:
        run.write_json("sub/summary.json", {})
        run.appender("rows.jsonl")
        raise RuntimeError("boom")  # a result was written (summary.json): kept, resumable
    assert (mine / "sub" / "summary.json").exists()
    (mine / "sub" / "summary.json").unlink()
    with pytest.raises(RuntimeError), RunDir.open(mine, "test", IDENTITY) as run:
        assert run.resumed
        raise RuntimeError("an earlier run's files are never discarded")
    assert (mine / RUN_FILE).exists()
