"""MiningStore on r3.rundir: a replaced model or changed data is refused; two processes; overwrite's limits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from r3.errors import R3Error
from r3.mining.store import FinishedQuery, MiningStore


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 64}')
    return folder


def identity(model, **changes):
    return {"model": str(model), "task": "countdown", "keep": 1, "data_sha256": "aaa", "batch_size": 4, **changes}


def commit_one(store, index=0):
    row = {"q": index, "mining": {"index": index}}
    store.commit([FinishedQuery(index, f"p{index}", {"samples": 1}, row)])


def test_a_replaced_model_directory_or_changed_data_is_refused(tmp_path, model):
    with MiningStore.open(tmp_path / "run", identity(model)) as store:
        commit_one(store)
    with MiningStore.open(tmp_path / "run", identity(model, batch_size=8)) as store:  # a speed knob: resumes
        assert store.done == {0}
    (model / "config.json").write_text('{"hidden_size": 128}')
    with pytest.raises(R3Error, match=r"--model-files.config.json.(sha256|size|mtime_ns)") as error:
        MiningStore.open(tmp_path / "run", identity(model))
    assert "\n" not in str(error.value)
    with pytest.raises(R3Error, match="data contents 'bbb' \\(was 'aaa'\\)"):
        MiningStore.open(tmp_path / "run", {**identity(model), "data_sha256": "bbb",
                                            "model_files": json.loads((tmp_path / "run" / "run.json").read_text())[
                                                "model_files"]})


def test_a_second_process_is_refused(tmp_path, model):
    holder = textwrap.dedent(f"""
        import sys
        from r3.mining.store import MiningStore
        with MiningStore.open({str(tmp_path / "run")!r}, {identity(model)!r}):
            print("open", flush=True)
            sys.stdin.readline()
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "open"  # the holder has the lock now
        with pytest.raises(R3Error, match="in use by another process"):
            MiningStore.open(tmp_path / "run", identity(model))
    finally:
        process.communicate("\n", timeout=60)
    assert process.returncode == 0


def test_overwrite_removes_only_the_mining_files(tmp_path, model):
    out = tmp_path / "run"
    with MiningStore.open(out, identity(model)) as store:
        commit_one(store)
        store.write_stats("{}\n")
    (out / "README.md").write_text("my notes")
    with MiningStore.open(out, identity(model, keep=2), overwrite=True) as store:
        assert store.done == set()
    assert (out / "README.md").read_text() == "my notes"
    assert (out / "failures.jsonl").read_bytes() == b"" and not (out / "stats.json").exists()
    assert json.loads((out / "run.json").read_text())["keep"] == 2


def test_a_surrogate_in_a_kept_row_never_breaks_the_writer(tmp_path, model):
    with MiningStore.open(tmp_path / "run", identity(model)) as store:
        store.commit([FinishedQuery(0, "p0", {"samples": 1}, {"q": "\ud83d", "mining": {"index": 0}})])
    with MiningStore.open(tmp_path / "run", identity(model)) as store:
        assert store.done == {0}
    assert json.loads((tmp_path / "run" / "failures.jsonl").read_bytes())["q"] == "\ud83d"
