"""`r3 data countdown`, run in-process through r3.cli.main."""

from __future__ import annotations

import json

import pytest

from r3.cli import main
from r3.tasks.countdown_expr import judge_answer


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_writes_solvable_puzzles_with_solutions(tmp_path, capsys):
    out = tmp_path / "sub" / "puzzles.jsonl"
    assert main(["data", "countdown", "--n", "25", "--seed", "4", "--out", str(out), "--with-solution"]) == 0
    rows = read(out)
    assert len(rows) == 25
    for row in rows:
        assert set(row) == {"nums", "target", "solution"}
        assert judge_answer(row["solution"], row["nums"], row["target"]).correct
    assert f"wrote 25 Countdown puzzles to {out}" in capsys.readouterr().out
    assert not (tmp_path / "sub" / "puzzles.jsonl.partial").exists()


def test_same_seed_same_file_and_options_are_applied(tmp_path):
    args = ["data", "countdown", "--n", "15", "--seed", "1", "--min-target", "100", "--max-target", "200",
            "--min-number", "2", "--max-number", "20", "--sizes", "4"]
    assert main([*args, "--out", str(tmp_path / "a.jsonl")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.jsonl")]) == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    for row in read(tmp_path / "a.jsonl"):
        assert set(row) == {"nums", "target"}
        assert len(row["nums"]) == 4 and 100 <= row["target"] <= 200 and all(2 <= n <= 20 for n in row["nums"])


def test_the_output_loads_as_a_countdown_dataset(tmp_path):
    from r3.tasks import get_task

    out = tmp_path / "p.jsonl"
    assert main(["data", "countdown", "--n", "5", "--out", str(out)]) == 0
    assert len(get_task("countdown").load(str(out))) == 5


def test_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    out.write_text("keep me\n")
    assert main(["data", "countdown", "--n", "3", "--out", str(out)]) == 2
    assert "already exists (pass --overwrite to replace it)" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert main(["data", "countdown", "--n", "3", "--out", str(out), "--overwrite"]) == 0
    assert len(read(out)) == 3


def test_bad_ranges_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["data", "countdown", "--n", "3", "--out", str(out), "--min-target", "50", "--max-target", "5"]) == 2
    assert capsys.readouterr().err.strip() == "r3 data: error: min target 50 is above max target 5"
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, message",
    [(["--sizes", "3", "x"], "field 'sizes': invalid int value: 'x'"), (["--n", "0"], "field 'n' must be at least 1")],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, extra, message):
    assert main(["data", "countdown", "--n", "3", "--out", str(tmp_path / "p.jsonl"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_generator_must_be_named(capsys):
    assert main(["data"]) == 2
    assert "GENERATOR" in capsys.readouterr().out
    assert main(["data", "sudoku"]) == 2
    assert "unknown generator 'sudoku'" in capsys.readouterr().err
