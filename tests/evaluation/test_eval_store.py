"""The eval run directory: identity covers data rows and model files; resume, refusal, torn lines, corrupt files."""

from __future__ import annotations

import pytest

from r3.errors import R3Error
from r3.evaluation.store import EvalStore, check_out, eval_identity, read_episodes, read_run
from r3.types import Attempt, Episode, Verdict

SETTINGS = {"model": "m", "task": "echo", "temperature": 0.0, "seed": 0}


def episode(index: int) -> Episode:
    attempt = Attempt(text=f"a{index}", num_tokens=2, verdict=Verdict(True, "ok"))
    return Episode(index=index, problem_id=f"p{index}", example={"q": index},
                   prompt=({"role": "user", "content": "q"},), attempts=(attempt,), reflections=())


@pytest.fixture
def model_dir(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 64}')
    (model / "tokenizer.json").write_text('{"vocab": 1}')
    return model


def identity(model_dir, rows, **changes):
    return eval_identity({**SETTINGS, **changes}, str(model_dir), rows, {"chat_template": "abc"})


def test_resume_continues_after_the_finished_episodes_and_cuts_a_torn_line(tmp_path, model_dir):
    rows = [{"q": i} for i in range(4)]
    with EvalStore(tmp_path / "run", identity(model_dir, rows)) as store:
        assert store.done == []
        store.append([episode(0), episode(1)])
    with open(tmp_path / "run" / "episodes.jsonl", "a") as handle:
        handle.write('{"index": 2, "problem_id": "p2", "exa')  # killed mid-write
    with EvalStore(tmp_path / "run", identity(model_dir, rows)) as store:
        assert [e.index for e in store.done] == [0, 1]
        store.append([episode(2), episode(3)])
        store.write_summary({"summary": {"n_problems": 4}})
    assert [e.index for e in read_episodes(tmp_path / "run" / "episodes.jsonl")] == [0, 1, 2, 3]
    assert read_run(tmp_path / "run")["summary"]["n_problems"] == 4
    # a finished run with the same identity resumes too (nothing left to do; the summary is rewritten)
    assert check_out(tmp_path / "run", identity(model_dir, rows)) is True


def test_changed_data_rows_are_refused_naming_them(tmp_path, model_dir):
    rows = [{"q": i} for i in range(4)]
    with EvalStore(tmp_path / "run", identity(model_dir, rows)) as store:
        store.append([episode(0)])
    changed = [{"q": 9}, *rows[1:]]  # episode 0 would belong to another puzzle
    with pytest.raises(R3Error, match=r"other settings \(--data-rows.sha256 .*\(was") as error:
        check_out(tmp_path / "run", identity(model_dir, changed))
    assert "\n" not in str(error.value)
    with pytest.raises(R3Error, match="--data-rows"):
        EvalStore(tmp_path / "run", identity(model_dir, changed))


def test_a_replaced_model_directory_is_refused(tmp_path, model_dir):
    rows = [{"q": 0}]
    with EvalStore(tmp_path / "run", identity(model_dir, rows)) as store:
        store.append([episode(0)])
    (model_dir / "config.json").write_text('{"hidden_size": 128}')  # another model, same path
    with pytest.raises(R3Error, match=r"--model-files.config.json.sha256"):
        check_out(tmp_path / "run", identity(model_dir, rows))
    with pytest.raises(R3Error, match=r"--chat-template 'other' \(was 'abc'\)"):
        check_out(tmp_path / "run", {**identity(model_dir, rows), "chat_template": "other"})


def test_overwrite_starts_again_and_keeps_foreign_files(tmp_path, model_dir):
    rows = [{"q": 0}, {"q": 1}]
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with EvalStore(out, identity(model_dir, rows)) as store:
        store.append([episode(0)])
        store.write_summary({"summary": {}})
    with EvalStore(out, identity(model_dir, rows, temperature=1.0), overwrite=True) as store:
        assert store.done == []
    assert not (out / "summary.json").exists() and (out / "episodes.jsonl").read_text() == ""
    assert (out / "notes.md").read_text() == "mine"


def test_two_stores_on_one_directory_the_second_is_refused(tmp_path, model_dir):
    with EvalStore(tmp_path / "run", identity(model_dir, [{"q": 0}])), \
            pytest.raises(R3Error, match="in use by another process"):
        EvalStore(tmp_path / "run", identity(model_dir, [{"q": 0}]))


@pytest.mark.parametrize("content, message", [
    ("not json\n", "line 1: corrupt line in the middle|not an episode"),
    ('{"index": 0}\n{"index": 1}\n', "line 1 is not an episode"),
])
def test_a_hand_corrupted_episodes_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "episodes.jsonl"
    path.write_text(content + '{"x": 1}\n')
    with pytest.raises(R3Error, match=message) as error:
        read_episodes(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", '{"no_summary": 1}'])
def test_a_corrupt_summary_is_one_line(tmp_path, content):
    (tmp_path / "summary.json").write_text(content)
    with pytest.raises(R3Error, match="summary.json: not") as error:
        read_run(tmp_path)
    assert "\n" not in str(error.value)


def test_a_foreign_episodes_file_is_refused_untouched(tmp_path, model_dir):
    out = tmp_path / "run"
    out.mkdir()
    (out / "episodes.jsonl").write_text("someone else's lines\n")
    with pytest.raises(R3Error, match="episodes.jsonl exists but was not written by this r3 run"):
        EvalStore(out, identity(model_dir, [{"q": 0}]))
    assert (out / "episodes.jsonl").read_text() == "someone else's lines\n"
