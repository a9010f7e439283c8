"""The forgetting run directory: identity with both models' files, manifest-only overwrite, corrupt files."""

from __future__ import annotations

import json

import pytest

from r3.errors import R3Error
from r3.forgetting.store import ResultStore, open_run

RESULTS = {"results": {"gsm8k": {"acc,none": 0.5}}, "samples": {"gsm8k": [{"doc_id": 0, "metrics": ["acc"],
                                                                          "acc": 1.0, "filtered_resps": ["4"]}]}}


@pytest.fixture
def models(tmp_path):
    for name in ("base", "trained"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"name": name}))
    return {"base": str(tmp_path / "base"), "trained": str(tmp_path / "trained"), "limit": 4, "benchmarks": ["a"]}


def test_files_go_through_the_manifest_and_overwrite_deletes_only_them(tmp_path, models):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with open_run(out, models) as run:
        store = ResultStore(out / "base", run)
        store.save("gsm8k", {"f": 1}, RESULTS, log_samples=True)
        assert store.finished("gsm8k", {"f": 1})["results"] == RESULTS["results"]
        assert store.items("gsm8k") == [{"task": "gsm8k", "doc_id": 0, "filter": "none", "acc": 1.0,
                                         "answer": ["4"]}]
    manifest = json.loads((out / "run.json").read_text())["r3_run"]["files"]
    assert set(manifest) == {"base/items/gsm8k.jsonl", "base/samples/gsm8k.jsonl", "base/benchmarks/gsm8k.json",
                             "base/results.json"}
    with open_run(out, {**models, "benchmarks": ["a", "b"]}):  # another benchmark list: same run, resumed
        pass
    with open_run(out, {**models, "limit": 8}, overwrite=True):
        pass
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        ".r3.lock", "mine.txt", "run.json"]


def test_a_replaced_model_is_refused_naming_it(tmp_path, models):
    with open_run(tmp_path / "out", models) as run:
        ResultStore(tmp_path / "out" / "base", run).save("gsm8k", {"f": 1}, RESULTS, log_samples=False)
    (tmp_path / "trained" / "config.json").write_text('{"name": "retrained"}')
    with pytest.raises(R3Error, match=r"--trained-files.config.json") as error:
        open_run(tmp_path / "out", models)
    assert "\n" not in str(error.value)


def test_hand_corrupted_results_rerun_the_benchmark_or_name_the_line(tmp_path, models):
    with open_run(tmp_path / "out", models) as run:
        store = ResultStore(tmp_path / "out" / "base", run)
        store.save("gsm8k", {"f": 1}, RESULTS, log_samples=False)
        store.benchmark_path("gsm8k").write_text("{cut")
        assert store.finished("gsm8k", {"f": 1}) is None  # runs again, no traceback
        store.write_merged()
        store.items_path("gsm8k").write_text('{"task": "gsm8k"}\nnot json\n')
        with pytest.raises(R3Error, match=r"gsm8k.jsonl, line 2: not JSON"):
            store.items("gsm8k")


def test_a_symlinked_model_folder_in_the_run_is_never_written_or_emptied_through(tmp_path, models):
    """`base -> ../user-folder` inside the run: saving is refused naming the link, --overwrite deletes nothing there."""
    out, user = tmp_path / "out", tmp_path / "user-folder"
    with open_run(out, models) as run:
        ResultStore(out / "base", run).save("gsm8k", {"f": 1}, RESULTS, log_samples=False)
    for path in sorted((out / "base").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (out / "base").rmdir()
    user.mkdir()
    (user / "benchmarks").mkdir()
    (user / "benchmarks" / "gsm8k.json").write_text("the user's")
    (user / "results.json").write_text("the user's")
    (out / "base").symlink_to("../user-folder")
    with open_run(out, models) as run, pytest.raises(R3Error, match="base is a symbolic link"):
        ResultStore(out / "base", run).save("gsm8k", {"f": 1}, RESULTS, log_samples=False)
    with open_run(out, {**models, "limit": 8}, overwrite=True):
        pass
    assert (user / "benchmarks" / "gsm8k.json").read_text() == "the user's"
    assert (user / "results.json").read_text() == "the user's"
