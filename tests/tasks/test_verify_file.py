"""`r3.tasks.verify_file`: stored completions judged through the common loader (JSONL, JSON, Parquet)."""

from __future__ import annotations

import json

import pytest

from r3.errors import DataError, R3Error
from r3.tasks import get_task, verify_file
from r3.tasks.verify_file import default_out

ROWS = [{"question": "q1", "answer": "#### 18", "completion": "\\boxed{18}", "id": "a"},
        {"question": "q2", "answer": "#### 3", "completion": "\\boxed{4}", "id": "b"}]


def verdicts(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_every_format_the_loader_reads(tmp_path, suffix):
    import pandas as pd

    path = tmp_path / f"c{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    summary = verify_file(get_task("gsm8k"), path)
    assert (summary.judged, summary.correct, summary.skipped, summary.verifier_errors) == (2, 1, 0, 0)
    assert summary.out == tmp_path / "c.verdicts.jsonl" and summary.accuracy == 0.5
    records = verdicts(summary.out)
    assert [(r["problem_id"], r["correct"], r["error"]) for r in records] == [("a", True, False), ("b", False, False)]
    assert records[1]["reason"] == "answer '4' does not match 3"
    assert ("line" in records[0]) is (suffix == ".jsonl")


def test_bad_rows_name_file_row_and_field_or_are_skipped(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({**ROWS[1], "answer": "no number"}) + "\n{oops\n"
                    + json.dumps({**ROWS[1], "completion": None}) + "\n")
    with pytest.raises(R3Error, match=r"c.jsonl, line 3: not a JSON object"):
        verify_file(get_task("gsm8k"), path)
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({**ROWS[1], "answer": "no number"}) + "\n")
    with pytest.raises(DataError, match=r"c.jsonl, line 2, field 'answer': no number"):
        verify_file(get_task("gsm8k"), path)
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({**ROWS[1], "answer": "no number"}) + "\n{oops\n"
                    + json.dumps({**ROWS[1], "completion": None}) + "\n" + json.dumps(ROWS[1]) + "\n")
    summary = verify_file(get_task("gsm8k"), path, out=tmp_path / "v.jsonl", skip_bad_lines=True)
    assert (summary.judged, summary.skipped) == (2, 3)
    assert [r["line"] for r in verdicts(tmp_path / "v.jsonl")] == [1, 5]


def test_columns_and_verifier_errors_are_counted(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"q": "q", "a": "#### 2", "completion": "\\boxed{2}"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    task = get_task("gsm8k", columns={"question": "q", "answer": "a"})
    assert verify_file(task, path).correct == 1

    class Broken(type(task)):
        def check(self, example, completion):
            raise ValueError("bug")

    summary = verify_file(Broken(columns={"question": "q", "answer": "a"}), path)
    assert summary.verifier_errors == 1 and verdicts(summary.out)[0]["reason"] == "verifier error: ValueError: bug"


def test_missing_file_and_default_out(tmp_path):
    with pytest.raises(R3Error, match="nope.jsonl: no such file"):
        verify_file(get_task("gsm8k"), tmp_path / "nope.jsonl")
    assert default_out(tmp_path / "a.b.parquet") == tmp_path / "a.b.verdicts.jsonl"
    assert default_out(tmp_path / "plain") == tmp_path / "plain.verdicts.jsonl"


def test_undecodable_files_are_one_line_errors_naming_the_file(tmp_path):
    text = tmp_path / "latin1.jsonl"
    text.write_bytes(b'{"question": "caf\xe9", "answer": "#### 1", "completion": "\\\\boxed{1}"}\n')
    with pytest.raises(R3Error, match=r"latin1.jsonl, line 1: not UTF-8") as error:
        verify_file(get_task("gsm8k"), text)
    assert "\n" not in str(error.value)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(R3Error, match=r"broken.parquet: cannot read"):
        verify_file(get_task("gsm8k"), broken)
