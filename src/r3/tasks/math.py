"""Competition mathematics with a final answer in \\boxed{}, checked by Hugging Face's math-verify.

An example has `problem` and `answer` (the gold final answer, LaTeX without the box), as in
HuggingFaceH4/MATH-500. The gold answer and the completion are both parsed with `math_verify.parse` and compared
with `math_verify.verify` (symbolic and numeric equivalence).

math-verify bounds its own time with SIGALRM, which works only in the main thread. In the main thread r3 keeps those
timeouts; in any other thread it turns them off (so math-verify does not raise) and instead keeps the input small:
only the last `TAIL_CHARS` characters of a completion are read, and an answer holding a tower of powers or a
factorial of a large number (what makes sympy run for ever) is refused before sympy sees it. That screen is a
heuristic: for hard guarantees, verify in the main thread.

    r3 verify --task math completions.jsonl
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from r3.errors import DataError, shorten
from r3.tasks.base import Task, require
from r3.types import Message, Verdict

logger = logging.getLogger(__name__)

TAIL_CHARS = 4_000
TIMEOUT_SECONDS = 3

PROMPT = "Solve the following problem. Reason step by step, then put your final answer in \\boxed{{}}.\n\n{problem}"

# An exponent that itself holds a power or a factorial, an exponent or factorial operand of 5+ digits.
_RUNAWAY = re.compile(r"\^\s*\{[^{}]*[\^!]|\^\s*\{?\s*\d{5}|\d{5,}\s*!|\\(?:Gamma|binom)\s*[({]?\s*\d{5}")


class MathTask(Task):
    """Competition maths, final answer in \\boxed{} (checked with math-verify)."""

    name = "math"
    fields = ("problem", "answer")
    default_source = "HuggingFaceH4/MATH-500"
    default_split = "test"
    prompt_template = PROMPT  # placeholder {problem}; a subclass may change the wording

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        example = dict(row)
        for field in self.fields:
            value = require(row, field)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and field == "answer":
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"expected a non-empty string, got {shorten(value)}", field=field)
            example[field] = value
        return example

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        return [{"role": "user", "content": self.prompt_template.format(problem=example["problem"])}]

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        try:
            return _verify(example["answer"], completion)
        except Exception as error:  # math-verify and sympy can raise almost anything; a verdict must come back
            return Verdict(False, f"could not check the answer ({type(error).__name__})")


def _verify(answer: str, completion: str) -> Verdict:
    import math_verify

    if not isinstance(completion, str):
        return Verdict(False, "completion is not a string")
    in_main = threading.current_thread() is threading.main_thread()
    timeout = TIMEOUT_SECONDS if in_main else None
    tail = completion[-TAIL_CHARS:]
    if not in_main and _RUNAWAY.search(tail):
        return Verdict(False, "answer too large to evaluate safely outside the main thread")
    gold = math_verify.parse(f"${answer}$", parsing_timeout=timeout)
    if not gold:
        return Verdict(False, f"gold answer {shorten(answer, 40)} could not be parsed")
    predicted = math_verify.parse(tail, parsing_timeout=timeout)
    if not predicted:
        return Verdict(False, "no final answer found")
    shown = shorten(str(predicted[-1]), 40)
    if math_verify.verify(gold, predicted, timeout_seconds=timeout):
        return Verdict(True, f"answer {shown} matches")
    return Verdict(False, f"answer {shown} does not match {shorten(answer, 40)}")
