"""Bad input of every kind: exit status 2, one line on stderr naming the culprit, no traceback, nothing written.

Runs the real entry point (`r3.cli.main`) in-process; the model and data are never reached, because every check
here comes before anything slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r3.cli import main

EVAL = ["eval", "--model", "MODEL", "--task", "countdown", "--data", "sample:countdown"]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder that passes the early model check (config.json), never loaded by these tests."""
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def _task_module(tmp_path: Path, monkeypatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("extra, needles", [
    (["--temperature", "-1"], ["temperature", "-1"]),
    (["--top-p", "0"], ["top_p"]),
    (["--top_p", "2"], ["top_p"]),
    (["--limit", "0"], ["limit"]),
    (["--limit", "-2"], ["limit"]),
    (["--attempts", "0"], ["attempts"]),
    (["--seed", "-1"], ["seed"]),
    (["--batch-size", "0"], ["batch_size"]),
    (["--temprature", "1"], ["--temprature", "--temperature"]),
    (["--backend", "tf"], ["backend", "tf"]),
    (["--task-option", "match=bfcl"], ["match"]),
    (["--task", "nosuchtask"], ["nosuchtask"]),
    (["--task", ":Cls"], [":Cls"]),
    (["--task", ".rel:Cls"], [".rel:Cls"]),
])
def test_eval_settings(tmp_path, model_dir, capsys, extra, needles):
    argv = [a.replace("MODEL", str(model_dir)) for a in EVAL] + ["--out", str(tmp_path / "out"), *extra]
    assert_one_line(*run(argv, capsys), *needles)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("body, needle", [
    ("raise RuntimeError('boom at import')\n", "boom at import"),
    ("def broken(:\n", "SyntaxError"),
    ("from abc import abstractmethod\nfrom r3.tasks import Task\nclass T(Task):\n    name = 't'\n    fields = ()\n", "T"),
    ("from r3.tasks import Task\nclass T(Task):\n    name = 't'\n    fields = ()\n"
     "    def __init__(self, *a, **k):\n        raise ValueError('ctor says no')\n"
     "    def normalize(self, row): return row\n    def prompt(self, e): return []\n"
     "    def check(self, e, c): return None\n", "ctor says no"),
])
def test_user_task_that_cannot_load(tmp_path, model_dir, capsys, monkeypatch, body, needle):
    name = f"bad_task_{abs(hash(body))}"
    _task_module(tmp_path, monkeypatch, name, body)
    argv = [a.replace("MODEL", str(model_dir)) for a in EVAL] + ["--out", str(tmp_path / "out")]
    argv[argv.index("countdown")] = f"{name}:T"
    assert_one_line(*run(argv, capsys), needle)


@pytest.mark.parametrize("make_out, needle", [
    (lambda p: p.write_text("a file"), "not a directory"),
    (lambda p: None, None),
])
def test_eval_out_must_be_a_directory(tmp_path, model_dir, capsys, make_out, needle):
    out = tmp_path / "out"
    make_out(out)
    if needle is None:  # a missing parent folder is created; a file in the way is not
        out = tmp_path / "file" / "out"
        (tmp_path / "file").write_text("x")
        needle = "not a directory"
    argv = [a.replace("MODEL", str(model_dir)) for a in EVAL] + ["--out", str(out)]
    assert_one_line(*run(argv, capsys), needle)


def test_missing_required_settings_name_them(capsys):
    assert_one_line(*run(["eval", "--task", "countdown"], capsys), "--model", "--out")
    assert_one_line(*run(["mine", "--model", "m"], capsys), "--task", "--out")


def test_unknown_command_suggests(capsys):
    code, err = run(["evl"], capsys)
    assert code == 2 and "did you mean eval" in err and "Traceback" not in err


@pytest.mark.parametrize("extra, needles", [
    (["--report_to", "wandb"], ["wandb", "pip install"]),
    (["--use_vllm", "true"], ["vllm", "pip install 'r3-reflect[vllm]'"]),
    (["--per_device_train_batch_size", "0"], ["per_device_train_batch_size"]),
    (["--learning_rate", "inf"], ["learning_rate"]),
    (["--max_completion_length", "8"], ["reflection_max_new_tokens"]),
])
def test_train_settings_before_the_model_loads(tmp_path, capsys, extra, needles):
    if "wandb" in extra and __import__("importlib").util.find_spec("wandb"):
        pytest.skip("wandb is installed here")
    if "--use_vllm" in extra and __import__("importlib").util.find_spec("vllm"):
        pytest.skip("vllm is installed here")
    argv = ["train", "--config", "configs/tiny_cpu.yaml", "--model", str(tmp_path / "never-loaded"),
            "--output_dir", str(tmp_path / "train"), *extra]
    assert_one_line(*run(argv, capsys), *needles)
    assert not (tmp_path / "train").exists()


def test_config_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: 5\n")
    assert_one_line(*run(["eval", "--config", str(bad)], capsys), "bad.yaml", "base")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 8)}]\n" for i in range(1, 9)))
    assert_one_line(*run(["eval", "--config", str(bomb)], capsys), "bomb.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert_one_line(*run(["eval", "--config", str(binary)], capsys), "binary.yaml")


def test_verify_refuses_to_overwrite_its_input(tmp_path, capsys):
    data = tmp_path / "c.jsonl"
    data.write_text(json.dumps({"nums": [1, 2], "target": 3, "completion": "<answer>1+2</answer>"}) + "\n")
    assert_one_line(*run(["verify", "--task", "countdown", str(data), "--out", str(data)], capsys), "input")
    assert json.loads(data.read_text())["target"] == 3


def test_verify_non_utf8_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "c.jsonl"
    data.write_bytes(b'{"nums": [1, 2], "target": 3, "completion": "\xff"}\n')
    assert_one_line(*run(["verify", "--task", "countdown", str(data)], capsys), "c.jsonl")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_data_never_replaces_a_device_file(capsys):
    assert_one_line(*run(["data", "countdown", "--n", "3", "--out", "/dev/full", "--overwrite"], capsys),
                    "not a regular file")
    assert Path("/dev/full").is_char_device()


def test_demo_overwrite_never_deletes_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("precious")
    assert_one_line(*run(["demo", "--out", str(tmp_path), "--overwrite"], capsys), "no demo run")
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_an_unexpected_error_is_one_line_without_traceback_and_exit_1(tmp_path):
    """A bug still ends in one line (the traceback only with -v)."""
    code = ("import sys, r3.cli as c\n"
            "def boom(argv): raise ZeroDivisionError('bug')\n"
            "import r3.cli.tasks as t; t.main = boom\n"
            "sys.exit(c.main(['tasks']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "internal error: ZeroDivisionError: bug" in done.stderr and len(done.stderr.strip().splitlines()) == 1
