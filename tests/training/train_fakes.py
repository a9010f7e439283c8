"""Stand-ins for the training tests: a task whose verifier a random tiny model passes about half the time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from r3.tasks.base import Task, require
from r3.types import Message, Verdict


class ParityTask(Task):
    """"Say a word": correct when the answer has an even number of characters. Pure, total and cheap, so the
    rewards of a random model's retries vary within a group and GRPO has something to learn from."""

    name = "parity"
    fields = ("word",)

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        example = dict(row)
        example["word"] = str(require(row, "word"))
        return example

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        return [{"role": "user", "content": f"Say the word {example['word']}."}]

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        even = len(completion) % 2 == 0
        return Verdict(even, "even length" if even else f"odd length {len(completion)}")


TASK_SPEC = "train_fakes:ParityTask"
WORDS = ["apple", "river", "stone", "cloud", "bread", "light", "green", "house"]


def write_failures(path: Path, task: str = "parity", count: int = 8) -> Path:
    """A failures.jsonl in the `r3 mine` schema (docs: SCHEMAS.md) for ParityTask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            word = WORDS[i % len(WORDS)]
            row = {
                "word": word, "task": task, "problem_id": str(i),
                "prompt_messages": [{"role": "user", "content": f"Say the word {word}."}],
                "failed_attempts": [{"text": f"{word}s!", "reason": "odd length", "num_tokens": 3}],
                "mining": {"samples": 2, "failures": 1, "first_failure_at": 2},
            }
            handle.write(json.dumps(row) + "\n")
    return path


def write_config(path: Path, model_dir: Path, data: Path | str, output_dir: Path, **extra: Any) -> Path:
    """A tiny-model CPU config for ParityTask: 2 prompts x 4 reflections per step, short generations."""
    config = {
        "task": TASK_SPEC, "model": str(model_dir), "data": str(data), "output_dir": str(output_dir),
        "num_generations": 4, "per_device_train_batch_size": 8, "reflection_max_new_tokens": 8,
        "attempt_max_new_tokens": 8, "max_steps": 2, "learning_rate": 1e-2,
        "save_strategy": "no", "report_to": "none", "seed": 0, "use_cpu": True, "logging_steps": 1,
        "dataloader_num_workers": 0, "disable_tqdm": True,
    }
    config.update(extra)
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in config.items()) + "\n", encoding="utf-8")
    return path


class AppleTask(ParityTask):
    """Only the word "apple" is ever answered correctly: in online mode its group is solved at the first attempt
    (no reflection, no gradient) and every other group goes on to reflect and retry."""

    name = "apple"

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        solved = example["word"] == "apple"
        return Verdict(solved, "apple is always right" if solved else "only apple is right")


def write_words(path: Path, words: list[str]) -> Path:
    """Plain task data for online mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"word": w}) + "\n" for w in words), encoding="utf-8")
    return path
