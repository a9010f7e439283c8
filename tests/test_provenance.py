"""Every record names what produced it (r3.provenance), and the versions never refuse a resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import r3
from r3 import provenance as prov
from r3.rundir import RUN_FILE, RunDir


def test_provenance_names_r3_python_the_libraries_the_start_and_the_command():
    record = prov.provenance(started="2026-01-02T03:04:05+00:00", argv=["/x/.venv/bin/r3", "eval", "--out", "a b"])
    assert record["r3"] == r3.__version__
    assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"torch", "transformers", "trl", "datasets", "accelerate", "math-verify", "huggingface_hub"} <= set(
        record["packages"])
    assert record["packages"]["trl"].startswith("1.16")
    assert record["started"] == "2026-01-02T03:04:05+00:00"
    assert record["command"] == "r3 eval --out 'a b'"
    assert "vllm" not in record["packages"] or record["packages"]["vllm"]  # only what is installed
    json.dumps(record)  # JSON-ready


def test_provenance_is_cheap_it_imports_no_heavy_library():
    code = ("import sys, r3.provenance as p; p.provenance(); "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_commit_is_read_from_the_clone_and_absent_outside_one(tmp_path: Path):
    clone = tmp_path / "clone"
    (clone / ".git" / "refs" / "heads").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (clone / ".git" / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    assert prov._head_commit(clone) == "a" * 40
    (clone / ".git" / "refs" / "heads" / "main").unlink()
    (clone / ".git" / "packed-refs").write_text("# pack-refs\n" + "b" * 40 + " refs/heads/main\n")
    assert prov._head_commit(clone) == "b" * 40
    (clone / ".git" / "HEAD").write_text("c" * 40 + "\n")  # detached
    assert prov._head_commit(clone) == "c" * 40
    installed = tmp_path / "venv" / "lib" / "site-packages" / "r3"
    installed.mkdir(parents=True)
    (tmp_path / ".git").mkdir()  # a clone above the virtualenv does not make an installed wheel "from a clone"
    assert prov._clone_root(installed) is None


def test_no_git_program_is_no_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(prov.shutil, "which", lambda name: None)
    assert prov._dirty(tmp_path) is None


def test_describe_is_one_line():
    line = prov.describe({"r3": "0.1.0", "python": "3.11.7", "packages": {"torch": "2.13.0"},
                          "git": {"commit": "f" * 40, "dirty": True}})
    assert line == "r3 0.1.0 (git fffffff, uncommitted changes), Python 3.11.7, torch 2.13.0"


def test_run_json_lists_each_session_and_a_version_change_still_resumes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    with RunDir.open(tmp_path / "run", "eval", {"model": "m"}) as run:
        run.write_atomic("episodes.jsonl", "{}\n")
    first = json.loads((tmp_path / "run" / RUN_FILE).read_text())
    (session,) = first["r3_run"]["sessions"]
    assert session["r3"] == r3.__version__ and "torch" in session["packages"] and session["started"]
    monkeypatch.setattr(prov, "package_versions", lambda: (("torch", "9.9.9"),))  # an upgrade between sessions
    with RunDir.open(tmp_path / "run", "eval", {"model": "m"}) as run:
        assert run.resumed
    sessions = json.loads((tmp_path / "run" / RUN_FILE).read_text())["r3_run"]["sessions"]
    assert [s["packages"].get("torch") for s in sessions] == [session["packages"]["torch"], "9.9.9"]


def test_the_eval_summary_names_the_session_that_wrote_it(tmp_path: Path):
    from r3.evaluation.config import EvalConfig
    from r3.evaluation.run import evaluate
    from r3.types import Completion

    class Constant:
        def generate(self, prompts, params):
            return [[Completion("<answer>1 + 1</answer>", num_tokens=5)] for _ in prompts]

    settings = EvalConfig(model="constant", task="countdown", data="sample:countdown", limit=2, out=str(tmp_path),
                          progress=False)
    evaluate(settings, generator=Constant())
    summary = json.loads((tmp_path / "summary.json").read_text())
    sessions = json.loads((tmp_path / RUN_FILE).read_text())["r3_run"]["sessions"]
    assert summary["provenance"] == sessions[-1] and summary["provenance"]["packages"]["transformers"]
