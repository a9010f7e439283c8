"""The demo's control arm: the same GRPO recipe and budget, with the reflection left out.

    python -m r3.demo.control --config configs/demo_cpu.yaml --data runs/demo/mine --output_dir runs/demo/control

Reflection-only training rewards the reflection for the retry it leads to. This control trains the retry itself,
with no reflection to carry anything: each mined failure becomes the prompt (laid out by `r3.conversation`)

    [*task prompt, assistant: failed attempt, user: reflection instruction, assistant: "" (empty), user: retry]

TRL's completions are retries, rewarded 1.0 when the verifier accepts them, and every retry token gets gradient.
The reflection turn is kept, empty, rather than dropped: a model that has only ever retried after reflecting answers
[attempt, "Try again ."] with a reflection, never an answer, and the control would get no reward at all (seen with
the demo model); with the empty turn it answers, so the control measures what training the answer alone achieves.
Same failures, model, learning rate, group size, batch and number of steps as the main arm (the same recipe file and
overrides), so the two differ only in what is trained. The model is saved where `r3 eval --model` loads it.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from r3.errors import R3Error
from r3.tasks.base import Task

logger = logging.getLogger(__name__)


class RetryCorrect:
    """Reward 1.0 for a retry the task's verifier accepts (TRL reward function; needs a `__name__`)."""

    __name__ = "retry_success"

    def __init__(self, task: Task):
        self.task = task
        self.last_samples: list = []  # r3's console shows reflection -> retry pairs; the control has none

    def __call__(self, prompts: list, completions: list, *, r3_example: list[str], **_: Any) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if self.task.verify(json.loads(example), text).correct else 0.0
                for example, text in zip(r3_example, texts)]


def train_control(config: Any, training: Any):
    """Train and save the control model with r3's own trainer builder; returns its directory."""
    from r3.training.trainer import run_training

    return run_training(config, training, control_reward=RetryCorrect)


def main(argv: list[str] | None = None) -> int:
    from r3.training.config import load_train_config

    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config, training = load_train_config(None, argv)
        output_dir = train_control(config, training)
    except R3Error as error:
        print(f"r3 demo control: error: {error}", file=sys.stderr)
        return 2
    print(f"saved the control model to {output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
