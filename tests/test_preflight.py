"""Settings that need an extra are refused before anything loads, naming the pip line (r3.preflight)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from r3.errors import R3Error
from r3.preflight import check_training, require
from r3.training.config import load_train_config

PAPER = Path(__file__).resolve().parents[1] / "configs" / "countdown" / "qwen2.5-1.5b-instruct.yaml"


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed here")
def test_the_paper_recipe_names_the_extra_it_needs(tmp_path):
    config, training = load_train_config(PAPER, ["--use_cpu", "true", "--output_dir", str(tmp_path / "out")],
                                         cuda=False)
    with pytest.raises(R3Error, match=r"tensorboard.*pip install 'r3-reflect\[tensorboard\]'"):
        check_training(config, training)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_the_paper_recipe_with_report_to_none_then_needs_vllm(tmp_path):
    config, training = load_train_config(PAPER, ["--use_cpu", "true", "--report_to", "none",
                                                 "--output_dir", str(tmp_path / "out")], cuda=False)
    with pytest.raises(R3Error, match=r"use_vllm: true needs vllm.*pip install 'r3-reflect\[vllm\]'"):
        check_training(config, training)


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed here")
def test_require_names_the_extra():
    with pytest.raises(R3Error, match=r"deepspeed needs deepspeed, which is not installed: pip install 'r3-reflect\[deepspeed\]'"):
        require("deepspeed", "deepspeed")


def test_require_names_the_package_without_an_extra():
    with pytest.raises(R3Error, match="pip install no_such_module_r3"):
        require("no_such_module_r3", "a test")
    require("json", "a test")  # present: nothing happens


@pytest.fixture
def no_hub_token(tmp_path, monkeypatch):
    """No Hugging Face token anywhere: not in the environment, not in the token file."""
    import huggingface_hub.constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def _train_stops_before_the_model(tiny_model_dir, tmp_path, monkeypatch, capsys, *extra) -> str:
    """`r3 train --push_to_hub true ...`: its exit code must be 2 and no model may load; returns stderr."""
    import r3.training.trainer
    from r3.cli import main

    def model_loads(*args, **kwargs):
        raise AssertionError("the model was about to load")

    monkeypatch.setattr(r3.training.trainer, "run_training", model_loads)
    rows = tmp_path / "failures.jsonl"
    rows.write_text("")
    code = main(["train", "--task", "countdown", "--model", str(tiny_model_dir), "--data", str(rows),
                 "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", "--report_to", "none",
                 "--push_to_hub", "true", *extra])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
    return err


def test_push_to_hub_without_a_token_stops_before_the_model_loads(tiny_model_dir, tmp_path, monkeypatch, capsys,
                                                                  no_hub_token):
    err = _train_stops_before_the_model(tiny_model_dir, tmp_path, monkeypatch, capsys)
    assert "push_to_hub: true needs a Hugging Face token, and none is set: log in with `hf auth login`" in err


def test_push_to_hub_with_the_hub_switched_off_stops_before_the_model_loads(tiny_model_dir, tmp_path, monkeypatch,
                                                                            capsys, hub_offline):
    err = _train_stops_before_the_model(tiny_model_dir, tmp_path, monkeypatch, capsys)
    assert "the hub is switched off (HF_HUB_OFFLINE is set)" in err


def test_push_to_hub_needs_a_token_the_hub_accepts_with_write_access(monkeypatch, no_hub_token):
    import huggingface_hub

    from r3.preflight import check_hub

    check_hub(False)  # not pushing: nothing is checked
    answers = {"read": {"name": "ada", "auth": {"accessToken": {"role": "read"}}},
               "write": {"name": "ada", "auth": {"accessToken": {"role": "write"}}}}

    def whoami(self, token=None):
        if token not in answers:
            raise OSError("401 Client Error: Unauthorized\nInvalid credentials")
        return answers[token]

    monkeypatch.setattr(huggingface_hub.HfApi, "whoami", whoami)
    with pytest.raises(R3Error, match=r"token of ada is read-only: log in with `hf auth login`"):
        check_hub(True, "read")
    with pytest.raises(R3Error, match=r"did not accept the token \(401 Client Error: Unauthorized\)"):
        check_hub(True, "revoked")
    check_hub(True, "write")
    monkeypatch.setenv("HF_TOKEN", "write")
    check_hub(True)  # the token of `hf auth login` or HF_TOKEN
