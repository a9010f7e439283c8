"""Countdown: combine the given numbers with + - * / into an equation that equals the target.

An example has `nums` (a list of integers, 3 or 4 in the public Jiayi-Pan/Countdown-Tasks-3to4 set) and `target`
(an integer). The model answers with an equation inside `<answer> </answer>` tags; `r3.tasks.countdown_expr` judges
it strictly (each number exactly once, exact rational arithmetic, no eval). `r3 data countdown` makes new puzzles.

    r3 verify --task countdown completions.jsonl

The prompt text lives in class attributes (`prompt_template`, `system_prompt`), so a variant with other wording is
a subclass that overrides them (or `prompt`), named as `package.module:ClassName` wherever r3 takes a task name.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

from r3.errors import DataError, shorten
from r3.tasks.base import DEFAULT_REFLECTION_INSTRUCTION, Task, require
from r3.tasks.countdown_expr import judge_completion
from r3.types import Verdict

PROMPT_TEMPLATE = (
    "Using the numbers {nums}, create an equation that equals {target}. You can use basic arithmetic operations "
    "(+, -, *, /) and each number must be used exactly once. Show your work in <think> </think> tags. And return "
    "the final equation in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>."
)
RETRY_INSTRUCTION = (
    "Now try again, using your reflection. Return the final equation in <answer> </answer> tags."
)


class CountdownTask(Task):
    """Make the target from the given numbers with + - * / (each number exactly once; exact arithmetic)."""

    name = "countdown"
    fields = ("nums", "target")
    default_source = "Jiayi-Pan/Countdown-Tasks-3to4"
    default_split = "train"
    reflection_instruction = DEFAULT_REFLECTION_INSTRUCTION  # the paper's Countdown instruction
    retry_instruction = RETRY_INSTRUCTION

    prompt_template: ClassVar[str] = PROMPT_TEMPLATE
    """User message of the first attempt; `{nums}` becomes e.g. "[44, 19, 35]" and `{target}` the target."""
    system_prompt: ClassVar[str | None] = None
    """Optional system message placed before the user message."""
    min_numbers: ClassVar[int] = 2
    """Fewest numbers an example may have (the public set has 3 or 4; more are accepted)."""

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Check `nums` (a list of at least `min_numbers` non-negative integers) and `target` (an integer).

        Booleans are not integers here, and neither are floats, even whole ones: a row holding them is a data bug.
        Negative numbers are refused because an answer cannot write them (there is no unary minus).
        """
        nums = require(row, "nums")
        if not isinstance(nums, (list, tuple)):
            raise DataError(f"expected a list of integers, got {shorten(nums)}", field="nums")
        if len(nums) < self.min_numbers:
            raise DataError(f"expected at least {self.min_numbers} numbers, got {shorten(nums)}", field="nums")
        for value in nums:
            if not _is_int(value):
                raise DataError(f"expected integers, got {shorten(value)} in {shorten(nums)}", field="nums")
            if value < 0:
                raise DataError(f"numbers must not be negative, got {value} in {shorten(nums)}", field="nums")
        target = require(row, "target")
        if not _is_int(target):
            raise DataError(f"expected an integer, got {shorten(target)}", field="target")
        example = dict(row)
        example["nums"] = [int(value) for value in nums]
        example["target"] = int(target)
        return example

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        """Judge the last `<answer>...</answer>` of `completion` (see `r3.tasks.countdown_expr`); `Task.verify` turns
        anything it raises (a bug) into an error verdict."""
        return judge_completion(completion, example["nums"], example["target"])


def _is_int(value: object) -> bool:
    """True for int and numpy integers, False for bool (which Python counts as an int)."""
    return isinstance(value, Integral) and not isinstance(value, bool)
