"""The demo's task: r3's Countdown task and verifier, with a short prompt and short instructions.

The demo model is a ~1M-parameter model trained from scratch on a word-level vocabulary, so its prompt and
instructions are a few words of that vocabulary. Everything else, including the strict verifier, is r3's own
`CountdownTask`. Named wherever r3 takes a task as:

    r3 eval --model src/r3/demo/model_files --task r3.demo.task:DemoCountdownTask --data runs/demo/data/test.jsonl --out DIR
"""

from __future__ import annotations

from typing import Any

from r3.tasks.countdown import CountdownTask
from r3.types import Message

TASK_NAME = "r3.demo.task:DemoCountdownTask"


class DemoCountdownTask(CountdownTask):
    """Countdown with the demo model's wording: "Make 23 with 4 5 3 ." -> "<answer> ( 4 * 5 ) + 3 </answer>"."""

    name = "demo_countdown"
    default_source = None
    reflection_instruction = "Wrong . Reflect ."
    retry_instruction = "Try again ."

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        numbers = " ".join(str(value) for value in example["nums"])
        return [{"role": "user", "content": f"Make {example['target']} with {numbers} ."}]
