"""GSM8K: grade-school maths word problems with a numeric final answer, compared exactly as rationals.

An example has the hub fields of openai/gsm8k: `question` and `answer`, a worked solution ending in `#### N`. The
gold is the number after the last `####` (thousands commas removed); a row whose answer column is just the number
is accepted too. The model's answer is the content of its last `\\boxed{}` or, with the option
`answer_format=boxed_or_final`, a final line "The answer is N" / "#### N" (for models that do not box). Numbers
compare as exact fractions, never floats: `1,000` = `1000` = `1000.0`, `0.5` = `1/2` = `\\frac{1}{2}`.
No sympy is involved, so a verdict takes microseconds and cannot hang.

    r3 verify --task gsm8k completions.jsonl
    r3 eval --task gsm8k --task-option answer_format=boxed_or_final ...
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Rational
from typing import Any, ClassVar

from r3.errors import DataError, shorten
from r3.tasks.answers import find_answer, parse_number
from r3.tasks.base import Task, require
from r3.types import Verdict

PROMPT = ("Solve the following math word problem. Reason step by step, then give the final answer as a single "
          "number in \\boxed{}.\n\n{question}")
RETRY_INSTRUCTION = "Now try again, using your reflection. Give the final answer as a single number in \\boxed{}."


class GSM8KTask(Task):
    """Grade-school maths word problems (openai/gsm8k); numeric answer in \\boxed{}, compared exactly."""

    name = "gsm8k"
    fields = ("question", "answer")
    default_source = "openai/gsm8k"
    default_config = "main"  # openai/gsm8k has two: main and socratic (answers with sub-questions)
    default_split = "test"
    prompt_template = PROMPT
    retry_instruction = RETRY_INSTRUCTION
    options: ClassVar = {"answer_format": ("boxed", "boxed_or_final")}

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Check `question` and derive the gold number from `answer` (DataError naming the field otherwise)."""
        question = require(row, "question")
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"expected a non-empty string, got {shorten(question)}", field="question")
        example = dict(row)
        example["gold"] = str(gold_number(require(row, "answer")))
        return example

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        gold = Fraction(example["gold"]) if "gold" in example else gold_number(example["answer"])
        found = find_answer(completion, self.task_options.get("answer_format", "boxed"))
        if found.text is None:
            return Verdict(False, found.reason)
        value = parse_number(found.text, example.get("question"))
        shown = shorten(found.text, 40)
        if value is None:
            return Verdict(False, f"answer {shown} ({found.where}) is not a number")
        if value == gold:
            return Verdict(True, f"answer {shown} matches")
        return Verdict(False, f"answer {shown} does not match {gold}")


def gold_number(answer: object) -> Fraction:
    """The exact gold number of a GSM8K answer (`... #### 1,000` -> 1000; a bare number is taken as is)."""
    if isinstance(answer, Rational) and not isinstance(answer, bool):
        return Fraction(answer)
    if not isinstance(answer, str):
        raise DataError(f"expected a solution ending in '#### N' or a number, got {shorten(answer)}", field="answer")
    text = answer.rsplit("####", 1)[-1].strip() if "####" in answer else answer.strip()
    value = parse_number(text) if len(text) <= 100 else None
    if value is None:
        where = "after '####'" if "####" in answer else "(no '#### N' line)"
        raise DataError(f"no number {where}: {shorten(text, 60)}", field="answer")
    return value
