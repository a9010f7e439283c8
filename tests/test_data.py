"""r3.data.load_rows on every kind of source, and the errors bad data gives."""

from __future__ import annotations

import json

import pytest

from r3.data import load_rows
from r3.errors import DataError, R3Error
from r3.tasks import get_task

ROWS = [{"id": i, "query": f"q{i}", "tools": '[{"name": "f"}]',
         "answers": json.dumps([{"name": "f", "arguments": {"x": i}}])} for i in range(5)]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_sample_source():
    loaded = load_rows("sample:function_calling")
    assert len(loaded.rows) >= 100 and loaded.labels[0] == "line 1"
    assert loaded.source.endswith("function_calling.jsonl")


def test_unknown_sample_lists_the_available_ones():
    with pytest.raises(R3Error, match="no sample named 'nope'; available: .*function_calling"):
        load_rows("sample:nope")


def test_local_jsonl_with_limit(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    (tmp_path / "rows.jsonl").write_text(path.read_text() + "\n\n", encoding="utf-8")  # blank lines are skipped
    loaded = load_rows(str(path))
    assert loaded.rows == ROWS and loaded.labels == [f"line {i}" for i in range(1, 6)]
    assert load_rows(str(path), limit=2).rows == ROWS[:2]


def test_local_json_parquet_and_saved_dataset(tmp_path):
    import datasets

    json_path = tmp_path / "rows.json"
    json_path.write_text(json.dumps(ROWS), encoding="utf-8")
    parquet_path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(ROWS).to_parquet(str(parquet_path))
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:3]),
                          "test": datasets.Dataset.from_list(ROWS[3:])}).save_to_disk(str(saved))
    single = tmp_path / "single"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(single))

    assert load_rows(str(json_path)).rows == ROWS
    assert load_rows(str(parquet_path), limit=3).rows == ROWS[:3]
    assert load_rows(str(saved)).rows == ROWS[:3]
    assert load_rows(str(saved), split="test").rows == ROWS[3:]
    assert load_rows(str(single)).labels == [f"row {i}" for i in range(5)]
    # and a task reads them all the same way
    task = get_task("function_calling")
    assert [ex["id"] for ex in task.load(str(parquet_path))] == list(range(5))


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(R3Error, match="unsupported file type '.csv'"):
        load_rows(str(path))


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"query": "q1", "tools": \n' + json.dumps(ROWS[2]) + "\n")
    with pytest.raises(DataError) as error:
        load_rows(str(path))
    assert str(error.value).startswith(f"{path}, line 2: not a JSON object")
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    with pytest.raises(DataError, match="line 2: not a JSON object .*expected a JSON object, got list"):
        load_rows(str(path))


def test_missing_field_names_source_row_and_field(tmp_path):
    rows = [ROWS[0], {key: value for key, value in ROWS[1].items() if key != "query"}]
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    with pytest.raises(DataError) as error:
        get_task("function_calling").load(str(path))
    assert str(error.value) == f"{path}, line 2, field 'query': missing required field"
    assert (error.value.row, error.value.field) == ("line 2", "query")


def test_missing_field_in_parquet_names_the_row(tmp_path):
    import datasets

    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list([{"query": "q", "tools": '[{"name": "f"}]', "answers": '[{"name": "g"}]'}]).to_parquet(
        str(path))
    with pytest.raises(DataError, match=r"row 0, field 'answers': call 1 \('g'\) has no 'arguments'"):
        get_task("function_calling").load(str(path))


def test_unknown_hub_id_offline_is_one_line(hub_offline):
    with pytest.raises(R3Error) as error:
        load_rows("nobody/no-such-dataset-r3", split="train", limit=3)
    message = str(error.value)
    assert "\n" not in message and message.startswith("'nobody/no-such-dataset-r3' is neither a local file nor")
