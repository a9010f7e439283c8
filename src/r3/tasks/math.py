"""Competition mathematics with a final answer in \\boxed{}, checked by Hugging Face's math-verify.

An example has `problem` and `answer` (the gold final answer, LaTeX without the box), as in
HuggingFaceH4/MATH-500 (map its `unique_id` to `id` with `columns: {id: unique_id}`).

The rules, strict because a lenient reward is learned and exploited:
- the model's answer is the content of the *last* `\\boxed{}` / `\\fbox{}` of the whole completion, however long
  (found by brace matching, `r3.tasks.answers`); only that content goes to math-verify. An empty, unclosed or
  unparseable last box is incorrect, with a reason that says so; there is no falling back to an earlier box or to
  a bare number in the text. Option `answer_format=boxed_or_final` also accepts a final "The answer is X" line;
- plain numbers and simple fractions on both sides compare exactly in this process (no sympy, microseconds);
  anything else is parsed and compared by math-verify in a worker process (`r3.tasks.math_worker`) that is killed
  after `timeout` seconds (option, default 5): the bound holds from any thread and any process, and a time-out is an
  incorrect verdict marked as a verifier error. Towers of powers and huge factorials are refused before sympy;
- a gold answer that is not a finite number or that math-verify cannot parse is a DataError when the data loads.

    r3 verify --task math completions.jsonl
    r3 eval --task math --task-option answer_format=boxed_or_final --task-option timeout=10 ...
"""

from __future__ import annotations

import logging
import math
import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from numbers import Integral, Real
from typing import Any, ClassVar

from r3.errors import DataError, R3Error, shorten
from r3.tasks import math_worker
from r3.tasks.answers import find_answer
from r3.tasks.base import Task, VerifierTimeout, require
from r3.tasks.options import FreeOption, positive_seconds
from r3.types import Verdict

logger = logging.getLogger(__name__)

PROMPT = "Solve the following problem. Reason step by step, then put your final answer in \\boxed{}.\n\n{problem}"

# An exponent that itself holds a power or a factorial, an exponent or factorial operand of 5+ digits.
_RUNAWAY = re.compile(r"\^\s*\{[^{}]*[\^!]|\^\s*\{?\s*\d{5}|\d{5,}\s*!|\\(?:Gamma|binom)\s*[({]?\s*\d{5}|\^\s*\{\s*\{[^{}]*\}\s*\^")
_SIMPLE = re.compile(r"(-?)(?:(\d{1,30}(?:\.\d{1,30})?)|\\[dt]?frac\{(\d{1,30})\}\{(\d{1,30})\})")
# text inside the box that holds a number or a hedge: math-verify drops \text{} as a unit, so "5 \text{ (or 6)}" would
# otherwise be read as 5
_TEXT = re.compile(r"\\(?:text|mbox|mathrm|textbf|textit|operatorname)\s*\{([^{}]*)\}")
_HEDGE = re.compile(r"\d|\b(?:or|maybe|perhaps|not|either|possibly|otherwise|unless)\b", re.IGNORECASE)
_NOT_A_NUMBER = re.compile(r"[+-]?(?:nan|inf|infinity|\d+(?:\.\d*)?[eE][+-]?\d+)", re.IGNORECASE)


class MathTask(Task):
    """Competition maths, final answer in \\boxed{} (checked with math-verify, bounded in time)."""

    name = "math"
    fields = ("problem", "answer")
    default_source = "HuggingFaceH4/MATH-500"
    default_split = "test"
    prompt_template = PROMPT
    options: ClassVar = {
        "answer_format": ("boxed", "boxed_or_final"),
        "timeout": FreeOption("5", positive_seconds, "seconds > 0"),
    }

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        example = dict(row)
        problem = require(row, "problem")
        if not isinstance(problem, str) or not problem.strip():
            raise DataError(f"expected a non-empty string, got {shorten(problem)}", field="problem")
        example["answer"] = self._gold(require(row, "answer"))
        return example

    def _gold(self, value: object) -> str:
        """The gold answer as LaTeX text, or a DataError naming the field: numbers must be finite, text parseable."""
        if isinstance(value, Integral) and not isinstance(value, bool):
            return str(int(value))
        if isinstance(value, Real) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise DataError(f"the gold answer is not a finite number: {value!r}", field="answer")
            return format(Decimal(repr(float(value))).normalize(), "f")
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"expected a non-empty string, got {shorten(value)}", field="answer")
        text = value.strip()
        if _NOT_A_NUMBER.fullmatch(text):
            raise DataError(f"the gold answer {shorten(text, 40)} is not a finite number in LaTeX (NaN and infinity "
                            "are not answers; write 10^{400}, not 1e400)", field="answer")
        if _simple_number(text) is None and not _gold_parses(text, float(self.task_options.get("timeout", "5"))):
            raise DataError(f"math-verify cannot parse the gold answer {shorten(text, 60)}", field="answer")
        return text

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        found = find_answer(completion, self.task_options.get("answer_format", "boxed"))
        if found.text is None:
            return Verdict(False, found.reason)
        return judge(str(example["answer"]), found.text, float(self.task_options.get("timeout", "5")), found.where)


def judge(gold: str, answer: str, timeout: float, where: str = "\\boxed{}") -> Verdict:
    """The verdict on one final answer (the content of the last box) against the gold; VerifierTimeout or an
    exception when math-verify could not decide (the caller, `Task.verify`, makes those error verdicts)."""
    shown = shorten(answer, 40)
    if _RUNAWAY.search(answer):
        return Verdict(False, f"answer {shown} is too large to evaluate (a tower of powers or a huge factorial)")
    for text in _TEXT.finditer(answer):
        if _HEDGE.search(text.group(1)) and text.group(0) not in gold:
            return Verdict(False, f"answer {shown} hedges inside {text.group(0)[:40]}")
    exact_gold, exact_answer = _simple_number(gold), _simple_number(answer)
    if exact_gold is not None and exact_answer is not None:
        if exact_gold == exact_answer:
            return Verdict(True, f"answer {shown} matches")
        return Verdict(False, f"answer {shown} does not match {shorten(gold, 40)}")
    parsed, correct = _math_verify(gold, answer, timeout)
    if not parsed:
        return Verdict(False, f"{where} answer {shown} cannot be parsed by math-verify")
    if correct:
        return Verdict(True, f"answer {shown} matches")
    return Verdict(False, f"answer {shown} does not match {shorten(gold, 40)}")


def _simple_number(text: str) -> Fraction | None:
    """An exact value for a plain integer, decimal or `\\frac{a}{b}` (the common case, decided without sympy)."""
    match = _SIMPLE.fullmatch(text.strip().strip("$").strip())
    if match is None:
        return None
    sign, plain, numerator, denominator = match.groups()
    if plain is not None:
        value = Fraction(plain)
    elif int(denominator) == 0:
        return None
    else:
        value = Fraction(int(numerator), int(denominator))
    return -value if sign else value


@lru_cache(maxsize=65_536)
def _math_verify(gold: str, answer: str, timeout: float) -> tuple[bool, bool]:
    """(answer parsed, answer equals gold) from a worker process; cached, since RL samples the same answers often."""
    try:
        result = math_worker.ask({"op": "verify", "gold": gold, "pred": answer}, timeout)
    except math_worker.WorkerTimeout:
        raise VerifierTimeout(f"math-verify took over {timeout:g} s") from None
    if "error" in result:
        raise RuntimeError(f"math-verify failed: {result['error']}")
    if result.get("gold_unparsed"):
        raise RuntimeError(f"math-verify cannot parse the gold answer {shorten(gold, 40)}")
    return bool(result["parsed"]), bool(result["correct"])


@lru_cache(maxsize=65_536)
def _gold_parses(text: str, timeout: float) -> bool:
    try:
        result = math_worker.ask({"op": "parse", "text": text}, timeout)
    except math_worker.WorkerTimeout:
        raise DataError(f"the gold answer {shorten(text, 40)} takes over {timeout:g} s to parse",
                        field="answer") from None
    except math_worker.WorkerFailed as error:  # not the data's fault: the environment cannot run math-verify
        raise R3Error(f"cannot check math answers: {error} (run `python -m r3.tasks.math_worker` to see why)") from None
    return "error" not in result and bool(result["parsed"])
