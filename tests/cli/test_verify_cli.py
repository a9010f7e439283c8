"""`r3 verify` end to end through the real entry point (r3.cli.main) on small JSONL files."""

from __future__ import annotations

import json

from r3.cli import main

TOOLS = '[{"name": "get_weather", "parameters": {"city": {"type": "str"}}}]'
GOLD = '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'


def line(completion, **fields):
    row = {"query": "Weather in Paris?", "tools": TOOLS, "answers": GOLD, "completion": completion, **fields}
    return json.dumps(row) + "\n"


def write(path, *lines):
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_writes_verdicts_and_prints_accuracy(tmp_path, capsys):
    path = write(tmp_path / "c.jsonl",
                 line(GOLD, id="a"),
                 line('<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>', id="b"),
                 "\n",
                 line('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', id="c"),
                 line("no idea", id="d"))
    assert main(["verify", "--task", "function_calling", str(path)]) == 0
    out = capsys.readouterr().out
    assert "function_calling: 2/4 correct (accuracy 0.5000)" in out
    verdicts = [json.loads(text) for text in (tmp_path / "c.verdicts.jsonl").read_text().splitlines()]
    assert [(v["line"], v["problem_id"], v["correct"]) for v in verdicts] == [
        (1, "a", True), (2, "b", False), (4, "c", True), (5, "d", False)]
    assert verdicts[1]["reason"] == "call 'get_weather': argument 'city' is 'Rome', expected 'Paris'"


def test_out_option(tmp_path, capsys):
    path = write(tmp_path / "c.jsonl", line(GOLD))
    out = tmp_path / "sub.jsonl"
    assert main(["verify", "--task", "function_calling", str(path), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["correct"] is True
    assert "1/1 correct (accuracy 1.0000)" in capsys.readouterr().out


def test_malformed_line_is_an_error_naming_line_and_field(tmp_path, capsys):
    bad_field = write(tmp_path / "a.jsonl", line(GOLD), line(GOLD, answers="[{oops"))
    assert main(["verify", "--task", "function_calling", str(bad_field)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"r3 verify: error: {bad_field}, line 2, field 'answers': not valid JSON")
    assert len(err.strip().splitlines()) == 1

    no_completion = write(tmp_path / "b.jsonl", line(GOLD), line(None))
    assert main(["verify", "--task", "function_calling", str(no_completion)]) == 2
    assert f"{no_completion}, line 2, field 'completion': missing, or not a string" in capsys.readouterr().err

    broken_json = write(tmp_path / "c.jsonl", line(GOLD), '{"query": \n', line(GOLD))
    assert main(["verify", "--task", "function_calling", str(broken_json)]) == 2
    assert f"{broken_json}, line 2: not a JSON object" in capsys.readouterr().err


def test_skip_bad_lines_counts_and_reports(tmp_path, capsys):
    path = write(tmp_path / "c.jsonl", line(GOLD), line(GOLD, answers="[{oops"), '{"query": \n', line(None),
                 line("[]"))
    assert main(["verify", "--task", "function_calling", str(path), "--skip-bad-lines"]) == 0
    out = capsys.readouterr().out
    assert "1/2 correct (accuracy 0.5000)" in out and "skipped 3 bad row(s)" in out
    assert [json.loads(t)["line"] for t in (tmp_path / "c.verdicts.jsonl").read_text().splitlines()] == [1, 5]


def test_unknown_task_and_missing_file(tmp_path, capsys):
    path = write(tmp_path / "c.jsonl", line(GOLD))
    assert main(["verify", "--task", "function_caling", str(path)]) == 2
    assert "Did you mean function_calling?" in capsys.readouterr().err
    assert main(["verify", "--task", "function_calling", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


def test_tasks_lists_builtin_tasks(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "function_calling" in out and "math" in out and "Salesforce/xlam-function-calling-60k" in out


def test_tasks_survives_a_broken_task_module(capsys, monkeypatch):
    from r3 import tasks

    monkeypatch.setitem(tasks.TASKS, "broken", "no_such_module_r3:Task")
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "broken             (cannot load: cannot import task module 'no_such_module_r3'" in out
    assert "function_calling" in out
