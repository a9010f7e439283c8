"""The Countdown answer checker: extract the last `<answer>` and judge it exactly, without eval.

In RL the verifier is the whole reward, so it must be strict (a lenient one teaches the model to game it), exact, and
total: any string, of any size, gets a `Verdict` in bounded time and nothing here raises. The rules:

- the answer is the text of the last `<answer>...</answer>` in the completion (it may span lines); no tag: incorrect;
- it holds only decimal integer literals (no leading zeros; "0" itself is fine), binary `+ - * /`, parentheses and
  whitespace (anything `str.isspace` accepts), optionally followed by `= N` where N must equal the target. Anything
  else is incorrect: unary minus or plus, `**`, `//`, `%`, decimals, names, calls, non-ASCII digits, other symbols;
- the multiset of literals equals the multiset of the numbers: each used exactly once, all of them used;
- it is evaluated with exact rationals; division by zero is incorrect; the value must equal the target.

How it stays fast (the benchmark asks for >= 150,000 verdicts per second in pure Python) and bounded:
- the tags are found with `str.rfind` (C speed, linear in the completion's size, no regex backtracking);
- an answer longer than `MAX_ANSWER_CHARS` is rejected before it is copied or tokenized, and parentheses nest at
  most `MAX_DEPTH` deep, so all work after the tag search is bounded by a constant;
- tokens come from `str.replace` + `str.split` (faster than a regex here); one loop parses (shunting-yard, no
  recursion) and evaluates as it reduces, with Python ints while results stay whole and a `Fraction` only for an
  inexact quotient;
- each literal is struck off a copy of the numbers as it is read, so a wrong or repeated number stops the work at
  once, and only the given numbers are ever combined: intermediate values stay small;
- the precise reason of a rejection (`unsupported token '**'`, ...) is worked out only on the rejection path.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from r3.types import Verdict

MAX_ANSWER_CHARS = 1000
"""Longest answer (text between the tags) that is parsed; a real Countdown equation is a few dozen characters."""
MAX_DEPTH = 64
"""Deepest parenthesis nesting accepted."""

OPEN_TAG, CLOSE_TAG = "<answer>", "</answer>"

CORRECT = Verdict(True, "correct")
NO_TAG = Verdict(False, "no <answer> tag")
EMPTY = Verdict(False, "empty answer")
DIVISION_BY_ZERO = Verdict(False, "division by zero")

_BINARY = {"+": 1, "-": 1, "*": 2, "/": 2}  # operator -> precedence
_PRECEDENCE = {"(": 0, **_BINARY}  # "(" ranks lowest, so reductions stop at it
# For explaining a rejection: invalid forms (decimals, `**`, `//`, names) are matched whole so that the reason can
# name them, and `\S` catches any other character, non-ASCII digits included.
_REASON_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+|\*\*|//|[A-Za-z_][A-Za-z0-9_]*|\S")
_LITERAL = re.compile(r"[0-9]+")
_WRONG_NUMBER = "wrong number"  # internal marker: a literal that is not (or no longer) among the numbers


def extract_answer(completion: str) -> str | None:
    """The text of the last complete `<answer>...</answer>` (innermost if tags nest), or None without one."""
    end = completion.rfind(CLOSE_TAG)
    if end < 0:
        return None
    start = completion.rfind(OPEN_TAG, 0, end)
    if start < 0:
        return None
    return completion[start + len(OPEN_TAG) : end]


def judge_completion(completion: str, nums: Sequence[int], target: int) -> Verdict:
    """Verdict on a whole completion: the last `<answer>` tag's text judged by `judge_answer`."""
    if not isinstance(completion, str):
        return Verdict(False, f"completion is {type(completion).__name__}, not text")
    end = completion.rfind(CLOSE_TAG)
    if end < 0:
        return NO_TAG
    start = completion.rfind(OPEN_TAG, 0, end)
    if start < 0:
        return NO_TAG
    start += len(OPEN_TAG)
    if end - start > MAX_ANSWER_CHARS:  # checked before slicing: a huge answer is never copied
        return _too_long(end - start)
    return judge_answer(completion[start:end], nums, target)


def judge_answer(answer: str, nums: Sequence[int], target: int) -> Verdict:
    """Verdict on the text inside the tags, against the example's numbers and target."""
    if len(answer) > MAX_ANSWER_CHARS:
        return _too_long(len(answer))
    expression, equals, stated_text = answer.partition("=")
    unused = list(nums)
    value = _evaluate(_tokenize(expression), unused)
    if type(value) is str:
        return _reject(answer, value, nums)
    if unused:
        return Verdict(False, f"leaves {', '.join(map(str, unused))} unused")
    stated = _stated_result(stated_text) if equals else None
    if type(stated) is str:
        return _reject(answer, stated, nums)
    if value is _UNDEFINED:
        return DIVISION_BY_ZERO
    if value != target:
        return Verdict(False, f"evaluates to {value}, not {target}")
    if stated is not None and stated != target:
        return Verdict(False, f"states = {stated}, but the target is {target}")
    return CORRECT


def evaluate(expression: str) -> Fraction:
    """Exact value of an expression under the verifier's grammar, without a `= N` part and whatever its numbers.

    Raises ValueError with the verifier's reason for anything the grammar rejects, and ZeroDivisionError. Meant for
    tools and tests (the generator checks its solutions with it); `judge_answer` is the verifier.
    """
    if len(expression) > MAX_ANSWER_CHARS:
        raise ValueError(_too_long(len(expression)).reason)
    value = _evaluate(_tokenize(expression), None)
    if type(value) is str:
        raise ValueError(_reject(expression, value, ()).reason)
    if value is _UNDEFINED:
        raise ZeroDivisionError(DIVISION_BY_ZERO.reason)
    return Fraction(value)


def _tokenize(text: str) -> list[str]:
    """Split around the operator characters. Anything else stays glued into a token that the parser rejects."""
    return (
        text.replace("(", " ( ").replace(")", " ) ").replace("+", " + ").replace("-", " - ")
        .replace("*", " * ").replace("/", " / ").split()
    )


class _Undefined:
    """The value of an expression after a division by zero: every operation on it gives itself."""

    __slots__ = ()

    def _absorb(self, other: object) -> _Undefined:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _absorb


_UNDEFINED = _Undefined()
Value = int | Fraction | _Undefined


def _evaluate(tokens: list[str], unused: list[int] | None) -> Value | str:
    """Parse and evaluate `tokens` in one shunting-yard pass, with no recursion.

    Each literal is removed from `unused` (which the caller then inspects for numbers left over); a literal that is
    not there stops everything (None: any literals allowed). Returns the value, `_UNDEFINED` after a division by
    zero, or a short reason the tokens are no valid expression ("" when there are none), refined by `_reject`.
    """
    values: list[Value] = []
    ops: list[str] = []
    expect_operand = True
    depth = 0
    for token in tokens:
        if expect_operand:
            if token == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    return f"parentheses nested deeper than {MAX_DEPTH}"
                ops.append(token)
                continue
            if not (token.isdigit() and token.isascii()):
                return _unexpected(token, "a number or '('")
            if token[0] == "0" and len(token) > 1:
                return f"leading zero in '{_clip(token)}'"
            value = int(token)
            if unused is not None:
                if value not in unused:
                    return _WRONG_NUMBER
                unused.remove(value)
            values.append(value)
            expect_operand = False
            continue
        precedence = _BINARY.get(token)
        if precedence is not None:
            while ops and _PRECEDENCE[ops[-1]] >= precedence:
                _apply(ops.pop(), values)
            ops.append(token)
            expect_operand = True
        elif token == ")":
            while ops:
                op = ops.pop()
                if op == "(":
                    break
                _apply(op, values)
            else:
                return "unbalanced parentheses: unexpected ')'"
            depth -= 1
        else:
            return _unexpected(token, "an operator")
    if expect_operand:
        if not tokens:
            return ""
        return "incomplete expression: ends with an operator" if values else "no number in the answer"
    while ops:
        op = ops.pop()
        if op == "(":
            return "unbalanced parentheses: missing ')'"
        _apply(op, values)
    return values[0]


def _apply(op: str, values: list[Value]) -> None:
    """Replace the top two values by `op` applied to them."""
    b = values.pop()
    a = values[-1]
    if op == "+":
        values[-1] = a + b
    elif op == "-":
        values[-1] = a - b
    elif op == "*":
        values[-1] = a * b
    elif b == 0:
        values[-1] = _UNDEFINED
    elif type(a) is int and type(b) is int:
        values[-1] = a // b if a % b == 0 else Fraction(a, b)
    else:
        values[-1] = a / b


def _unexpected(token: str, wanted: str) -> str:
    if token in _PRECEDENCE or token == ")":
        if wanted == "a number or '('" and token in "+-":
            return f"unary {'minus' if token == '-' else 'plus'} is not allowed"
        return f"unexpected '{token}' where {wanted} should be"
    if token.isdigit() and token.isascii():
        return f"missing operator before '{_clip(token)}'"
    return f"unsupported token '{_clip(token)}'"


def _stated_result(text: str) -> int | str:
    """N of a trailing `= N` (given the text after '='), or the reason it is not one integer literal."""
    text = text.strip()
    if not (text.isdigit() and text.isascii()):
        return "'=' must be followed by a single integer" if text else "nothing after '='"
    if text[0] == "0" and len(text) > 1:
        return f"leading zero in '{_clip(text)}'"
    return int(text)


def _reject(answer: str, reason: str, nums: Sequence[int]) -> Verdict:
    """The verdict for a rejected answer, with the most telling reason.

    The fast tokenizer splits `**` and `//` and leaves `4.5` or `abc` glued to what follows, so the parser's own
    reason can be vague ("unexpected '*'"); the first token that no valid answer contains names the problem better.
    """
    if not reason:
        return EMPTY
    if reason == _WRONG_NUMBER:
        return _numbers_verdict(_literals(answer), nums)
    for token in _REASON_TOKEN.findall(answer):
        first = token[0]
        if first in "0123456789.":
            if "." in token:
                return Verdict(False, f"decimal '{_clip(token)}' is not allowed")
        elif token not in _PRECEDENCE and token != ")" and token != "=":
            return Verdict(False, f"unsupported token '{_clip(token)}'")
    return Verdict(False, reason)


def _literals(answer: str) -> list[int]:
    """The integer literals of an answer, up to a '=' (the stated result is not a use of a number)."""
    return [int(digits) for digits in _LITERAL.findall(answer.partition("=")[0])]


def _numbers_verdict(literals: list[int], nums: Sequence[int]) -> Verdict:
    """The first way `literals` use more than the multiset `nums` gives, as a verdict."""
    used, given = Counter(literals), Counter(nums)
    for value in used:
        if value not in given:
            return Verdict(False, f"uses {_clip(str(value))}, which is not one of the numbers")
    for value, count in used.items():
        if count > given[value]:
            return Verdict(False, f"uses {value} {_times(count)} (given {_times(given[value])})")
    return Verdict(False, "uses a number that is not given")  # not reached for a literal beyond the multiset


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _too_long(length: int) -> Verdict:
    return Verdict(False, f"answer too long ({length} characters; the limit is {MAX_ANSWER_CHARS})")


def _clip(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
