"""r3.data.load_rows on every kind of source, and the errors bad data gives."""

from __future__ import annotations

import json

import pytest

from r3.data import MAX_DEPTH, load_rows, normalize_rows, read_jsonl
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
    path = tmp_path / "rows.xlsx"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(R3Error, match="unsupported file type '.xlsx'"):
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


# ------------------------------------------------------------------ CSV and TSV


def test_csv_and_tsv_load_like_jsonl(tmp_path):
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text('id,nums,target,note\n1,"[3, 5, 7]",22,plain text\n2,"[1, 2]",3,"multi\nline, quoted"\n'
                        "\n3,[4],4,\n", encoding="utf-8")
    loaded = load_rows(str(csv_path))
    assert loaded.rows == [{"id": 1, "nums": [3, 5, 7], "target": 22, "note": "plain text"},
                           {"id": 2, "nums": [1, 2], "target": 3, "note": "multi\nline, quoted"},
                           {"id": 3, "nums": [4], "target": 4, "note": None}]
    assert loaded.labels == ["line 2", "line 3", "line 6"]  # the second row's quoted field spans two lines
    tsv_path = tmp_path / "rows.tsv"
    tsv_path.write_text("nums\ttarget\n[3, 5, 7]\t22\n", encoding="utf-8")
    assert load_rows(str(tsv_path)).rows == [{"nums": [3, 5, 7], "target": 22}]
    task = get_task("countdown")
    assert task.load(str(tsv_path))[0]["target"] == 22


def test_csv_row_with_wrong_field_count_names_the_line(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n1,2,3\n4,5\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_rows(str(path))
    assert str(error.value) == f"{path}, line 3: 3 fields, but the header names 2"
    loaded = load_rows(str(path), skip_bad=True)
    assert loaded.rows == [{"a": 1, "b": 2}, {"a": 4, "b": 5}] and loaded.skipped == 1


def test_csv_bad_bytes_name_line_and_field(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"a,b\n1,ok\n2,caf\xe9\n")
    with pytest.raises(DataError, match=r"rows.csv, line 3, field 'b': not UTF-8"):
        load_rows(str(path))
    assert load_rows(str(path), skip_bad=True).rows == [{"a": 1, "b": "ok"}]


# ------------------------------------------------------------------ rows that would crash a run later


def test_non_utf8_line_names_file_and_line_and_is_skippable(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(json.dumps(ROWS[0]).encode() + b"\n" + b'{"query": "caf\xe9"}\n' + json.dumps(ROWS[1]).encode()
                     + b"\n")
    with pytest.raises(DataError) as error:
        load_rows(str(path))
    assert str(error.value).startswith(f"{path}, line 2: not UTF-8 text (byte 0xe9")
    rows, labels, skipped = read_jsonl(path, skip_bad=True)
    assert rows == ROWS[:2] and labels == ["line 1", "line 3"] and skipped == 1


def test_a_wholly_non_utf8_file_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes('{"query": "q"}\n'.encode("utf-16"))
    with pytest.raises(DataError) as error:
        load_rows(str(path))
    assert str(error.value).startswith(f"{path}: not UTF-8 text (it starts with a UTF-16 byte-order mark)")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"q": "é"}\n{"q": "è"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.jsonl: no readable line \(2 bad line\(s\) skipped; the first: "
                                        "not UTF-8"):
        load_rows(str(latin), skip_bad=True)


def test_lone_surrogate_is_a_data_error_naming_the_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"query": "smile \\ud83d", "tools": "[]"}\n', encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_rows(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}, line 2, field 'query': holds a lone surrogate '\\ud83d'")
    message.encode("utf-8")  # the message itself can be printed and logged
    loaded = load_rows(str(path), skip_bad=True)
    assert loaded.rows == ROWS[:1] and loaded.skipped == 1
    # a surrogate PAIR is a real character and loads
    path.write_text('{"query": "smile \\ud83d\\ude00"}\n', encoding="utf-8")
    assert load_rows(str(path)).rows == [{"query": "smile \U0001F600"}]
    # and in a key, and deep inside a value
    path.write_text('{"ok": {"x\\udc00": 1}}\n{"tools": [["\\udfff"]]}\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 1, field 'ok': holds a lone surrogate"):
        load_rows(str(path))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 100_000])
def test_absurd_nesting_is_a_data_error_not_a_recursion_error(tmp_path, depth):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"query": ' + "[" * depth + "]" * depth + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"rows.jsonl, line 2.*nested (too deeply|deeper than)"):
        load_rows(str(path))
    assert load_rows(str(path), skip_bad=True).rows == ROWS[:1]


def test_normalize_rows_skips_and_counts_rows_a_task_rejects(tmp_path):
    rows = [ROWS[0], {key: value for key, value in ROWS[1].items() if key != "query"}, ROWS[2]]
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    task = get_task("function_calling")
    loaded = load_rows(str(path))
    with pytest.raises(DataError, match="line 2, field 'query': missing required field"):
        normalize_rows(loaded, task.normalize)
    examples, skipped = normalize_rows(loaded, task.normalize, skip_bad=True)
    assert [example["id"] for example in examples] == [0, 2] and skipped == 1


# ------------------------------------------------------------------ split slicing of local files


@pytest.mark.parametrize("split, expected", [
    ("train[:2]", [0, 1]),
    ("train[2:4]", [2, 3]),
    ("train[-1:]", [4]),
    ("train[:40%]", [0, 1]),
    ("train[60%:]", [3, 4]),
    ("test[:1]+test[-1:]", [0, 4]),  # a single file is one split: its name is not checked
    ("train", [0, 1, 2, 3, 4]),
])
def test_local_files_slice_like_hub_splits(tmp_path, split, expected):
    import datasets

    path = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    assert [row["id"] for row in load_rows(str(path), split=split).rows] == expected
    parquet = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(ROWS).to_parquet(str(parquet))
    assert [row["id"] for row in load_rows(str(parquet), split=split).rows] == expected


def test_split_slice_then_limit_and_labels_keep_the_file_lines(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    loaded = load_rows(str(path), split="train[1:5]", limit=2)
    assert [row["id"] for row in loaded.rows] == [1, 2] and loaded.labels == ["line 2", "line 3"]


def test_a_bad_slice_is_one_line(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    with pytest.raises(R3Error, match="cannot slice with split 'train\\[abc\\]'") as error:
        load_rows(str(path), split="train[abc]")
    assert "\n" not in str(error.value)


def test_saved_dataset_dict_split_and_slice(tmp_path):
    import datasets

    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:3]),
                          "test": datasets.Dataset.from_list(ROWS[3:])}).save_to_disk(str(saved))
    assert [row["id"] for row in load_rows(str(saved), split="train[1:]").rows] == [1, 2]
    with pytest.raises(R3Error, match="no split 'validation'; it has test, train"):
        load_rows(str(saved), split="validation")


def test_task_load_skips_and_counts_bad_rows_with_skip_bad(tmp_path, caplog):
    path = tmp_path / "rows.jsonl"
    missing_query = {key: value for key, value in ROWS[1].items() if key != "query"}
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(missing_query) + "\n" + '{"query": "\\ud83d"}\n'
                    + json.dumps(ROWS[2]) + "\n", encoding="utf-8")
    task = get_task("function_calling")
    with pytest.raises(DataError, match="line 3, field 'query': holds a lone surrogate"):  # read errors come first
        task.load(str(path))
    assert [example["id"] for example in task.load(str(path), skip_bad=True)] == [0, 2]
    assert "skipped 2 bad row(s)" in caplog.text


def _two_config_folder(tmp_path):
    """A dataset folder as on the hub: a README.md whose `configs:` declares `easy` (train, test) and `hard` (train)."""
    folder = tmp_path / "countdown_sets"
    for config, split, rows in (("easy", "train", [[1, 2, 3]]), ("easy", "test", [[2, 2, 4]]),
                                ("hard", "train", [[5, 7, 9, 21], [3, 4, 5, 60]])):
        (folder / config).mkdir(parents=True, exist_ok=True)
        (folder / config / f"{split}.jsonl").write_text(
            "".join(json.dumps({"nums": r[:-1], "target": r[-1]}) + "\n" for r in rows))
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: easy\n  data_files:\n  - split: train\n    path: easy/train.jsonl\n"
        "  - split: test\n    path: easy/test.jsonl\n- config_name: hard\n  data_files:\n  - split: train\n"
        "    path: hard/train.jsonl\n---\n# two configurations\n")
    return folder


def test_a_dataset_folder_is_loaded_by_configuration_name(tmp_path, hub_offline):
    folder = _two_config_folder(tmp_path)
    assert load_rows(str(folder), "train", config="hard").rows == [{"nums": [5, 7, 9], "target": 21},
                                                                  {"nums": [3, 4, 5], "target": 60}]
    assert load_rows(str(folder), "test", config="easy").rows == [{"nums": [2, 2], "target": 4}]
    assert load_rows(str(folder), "train[1:]", config="hard").rows == [{"nums": [3, 4, 5], "target": 60}]
    with pytest.raises(R3Error, match=r"available configs: \['easy', 'hard'\]; choose one with data_config"):
        load_rows(str(folder), "train")
    with pytest.raises(R3Error, match=r"config 'medium'.*not found"):
        load_rows(str(folder), "train", config="medium")
    examples = get_task("countdown").load(str(folder), "train", config="hard")
    assert [e["target"] for e in examples] == [21, 60]


def test_a_configuration_name_for_a_single_file_is_refused(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"nums": [1, 2], "target": 3}\n')
    with pytest.raises(R3Error, match="a single file or a saved dataset has none; leave data_config out"):
        load_rows(str(path), config="main")


def test_gsm8k_loads_its_default_dataset_with_its_configuration(monkeypatch):
    """openai/gsm8k has two configurations (main, socratic): the task's default source needs `main`."""
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None):
        calls.append((path, name))
        return [{"question": "1 + 1?", "answer": "#### 2"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = get_task("gsm8k")
    task.load(limit=1)
    task.load("openai/gsm8k", "train", limit=1, config="socratic")
    task.load("someone/gsm8k-copy", "train", limit=1)
    assert calls == [("openai/gsm8k", "main"), ("openai/gsm8k", "socratic"), ("someone/gsm8k-copy", None)]
