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
