"""r3.rundir: identity and the one rerun rule, the lock, overwrite's limits, atomic writes, torn-line repair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from r3.errors import R3Error
from r3.rundir import (
    RUN_FILE,
    RunDir,
    check_writable,
    fingerprint_model,
    fingerprint_rows,
    read_json_lines,
    write_atomic,
)

IDENTITY = {"model": "m", "seed": 0, "data_rows": {"rows": 3, "sha256": "abc"}}


def open_run(path, identity=IDENTITY, **kwargs):
    return RunDir.open(path, "test", identity, **kwargs)


def test_fresh_run_records_identity_and_manifest(tmp_path):
    with open_run(tmp_path / "run") as run:
        assert not run.resumed
        run.appender("rows.jsonl").append([{"a": 1}])
        run.write_json("sub/summary.json", {"ok": True})
    record = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    assert record["model"] == "m" and record["r3_run"]["kind"] == "test"
    assert record["r3_run"]["files"] == ["rows.jsonl", "sub/summary.json"]
    # an atomically written file's temporary name is listed too: a resume removes only names the manifest lists
    assert record["r3_run"]["temporaries"] == ["sub/.summary.json.r3-tmp"]
    assert record["r3_run"]["dirs"] == ["sub"]


def test_same_identity_resumes_and_a_different_one_is_refused_naming_each_field(tmp_path):
    with open_run(tmp_path / "run") as run:
        run.appender("rows.jsonl").append([{"a": 1}])
    with open_run(tmp_path / "run") as run:
        assert run.resumed
    changed = {**IDENTITY, "seed": 5, "data_rows": {"rows": 3, "sha256": "def"}}
    with pytest.raises(R3Error) as error:
        open_run(tmp_path / "run", changed, label=lambda key: "--" + key)
    message = str(error.value)
    assert "\n" not in message
    assert "--seed 5 (was 0)" in message and "--data_rows.sha256 'def' (was 'abc')" in message
    assert "--model" not in message
    # a free key (a speed knob) may change
    with open_run(tmp_path / "run", {**IDENTITY, "seed": 5}, free={"seed"}) as run:
        assert run.resumed


def test_a_run_that_wrote_nothing_yields_to_new_arguments(tmp_path):
    with open_run(tmp_path / "run") as run:
        run.appender("rows.jsonl")  # created, empty
    with open_run(tmp_path / "run", {**IDENTITY, "model": "fixed"}) as run:
        assert not run.resumed
    assert json.loads((tmp_path / "run" / RUN_FILE).read_text())["model"] == "fixed"


def test_second_process_is_refused_while_the_first_holds_the_run(tmp_path):
    holder = textwrap.dedent(f"""
        import sys
        from r3.rundir import RunDir
        with RunDir.open({str(tmp_path / "run")!r}, "test", {{"model": "m"}}):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    process = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "locked"  # tied to progress: the lock is held now
        with pytest.raises(R3Error, match="in use by another process") as error:
            RunDir.open(tmp_path / "run", "test", {"model": "m"})
        assert "\n" not in str(error.value)
    finally:
        process.communicate("\n", timeout=60)
    assert process.returncode == 0
    with RunDir.open(tmp_path / "run", "test", {"model": "m"}) as run:  # released when the holder exits
        assert run.resumed


def test_overwrite_deletes_only_files_the_run_wrote(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    (out / "notes").mkdir()
    (out / "notes" / "n.txt").write_text("mine")
    with open_run(out) as run:
        run.appender("rows.jsonl").append([{"a": 1}])
        run.write_json("deep/er/summary.json", {})
    (out / "deep" / "user.txt").write_text("user file in a folder the run created")
    with open_run(out, {**IDENTITY, "seed": 1}, overwrite=True) as run:
        assert not run.resumed
    assert (out / "thesis.tex").read_text() == "precious" and (out / "notes" / "n.txt").read_text() == "mine"
    assert not (out / "rows.jsonl").exists() and not (out / "deep" / "er").exists()
    assert (out / "deep" / "user.txt").exists()  # the folder is kept: it is not empty


def test_overwrite_never_follows_a_symlink_or_deletes_a_non_regular_file(tmp_path):
    out = tmp_path / "run"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    with open_run(out) as run:
        run.appender("rows.jsonl").append([{"a": 1}])
    (out / "rows.jsonl").unlink()
    (out / "rows.jsonl").symlink_to(victim)  # someone put a link where the run's file was
    with open_run(out, overwrite=True):
        pass
    assert victim.read_text() == "keep" and (out / "rows.jsonl").is_symlink()


def test_a_foreign_file_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("theirs")
    with open_run(out) as run, pytest.raises(R3Error, match="summary.json exists but was not written by this r3"):
        run.write_json("summary.json", {})
    assert (out / "summary.json").read_text() == "theirs"


def test_write_atomic_refuses_devices_and_symlinks(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    with pytest.raises(R3Error, match="not a regular file"):
        write_atomic(link, "x")
    assert not (tmp_path / "target").exists()
    if os.path.exists("/dev/null"):
        with pytest.raises(R3Error, match="/dev/null exists and is not a regular file"):
            write_atomic(__import__("pathlib").Path("/dev/null"), "x")
    write_atomic(tmp_path / "file.json", "ok\ud83d")  # a lone surrogate never makes a writer fail
    assert (tmp_path / "file.json").read_bytes() == b"ok\\ud83d"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_torn_last_line_is_cut_and_appending_continues_cleanly(tmp_path):
    with open_run(tmp_path / "run") as run:
        run.appender("rows.jsonl").append([{"a": 1}, {"a": "\ud83d"}])
    path = tmp_path / "run" / "rows.jsonl"
    with open(path, "ab") as handle:
        handle.write(b'{"a": 3, "b"')
    with open_run(tmp_path / "run") as run:
        run.appender("rows.jsonl").append([{"a": 4}])
    records, _ = read_json_lines(path)
    assert records == [{"a": 1}, {"a": "\ud83d"}, {"a": 4}]
    path.write_bytes(b'{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(R3Error, match="rows.jsonl, line 2: corrupt line in the middle"):
        read_json_lines(path)


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not readable JSON"),
    (json.dumps({"model": "m"}), "not written by this version of r3"),
    (json.dumps({"r3_run": {"kind": "other", "files": []}}), "holds an r3 'other' run, not a test run"),
    (json.dumps({"r3_run": {"kind": "test", "files": ["../../etc/passwd"]}}), "not a path inside the run"),
])
def test_a_corrupt_or_foreign_run_file_is_one_line(tmp_path, content, message):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RUN_FILE).write_text(content)
    for overwrite in (False, True):
        with pytest.raises(R3Error, match=message) as error:
            open_run(tmp_path / "run", overwrite=overwrite)
        assert "\n" not in str(error.value)


def test_check_writable_names_the_culprit(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(R3Error, match="file exists and is not a directory"):
        check_writable(tmp_path / "file")
    with pytest.raises(R3Error, match="is not a directory"):
        check_writable(tmp_path / "file" / "sub")
    check_writable(tmp_path / "new" / "deeper")  # creatable
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if os.access(readonly, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(R3Error, match="cannot be created: .*ro is not writable"):
            check_writable(readonly / "out")
        with pytest.raises(R3Error, match="cannot be created"):
            RunDir.open(readonly / "out", "test", IDENTITY)
    finally:
        readonly.chmod(0o700)


def test_check_is_read_only_and_agrees_with_open(tmp_path):
    assert RunDir.check(tmp_path / "run", "test", IDENTITY) is False
    assert not (tmp_path / "run").exists()
    with open_run(tmp_path / "run") as run:
        run.appender("rows.jsonl").append([{"a": 1}])
    assert RunDir.check(tmp_path / "run", "test", IDENTITY) is True
    with pytest.raises(R3Error, match="other settings"):
        RunDir.check(tmp_path / "run", "test", {**IDENTITY, "seed": 2})


def test_model_fingerprint_changes_when_the_directory_is_replaced(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden": 64}')
    before = fingerprint_model(str(model))
    assert fingerprint_model(str(model)) == before
    (model / "config.json").write_text('{"hidden": 65}')
    assert fingerprint_model(str(model))["config.json"]["sha256"] != before["config.json"]["sha256"]
    assert fingerprint_model("org/name") == {"hub_id": "org/name"}
    (model / "report.md").write_text("a report written beside the model later")  # not part of the model
    assert "report.md" not in fingerprint_model(str(model))
    (model / "model.safetensors").write_bytes(b"weights")
    assert "model.safetensors" in fingerprint_model(str(model))


def test_rows_fingerprint_sees_a_changed_row():
    rows = [{"q": 1}, {"q": 2}]
    assert fingerprint_rows(rows) == fingerprint_rows([dict(r) for r in rows])
    assert fingerprint_rows(rows) != fingerprint_rows([{"q": 1}, {"q": 3}])
    assert fingerprint_rows(rows)["rows"] == 2


def test_leftovers_of_a_killed_atomic_write_are_removed_on_resume(tmp_path):
    with open_run(tmp_path / "run") as run:
        run.write_json("summary.json", {"a": 1})
    stale = tmp_path / "run" / ".summary.json.r3-tmp"
    stale.write_text('{"a": ')  # killed between writing the temporary file and renaming it
    foreign = tmp_path / "run" / ".summary.json.12345.tmp"  # r3's old pattern, but no manifest lists it
    foreign.write_text("not ours")
    with open_run(tmp_path / "run") as run:
        assert run.resumed
    assert not stale.exists() and foreign.exists()


def test_an_unwritable_place_is_one_line_naming_the_path():
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux /proc, a directory nobody can create entries in")
    with pytest.raises(R3Error, match="cannot write /proc/r3-out") as error:
        RunDir.open("/proc/r3-out", "test", IDENTITY)
    assert "\n" not in str(error.value)
    with pytest.raises(R3Error, match="/dev/null is not a directory"):
        check_writable("/dev/null/out")
