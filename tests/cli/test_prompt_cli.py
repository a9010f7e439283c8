"""`r3 prompt` prints what a real chat model is given at each step of one example."""

from __future__ import annotations

from pathlib import Path

import pytest

from r3.cli import main

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real" / "tokenizers"


@pytest.mark.skipif(not (REAL / "qwen3-0.6b").is_dir(), reason="../shared/real/tokenizers is not beside the checkout")
def test_prompt_shows_the_three_prompts_with_the_task_text(capsys):
    assert main(["prompt", "--model", str(REAL / "qwen3-0.6b"), "--task", "countdown", "--data", "sample:countdown",
                 "--index", "1", "--reflection-instruction", "Reflect, please."]) == 0
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line.startswith("===== ")]
    assert [s.split()[1] for s in sections] == ["attempt", "reflection", "retry"]
    assert out.count("Reflect, please.") == 2  # the reflection prompt and the retry prompt
    assert "(the first attempt)" in out and "(the reflection)" in out


def test_prompt_index_out_of_range_is_one_line(tiny_model_dir, capsys):
    assert main(["prompt", "--model", str(tiny_model_dir), "--task", "countdown", "--data", "sample:countdown",
                 "--limit", "3", "--index", "5"]) == 2
    assert "no index 5" in capsys.readouterr().err
