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
from r3.tasks.math_forms import (
    _top_level_split,
    as_interval,
    equation_value,
    gold_is_interval,
    handed_back,
    split_or,
    tidy,
)
from r3.tasks.options import FreeOption, positive_seconds
from r3.types import Verdict

logger = logging.getLogger(__name__)

PROMPT = "Solve the following problem. Reason step by step, then put your final answer in \\boxed{}.\n\n{problem}"

# An exponent that itself holds a power or a factorial, an exponent or factorial operand of 5+ digits.
_RUNAWAY = re.compile(r"\^\s*\{[^{}]*[\^!]|\^\s*\{?\s*\d{5}|\d{5,}\s*!|\\(?:Gamma|binom)\s*[({]?\s*\d{5}|\^\s*\{\s*\{[^{}]*\}\s*\^")
_SIMPLE = re.compile(r"(-?)(?:(\d{1,30}(?:\.\d{1,30})?)|\\[dt]?frac\s*(?:\{(\d{1,30})\}|(\d))\s*(?:\{(\d{1,30})\}|(\d)))")
# text inside the box that holds a number or a hedge: math-verify drops \text{} as a unit, so "5 \text{ (or 6)}" would
# otherwise be read as 5
_TEXT = re.compile(r"\\(?:text|mbox|mathrm|textbf|textit|operatorname)\s*\{([^{}]*)\}")
_HEDGE = re.compile(r"\d|\b(?:or|maybe|perhaps|not|either|possibly|otherwise|unless)\b", re.IGNORECASE)
_DECIMAL = re.compile(r"[-+]?\d*\.\d+")
MAX_NESTING = 10  # deepest (), {}, [] nesting sent to sympy (after redundant groups are flattened)
_NOT_A_NUMBER = re.compile(r"[+-]?(?:nan|inf|infinity|\d+(?:\.\d*)?[eE][+-]?\d+)", re.IGNORECASE)


def _tolerance(text: str) -> bool:
    """A relative tolerance: a finite number from 0 (exact, the default) to below 1."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and 0 <= value < 1


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
        "tolerance": FreeOption("0", _tolerance, "relative tolerance >= 0 for decimal answers"),
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
        return judge(str(example["answer"]), found.text, float(self.task_options.get("timeout", "5")), found.where,
                     example.get("problem"), float(self.task_options.get("tolerance", "0")))


def judge(gold: str, answer: str, timeout: float, where: str = "\\boxed{}", problem: str | None = None,
          tolerance: float = 0.0) -> Verdict:
    """The verdict on one final answer (the content of the last box) against the gold; VerifierTimeout or an
    exception when math-verify could not decide (the caller, `Task.verify`, makes those error verdicts).
    `problem` lets r3 refuse the question handed back; `tolerance` (relative) lets a decimal answer be inexact."""
    shown = shorten(answer, 40)
    if _RUNAWAY.search(answer):
        return Verdict(False, f"answer {shown} is too large to evaluate (a tower of powers or a huge factorial)")
    answer = flatten_groups(answer)
    if nesting(answer) > MAX_NESTING:
        return Verdict(False, f"answer {shown} is nested deeper than {MAX_NESTING} levels")
    refused = handed_back(answer, gold, problem)
    if refused:
        return Verdict(False, f"answer {shown}: {refused}")
    reading, refused = read_answer(answer, gold)
    if reading is None:
        return Verdict(False, f"answer {shown}: {refused}")
    for text in _TEXT.finditer(reading):
        if _HEDGE.search(text.group(1)) and text.group(0) not in gold:
            return Verdict(False, f"answer {shown} hedges inside {text.group(0)[:40]}")
    exact_gold, exact_answer = _simple_number(tidy(gold)), _simple_number(reading)
    if exact_gold is not None and exact_answer is not None:
        if exact_gold == exact_answer:
            return Verdict(True, f"answer {shown} matches")
        if tolerance and abs(exact_answer - exact_gold) <= tolerance * max(1, abs(exact_gold)):
            return Verdict(True, f"answer {shown} matches within the tolerance {tolerance:g}")
        return Verdict(False, f"answer {shown} does not match {shorten(gold, 40)}")
    if _DECIMAL.fullmatch(reading):
        return _judge_decimal(gold, reading, shown, timeout, tolerance)
    parsed, correct = _math_verify(gold, reading, timeout)
    if not parsed:
        return Verdict(False, f"{where} answer {shown} cannot be parsed by math-verify")
    if correct:
        return Verdict(True, f"answer {shown} matches")
    return Verdict(False, f"answer {shown} does not match {shorten(gold, 40)}")


def read_answer(answer: str, gold: str) -> tuple[str | None, str]:
    """The answer in the gold's notation (`r3.tasks.math_forms`), or (None, why it is refused)."""
    answer = tidy(answer)
    interval = gold_is_interval(gold)
    gold_equation = len(_top_level_equals(gold)) > 1
    parts = split_or(answer)
    readings = []
    for part in parts:
        as_set = as_interval(part) if interval else None
        if as_set is None and not gold_equation:
            as_set, why = equation_value(part)
            if as_set is None:
                return None, why
        readings.append(as_set if as_set is not None else part)
    if len(readings) == 1:
        return readings[0], ""
    joiner = " \\cup " if interval and all(reading[:1] in "([" for reading in readings) else ", "
    return joiner.join(readings), ""


def _judge_decimal(gold: str, decimal: str, shown: str, timeout: float, tolerance: float) -> Verdict:
    """A decimal answer counts only when it is exactly the gold's value (0.25 for 1/4, never 3.141593 for pi),
    or within the `tolerance` option."""
    exact, value = _exact_decimal(gold, decimal, timeout)
    if exact:
        return Verdict(True, f"answer {shown} matches")
    if tolerance and value is not None and abs(float(decimal) - value) <= tolerance * max(1.0, abs(value)):
        return Verdict(True, f"answer {shown} matches within the tolerance {tolerance:g}")
    if value is not None:
        return Verdict(False, f"answer {shown} is not exactly {shorten(gold, 40)} (a decimal must be exact)")
    return Verdict(False, f"answer {shown} does not match {shorten(gold, 40)}")


def flatten_groups(text: str) -> str:
    """`((9))` -> `(9)`, `{{9}}` -> `{9}`: a group that only wraps another group of its kind is dropped. One linear
    pass; sympy's time grows steeply with such nesting (a few dozen levels took seconds)."""
    if "((" not in text and "{{" not in text:
        return text
    closing, stack = {}, []
    for index, char in enumerate(text):
        if char in "({":
            stack.append(index)
        elif char in ")}" and stack:
            closing[stack.pop()] = index
    drop = {index for opening, close in closing.items() if closing.get(opening + 1) == close - 1
            and text[opening] == text[opening + 1] and text[opening - 1:opening] != "\\"
            for index in (opening, close)}
    return "".join(char for index, char in enumerate(text) if index not in drop)


def nesting(text: str) -> int:
    """Deepest nesting of (), {} and [] in `text`."""
    depth = deepest = 0
    for char in text:
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")}]":
            depth -= 1
    return deepest


def _top_level_equals(text: str) -> list[str]:
    return _top_level_split(text, "=")


def _simple_number(text: str) -> Fraction | None:
    """An exact value for a plain integer, decimal or `\\frac{a}{b}` (the common case, decided without sympy)."""
    match = _SIMPLE.fullmatch(text.strip().strip("$").strip())
    if match is None:
        return None
    sign, plain, numerator, digit, denominator, digit_below = match.groups()
    numerator, denominator = numerator or digit, denominator or digit_below
    if plain is not None:
        value = Fraction(plain)
    elif numerator is None or int(denominator) == 0:
        return None
    else:
        value = Fraction(int(numerator), int(denominator))
    return -value if sign else value


@lru_cache(maxsize=65_536)
def _math_verify(gold: str, answer: str, timeout: float) -> tuple[bool, bool]:
    """(answer parsed, answer equals gold) from a worker process; cached, since RL samples the same answers often."""
    result = _ask({"op": "verify", "gold": gold, "pred": answer}, timeout)
    if result.get("gold_unparsed"):
        raise RuntimeError(f"math-verify cannot parse the gold answer {shorten(gold, 40)}")
    return bool(result["parsed"]), bool(result["correct"])


@lru_cache(maxsize=65_536)
def _exact_decimal(gold: str, decimal: str, timeout: float) -> tuple[bool, float | None]:
    """(the decimal is exactly the gold's value, the gold's value as a float or None when it is not a number)."""
    result = _ask({"op": "decimal", "gold": gold, "value": decimal}, timeout)
    return bool(result["exact"]), result.get("value")


def _ask(request: dict, timeout: float) -> dict:
    """The math worker's answer to `request`; a time-out or a worker error raised as the verifier's own errors."""
    try:
        result = math_worker.ask(request, timeout)
    except math_worker.WorkerTimeout:
        raise VerifierTimeout(f"math-verify took over {timeout:g} s") from None
    if "error" in result:
        raise RuntimeError(f"math-verify failed: {result['error']}")
    return result


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
