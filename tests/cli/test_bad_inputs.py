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
def test_train_settings_before_the_model_loads(tmp_path, tiny_model_dir, capsys, extra, needles):
    if "wandb" in extra and __import__("importlib").util.find_spec("wandb"):
        pytest.skip("wandb is installed here")
    if "--use_vllm" in extra and __import__("importlib").util.find_spec("vllm"):
        pytest.skip("vllm is installed here")
    argv = ["train", "--config", "configs/tiny_cpu.yaml", "--model", str(tiny_model_dir),
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


# ---------------------------------------------------------------------------------------------- broken model files
def _copy_model(source: Path, target: Path) -> Path:
    """A copy of the tiny model's files (not its run directory's own), to break one of them."""
    target.mkdir()
    for path in source.iterdir():
        if path.is_file() and path.name not in ("run.json", ".r3.lock"):
            (target / path.name).write_bytes(path.read_bytes())
    return target


def _edit_json(path: Path, **changes) -> None:
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def _truncate(path: Path, size: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:size] if size >= 0 else data[:len(data) + size])


def _template_in_config(model: Path, template: str) -> None:
    (model / "chat_template.jinja").unlink()
    _edit_json(model / "tokenizer_config.json", chat_template=template)


def _drop_layer(model: Path) -> None:
    _edit_json(model / "config.json", num_hidden_layers=3)


BROKEN_MODELS = {
    "weights cut in half": (lambda m: _truncate(m / "model.safetensors", -500_000), "model.safetensors", "truncated"),
    "weights cut inside the header": (lambda m: _truncate(m / "model.safetensors", 50), "model.safetensors",
                                      "header says"),
    "weights of 3 bytes": (lambda m: _truncate(m / "model.safetensors", 3), "model.safetensors", "too short"),
    "weights header not JSON": (lambda m: (m / "model.safetensors").write_bytes(
        (12).to_bytes(8, "little") + b"{not json!!}" + b"\0" * 64), "model.safetensors", "not valid JSON"),
    "weights header a list": (lambda m: (m / "model.safetensors").write_bytes((2).to_bytes(8, "little") + b"[]"),
                              "model.safetensors", "not a JSON object"),
    "config hidden_size a word": (lambda m: _edit_json(m / "config.json", hidden_size="sixty-four"), "config.json",
                                  "hidden_size"),
    "config vocab_size a list": (lambda m: _edit_json(m / "config.json", vocab_size=[921]), "config.json",
                                 "vocab_size"),
    "config layers a boolean": (lambda m: _edit_json(m / "config.json", num_hidden_layers=True), "config.json",
                                "num_hidden_layers"),
    "config model_type a number": (lambda m: _edit_json(m / "config.json", model_type=7), "config.json",
                                   "model_type"),
    "config rope_theta a word": (lambda m: _edit_json(m / "config.json", tie_word_embeddings="maybe"), "config.json",
                                 "transformers cannot read it"),
    "config not JSON": (lambda m: (m / "config.json").write_text('{"model_type": "qwen2", '), "config.json",
                        "not valid JSON"),
    "config a JSON list": (lambda m: (m / "config.json").write_text("[1, 2]"), "config.json", "JSON object"),
    "template raises": (lambda m: (m / "chat_template.jinja").write_text("{{ raise_exception('no chat') }}"),
                        "chat_template.jinja", "no chat"),
    "template does not parse": (lambda m: (m / "chat_template.jinja").write_text("{% for m in messages %}{{ m"),
                                "chat_template.jinja", "TemplateSyntaxError"),
    "template in tokenizer_config raises": (lambda m: _template_in_config(m, "{{ messages[5].content }}"),
                                            "tokenizer_config.json", "chat template fails"),
    "weights of a wider model": (lambda m: _edit_json(m / "config.json", hidden_size=128), "model.safetensors",
                                 "hidden_size 128"),
    "weights of another mlp": (lambda m: _edit_json(m / "config.json", intermediate_size=256), "model.safetensors",
                               "intermediate_size 256"),
    "fewer layers than the config": (_drop_layer, "num_hidden_layers 3", "2 decoder layers"),
    "no tokenizer files": (lambda m: [(m / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")],
                           "no tokenizer files", str(Path("model"))),
    "index names a missing shard": (lambda m: (m / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}})), "index.json",
        "model-00002-of-00002"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MODELS))
def test_a_broken_model_folder_is_one_line_naming_the_file_and_writes_nothing(tmp_path, tiny_model_dir, capsys,
                                                                               case):
    break_it, *needles = BROKEN_MODELS[case]
    model = _copy_model(tiny_model_dir, tmp_path / "model")
    break_it(model)
    argv = [a.replace("MODEL", str(model)) for a in EVAL] + ["--out", str(tmp_path / "out"), "--limit", "1"]
    assert_one_line(*run(argv, capsys), *needles)
    assert not (tmp_path / "out").exists()


def test_a_prompt_longer_than_the_context_is_refused_before_the_run_directory(tmp_path, tiny_model_dir, capsys):
    model = _copy_model(tiny_model_dir, tmp_path / "model")
    _edit_json(model / "config.json", max_position_embeddings=16)
    argv = [a.replace("MODEL", str(model)) for a in EVAL] + ["--out", str(tmp_path / "out"), "--limit", "1"]
    code, err = run(argv, capsys)
    err = "\n".join(line for line in err.splitlines() if "Loading weights" not in line)  # transformers' bar
    assert_one_line(code, err, "example 0", "context of 16 tokens")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- files of any kind
@pytest.mark.parametrize("make, needle", [
    (lambda p: Path("/dev/zero"), "not a regular file"),
    (lambda p: (os.mkfifo(p / "fifo.yaml"), p / "fifo.yaml")[1], "not a regular file"),
    (lambda p: (p / "folder.yaml").mkdir() or p / "folder.yaml", "is a directory"),
    (lambda p: (p / "big.yaml").write_text("a: 1\n" * 300_000) and p / "big.yaml", "MiB"),
    (lambda p: (p / "link.yaml").symlink_to(p / "missing.yaml") or p / "link.yaml", "no such file"),
])
def test_config_files_that_are_not_files_fail_fast(tmp_path, capsys, make, needle):
    if not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"):
        pytest.skip("needs /dev/zero and FIFOs")
    config = make(tmp_path)
    assert_one_line(*run(["eval", "--config", str(config)], capsys), needle)


@pytest.mark.parametrize("suffix, text", [(".jsonl", '{"nums": [1, 2], "target": 3' + " " * 5000),
                                          (".csv", "nums,target\n" + "1" * 5000)])
def test_a_data_line_past_the_cap_is_one_line_not_read_whole(tmp_path, model_dir, capsys, monkeypatch, suffix, text):
    import r3.data

    monkeypatch.setattr(r3.data, "MAX_LINE_BYTES", 1024)  # the real cap is 16 MiB: the same code path
    data = tmp_path / f"no-newline{suffix}"
    data.write_text(text)
    argv = ["verify", "--task", "countdown", str(data)]
    assert_one_line(*run(argv, capsys), data.name, "longer than")
    assert not (tmp_path / "no-newline.verdicts.jsonl").exists()


def test_data_refuses_a_count_that_cannot_fit_on_the_disk(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert_one_line(*run(["data", "countdown", "--n", "1000000000000", "--out", str(out)], capsys), "--n", "GB")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_verify_refuses_a_fifo_as_input(tmp_path, capsys):
    os.mkfifo(tmp_path / "c.jsonl")
    assert_one_line(*run(["verify", "--task", "countdown", str(tmp_path / "c.jsonl")], capsys), "not a regular file")


# ---------------------------------------------------------------------------------------------- files that are not r3's
def _completions(tmp_path: Path, bad: bool = False) -> Path:
    data = tmp_path / "c.jsonl"
    rows = [{"nums": [1, 2], "target": 3, "completion": "<answer>1+2</answer>"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows) + ('{"nums": [1], "target"\n{}\n' if bad else ""))
    return data


def test_verify_never_replaces_a_foreign_verdicts_file(tmp_path, capsys):
    data = _completions(tmp_path)
    (tmp_path / "c.verdicts.jsonl").write_text("my own notes\n")
    assert_one_line(*run(["verify", "--task", "countdown", str(data)], capsys), "does not hold r3 verdicts",
                    "--overwrite")
    assert (tmp_path / "c.verdicts.jsonl").read_text() == "my own notes\n"
    assert main(["verify", "--task", "countdown", str(data), "--overwrite"]) == 0  # asked for: replaced
    assert json.loads((tmp_path / "c.verdicts.jsonl").read_text())["correct"] is True


def test_verify_never_writes_over_its_input_through_a_hard_link(tmp_path, capsys):
    data = _completions(tmp_path)
    os.link(data, tmp_path / "alias.jsonl")
    before = data.read_bytes()
    assert_one_line(*run(["verify", "--task", "countdown", str(data), "--out", str(tmp_path / "alias.jsonl"),
                          "--overwrite"], capsys), "is the input file")
    assert data.read_bytes() == before


def test_verify_never_writes_through_a_symlinked_out(tmp_path, capsys):
    data = _completions(tmp_path)
    (tmp_path / "elsewhere.txt").write_text("keep")
    (tmp_path / "v.jsonl").symlink_to(tmp_path / "elsewhere.txt")
    assert_one_line(*run(["verify", "--task", "countdown", str(data), "--out", str(tmp_path / "v.jsonl")], capsys),
                    "not a regular file")
    assert (tmp_path / "elsewhere.txt").read_text() == "keep"


def test_verify_keeps_old_verdicts_when_it_refuses_the_input(tmp_path, capsys):
    data = _completions(tmp_path)
    assert main(["verify", "--task", "countdown", str(data)]) == 0
    verdicts = (tmp_path / "c.verdicts.jsonl").read_bytes()
    capsys.readouterr()
    data = _completions(tmp_path, bad=True)
    assert_one_line(*run(["verify", "--task", "countdown", str(data)], capsys), "c.jsonl", "line 2")
    assert (tmp_path / "c.verdicts.jsonl").read_bytes() == verdicts
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _training_run(path: Path, summary: object = None, step: object = 1) -> Path:
    """What `r3 report` reads of a training run: metrics, samples and (optionally) the summary."""
    path.mkdir()
    (path / "metrics.jsonl").write_text(json.dumps({"step": step, "r3/retry_success": 0.5}) + "\n")
    (path / "samples.jsonl").write_text(json.dumps({"step": 1, "problem_id": "p", "reflection": "r",
                                                    "retry": "x", "correct": True}) + "\n")
    if summary is not None:
        (path / "train_summary.json").write_text(json.dumps(summary))
    return path


def test_report_never_replaces_a_users_report_in_out(tmp_path, capsys):
    run_dir = _training_run(tmp_path / "run")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my report")
    assert_one_line(*run(["report", str(run_dir), "--out", str(out)], capsys), "report.md",
                    "not written by this r3 run")
    assert (out / "report.md").read_text() == "my report"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]  # nothing else: refused first


def test_report_never_writes_through_a_symlinked_report(tmp_path, capsys):
    run_dir = _training_run(tmp_path / "run")
    (tmp_path / "notes.md").write_text("keep")
    (run_dir / "report.md").symlink_to(tmp_path / "notes.md")
    assert_one_line(*run(["report", str(run_dir)], capsys), "report.md", "symbolic link")
    assert (tmp_path / "notes.md").read_text() == "keep"


@pytest.mark.parametrize("summary, step, needle", [
    ([1, 2], 1, "not a JSON object"),
    ({"steps": 2}, 1, "'first_step'"),
    ({"steps": "two", "first_step": 0}, 1, "'steps'"),
    (None, "three", "'step'"),
])
def test_report_of_a_malformed_run_names_the_file_and_field(tmp_path, capsys, summary, step, needle):
    run_dir = _training_run(tmp_path / "run", summary, step)
    assert_one_line(*run(["report", str(run_dir)], capsys), needle)
    assert not (run_dir / "report.md").exists()


def _eval_run(path: Path, **summary_changes) -> Path:
    path.mkdir()
    share = {"accuracy": 0.5, "low": 0.1, "high": 0.9, "correct": 1, "n": 2}
    summary = {"n_problems": 2, "max_attempts": 2, "first_attempt": share, "within_two": share,
               "reflection_success_rate": share, "mean_reflection_tokens": 3.0, "mean_attempt_tokens": 4.0}
    summary.update(summary_changes)
    (path / "summary.json").write_text(json.dumps({"summary": summary, "task": "countdown", "model": "m"}))
    return path


@pytest.mark.parametrize("changes, needle", [
    ({"n_problems": None}, "summary.n_problems"),
    ({"first_attempt": 0.5}, "summary.first_attempt"),
    ({"within_two": {"accuracy": "high", "low": 0, "high": 1, "correct": 1, "n": 2}}, "summary.within_two"),
    ({"max_attempts": 3}, "within_attempts.3"),
    ({"mean_attempt_tokens": "many"}, "summary.mean_attempt_tokens"),
])
def test_compare_of_a_malformed_summary_names_the_field(tmp_path, capsys, changes, needle):
    good, bad = _eval_run(tmp_path / "a"), _eval_run(tmp_path / "b", **changes)
    assert_one_line(*run(["compare", str(good), str(bad)], capsys), "b/summary.json", needle)


def test_tiny_model_never_replaces_a_model_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "trained"
    out.mkdir()
    (out / "config.json").write_text('{"trained": true}')
    for extra in ([], ["--overwrite"]):
        assert_one_line(*run(["tiny-model", str(out), *extra], capsys), "config.json", "not written by this r3 run")
        assert (out / "config.json").read_text() == '{"trained": true}'
        assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # refused before writing anything


@pytest.mark.parametrize("name", ["summary.json", "episodes.jsonl"])
def test_eval_refuses_a_foreign_result_file_before_the_model_loads(tmp_path, tiny_model_dir, capsys, monkeypatch,
                                                                   name):
    import r3.evaluation.run

    monkeypatch.setattr(r3.evaluation.run, "load_model", lambda settings: pytest.fail("the model was loaded"))
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("theirs")
    argv = [a.replace("MODEL", str(tiny_model_dir)) for a in EVAL] + ["--out", str(out)]
    assert_one_line(*run(argv, capsys), name, "not written by this r3 run")
    assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == "theirs"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("name", ["data.json", "data.jsonl"])
def test_a_fifo_as_data_is_refused_without_blocking(tmp_path, tiny_model_dir, capsys, name):
    os.mkfifo(tmp_path / name)
    argv = [a.replace("MODEL", str(tiny_model_dir)).replace("sample:countdown", str(tmp_path / name)) for a in EVAL]
    assert_one_line(*run(argv + ["--out", str(tmp_path / "out")], capsys), name, "not a regular file")
    assert not (tmp_path / "out").exists()
