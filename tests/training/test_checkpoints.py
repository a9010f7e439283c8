"""r3.training.checkpoints on checkpoint folders as transformers 5 writes them, complete and torn at each file."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import save_file

from r3.errors import R3Error
from r3.training.checkpoints import (
    clear_checkpoints,
    inspect_checkpoint,
    list_checkpoints,
    newest_complete,
    resolve_resume,
)

# the order Trainer._save_checkpoint writes them in; trainer_state.json is last
FILES = ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json")
SETTINGS = {"learning_rate": 1e-4, "max_steps": 10, "logging_steps": 1}


def make_checkpoint(output_dir, step, files=FILES):
    folder = output_dir / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    for name in files:
        if name == "model.safetensors":
            save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / name))
        elif name == "trainer_state.json":
            (folder / name).write_text(json.dumps({"global_step": step}))
        else:
            torch.save({"step": step}, folder / name)
    return folder


def test_complete_and_torn_at_every_file(tmp_path):
    complete = make_checkpoint(tmp_path, 10)
    assert inspect_checkpoint(complete).complete
    for cut in range(len(FILES)):  # killed before FILES[cut] was written: torn (no trainer_state.json)
        status = inspect_checkpoint(make_checkpoint(tmp_path / f"cut{cut}", 20, FILES[:cut]))
        assert status.torn is not None and not status.complete
    weights = make_checkpoint(tmp_path / "weights", 30) / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 10])  # killed while the weights were written, state file from a retry
    assert "cut short" in inspect_checkpoint(weights.parent).torn
    state = make_checkpoint(tmp_path / "state", 40) / "trainer_state.json"
    state.write_text('{"global_step": 4')
    assert "cut short or not JSON" in inspect_checkpoint(state.parent).torn


def test_missing_optimizer_or_scheduler_is_reported_not_torn(tmp_path):
    folder = make_checkpoint(tmp_path, 5, ("model.safetensors", "rng_state.pth", "trainer_state.json"))
    status = inspect_checkpoint(folder)
    assert status.torn is None and status.missing == ("optimizer.pt", "scheduler.pt")
    with pytest.raises(R3Error, match="lacks optimizer.pt, scheduler.pt: resuming would restart") as error:
        newest_complete(tmp_path)
    assert "\n" not in str(error.value)
    assert newest_complete(tmp_path, allow_missing_state=True) == folder


def test_last_picks_the_newest_complete_and_reports_torn_ones(tmp_path, caplog):
    make_checkpoint(tmp_path, 5)
    good = make_checkpoint(tmp_path, 10)
    make_checkpoint(tmp_path, 15, FILES[:1])  # killed while saving step 15 (only the weights)
    (tmp_path / "checkpoint-20").mkdir()  # killed at once: an empty folder
    (tmp_path / "checkpoint-x").mkdir()  # not a checkpoint name
    assert [s.step for s in list_checkpoints(tmp_path)] == [5, 10, 15, 20]
    with caplog.at_level(logging.WARNING):
        assert resolve_resume(tmp_path, "last") == str(good)
    assert "checkpoint-20" in caplog.text and "checkpoint-15" in caplog.text
    with pytest.raises(R3Error, match="checkpoint-15 is a torn checkpoint .*use 'last'"):
        resolve_resume(tmp_path, str(tmp_path / "checkpoint-15"))
    assert resolve_resume(tmp_path, str(good)) == str(good)


def test_last_with_only_torn_checkpoints_is_one_line(tmp_path):
    make_checkpoint(tmp_path, 5, FILES[:2])
    with pytest.raises(R3Error, match=r"no complete checkpoint-\* folder .*torn: checkpoint-5 \(no trainer_state"):
        resolve_resume(tmp_path, "last")
    with pytest.raises(R3Error, match="no complete checkpoint"):
        resolve_resume(tmp_path / "absent", "last")


def test_a_rerun_resumes_with_the_same_settings_and_refuses_other_ones(tmp_path):
    assert resolve_resume(tmp_path / "new", None, settings=SETTINGS, saved_settings=None) is None  # fresh
    good = make_checkpoint(tmp_path, 4)
    make_checkpoint(tmp_path, 6, FILES[:3])
    assert resolve_resume(tmp_path, None, settings=SETTINGS, saved_settings=SETTINGS) == str(good)
    assert resolve_resume(tmp_path, None, settings={**SETTINGS, "logging_steps": 5},
                          saved_settings=SETTINGS) == str(good)  # logging is free
    with pytest.raises(R3Error, match=r"other settings \(--learning_rate 3e-05 \(was 0.0001\)\)") as error:
        resolve_resume(tmp_path, None, settings={**SETTINGS, "learning_rate": 3e-5}, saved_settings=SETTINGS)
    assert "\n" not in str(error.value)
    # never a silent restart at step 0 over checkpoints whose settings are unknown
    with pytest.raises(R3Error, match="no record of the settings"):
        resolve_resume(tmp_path, None, settings=SETTINGS, saved_settings=None)
    # explicit "last" continues with new settings (say, more steps)
    assert resolve_resume(tmp_path, "last", settings={**SETTINGS, "max_steps": 20}, saved_settings=SETTINGS) == \
        str(good)


def test_clear_checkpoints_never_follows_links(tmp_path):
    make_checkpoint(tmp_path, 1)
    linked = make_checkpoint(tmp_path, 2)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("keep")
    (linked / "link").symlink_to(outside)
    (tmp_path / "notes.txt").write_text("keep")
    assert [p.name for p in clear_checkpoints(tmp_path)] == ["checkpoint-1"]
    assert outside.read_text() == "keep" and (tmp_path / "notes.txt").exists() and linked.exists()
