"""The Countdown answer checker: extract the last `<answer>` and judge it exactly, without eval.

In RL the verifier is the whole reward, so it must be strict (a lenient one teaches the model to game it), exact, and
total: any string, of any size, gets a `Verdict` in bounded time and nothing here raises. The rules:

- the answer is the text of the last `<answer>...</answer>` in the completion (it may span lines); no tag: incorrect;
- it holds only decimal integer literals (no leading zeros; "0" itself is fine), binary `+ - * /`, parentheses and
  whitespace (anything `str.isspace` accepts), optionally followed by `= N` (or preceded by `N =`, the target on the
  left) where N must equal the target, and optionally ended by one full stop (a sentence's, not a decimal point).
  Anything else is incorrect: unary minus or plus, `**`, `//`, `%`, decimals, names, calls, non-ASCII digits, other
  symbols, a chain `a = b = c`;
- the multiset of literals equals the multiset of the numbers: each used exactly once, all of them used;
- it is evaluated with exact rationals; division by zero is incorrect; the value must equal the target.

How it stays fast (the benchmark asks for >= 150,000 verdicts per second in pure Python) and bounded:
- the tags are found with `str.rfind` (C speed, linear in the completion's size, no regex backtracking);
- an answer longer than `MAX_ANSWER_CHARS` is rejected before it is copied or tokenized, and parentheses nest at
  most `MAX_DEPTH` deep, so all work after the tag search is bounded by a constant;
- tokens come from `str.replace` + `str.split` (faster than a regex here); one loop parses (shunting-yard, no
  recursion) and evaluates as it reduces, in `r3.tasks.countdown_arith`'s exact arithmetic (Python ints while
  results stay whole, a `Fraction` only after an inexact quotient);
- each literal is struck off a copy of the numbers as it is read, so a wrong or repeated number stops the work at
  once, and only the given numbers are ever combined: intermediate values stay small;
- the precise reason of a rejection (`unsupported token '**'`, ...) is worked out only on the rejection path, and
  each rejection's `Verdict` is built once per reason (`_rejected`; a verdict is immutable, so it can be shared).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from r3.tasks.countdown_arith import Number
from r3.tasks.countdown_arith import divide as exact_quotient
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

# The first thing no valid answer contains, for the reason of a rejection: a decimal, `**`, `//`, a name, or any other
# character. The look-behind keeps the search linear (no retrying the decimal pattern inside a run of digits).
_BAD_TOKEN = re.compile(r"(?<![0-9])[0-9]*\.[0-9]*|\*\*|//|[A-Za-z_][A-Za-z0-9_]*|[^0-9+\-*/()=\s]")
_BAD_CHARACTER = re.compile(r"[^0-9+\-*/()=\s]")  # a quick scan that rules most of the above out
_LITERAL = re.compile(r"[0-9]+")
_WRONG_NUMBER = "wrong number"  # internal marker: a literal that is not (or no longer) among the numbers


def answer_span(completion: str) -> tuple[int, int] | None:
    """Where the text of the last complete `<answer>...</answer>` (innermost if tags nest) starts and ends, or None."""
    end = completion.rfind(CLOSE_TAG)
    if end < 0:
        return None
    start = completion.rfind(OPEN_TAG, 0, end)
    return None if start < 0 else (start + len(OPEN_TAG), end)


def extract_answer(completion: str) -> str | None:
    """The text of the last complete `<answer>...</answer>` (innermost if tags nest), or None without one."""
    span = answer_span(completion)
    return None if span is None else completion[span[0] : span[1]]


def judge_completion(completion: str, nums: Sequence[int], target: int) -> Verdict:
    """Verdict on a whole completion: the last `<answer>` tag's text judged by `judge_answer`."""
    if not isinstance(completion, str):
        return Verdict(False, f"completion is {type(completion).__name__}, not text")
    span = answer_span(completion)
    if span is None:
        return NO_TAG
    start, end = span
    if end - start > MAX_ANSWER_CHARS:  # checked before slicing: a huge answer is never copied
        return _too_long(end - start)
    return judge_answer(completion[start:end], nums, target)


def judge_answer(answer: str, nums: Sequence[int], target: int) -> Verdict:
    """Verdict on the text inside the tags, against the example's numbers and target."""
    if len(answer) > MAX_ANSWER_CHARS:
        return _too_long(len(answer))
    if not answer.isascii():
        answer = _ascii_whitespace(answer)
        if not answer.isascii():
            return _reject(answer, "non-ASCII character", nums)
    if "." in answer:  # a sentence's full stop after the equation ("44 + 19 + 35 = 98."), else a decimal
        body = answer.rstrip()
        if body[-1:] != "." or "." in body[:-1]:
            return _reject(answer, "a decimal point", nums)
        answer = body[:-1]
    expression, equals, stated_text = answer.partition("=")
    if equals and expression.strip().isdigit() and not stated_text.strip().isdigit():
        expression, stated_text = stated_text, expression  # the target on the left: "98 = 44 + 19 + 35"
    unused = list(nums)
    value = _evaluate(_tokenize(expression), unused)
    if type(value) is str:
        if value is _WRONG_NUMBER:
            return _numbers_verdict([int(digits) for digits in _LITERAL.findall(expression)], nums)
        return _reject(answer, value, nums)
    if unused:
        return _rejected(f"leaves {', '.join(map(str, unused))} unused")
    stated = _stated_result(stated_text) if equals else None
    if type(stated) is str:
        return _reject(answer, stated, nums)
    if value is _UNDEFINED:
        return DIVISION_BY_ZERO
    if value != target:
        return _rejected(f"evaluates to {value}, not {target}")
    if stated is not None and stated != target:
        return _rejected(f"states = {stated}, but the target is {target}")
    return CORRECT


def evaluate(expression: str) -> Fraction:
    """Exact value of an expression under the verifier's grammar, without a `= N` part and whatever its numbers.

    Raises ValueError with the verifier's reason for anything the grammar rejects, and ZeroDivisionError. Meant for
    tools and tests (the generator checks its solutions with it); `judge_answer` is the verifier.
    """
    if len(expression) > MAX_ANSWER_CHARS:
        raise ValueError(_too_long(len(expression)).reason)
    text = _ascii_whitespace(expression)
    value = _evaluate(_tokenize(text), None) if text.isascii() else "non-ASCII character"
    if type(value) is str:
        raise ValueError(_reject(text, value, ()).reason)
    if value is _UNDEFINED:
        raise ZeroDivisionError(DIVISION_BY_ZERO.reason)
    return Fraction(value)


def _ascii_whitespace(text: str) -> str:
    """`text` with non-ASCII whitespace (no-break space, em space, ...) turned into plain spaces."""
    return "".join(" " if char.isspace() else char for char in text) if not text.isascii() else text


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
Value = Number | _Undefined


def _evaluate(tokens: list[str], unused: list[int] | None) -> Value | str:
    """Parse and evaluate ASCII `tokens` in one pass, with no recursion and no operator stack.

    With two precedence levels, each parenthesis level needs only a running sum (`total`, and whether the current
    term is to be subtracted) and a running product (`term`, and whether the next operand multiplies or divides it);
    '(' pushes that state and ')' turns the level into an operand. Each literal is removed from `unused`; one that is
    not there stops everything (None: any literals allowed). Returns the value (`_UNDEFINED` after a division by
    zero), or a short reason the tokens are no valid expression ("" when there are none), refined by `_reject`.
    """
    stack: list[tuple] = []
    total: Value = 0
    subtract = False
    term: Value = 0
    divide = None  # what the next operand does to `term`: None: replaces it, False: multiplies, True: divides
    expect_operand = True
    for token in tokens:
        if expect_operand:
            if token == "(":
                if len(stack) == MAX_DEPTH:
                    return f"parentheses nested deeper than {MAX_DEPTH}"
                stack.append((total, subtract, term, divide))
                total, subtract, term, divide = 0, False, 0, None
                continue
            if not token.isdigit():
                return _unexpected(token, "a number or '('")
            if token[0] == "0" and len(token) > 1:
                return f"leading zero in '{_clip(token)}'"
            value = int(token)
            if unused is not None:
                try:
                    unused.remove(value)
                except ValueError:
                    return _WRONG_NUMBER
        elif token == ")":
            if not stack:
                return "unbalanced parentheses: unexpected ')'"
            value = total - term if subtract else total + term
            total, subtract, term, divide = stack.pop()
        else:
            if token == "+" or token == "-":
                total = total - term if subtract else total + term
                subtract = token == "-"
                divide = None
            elif token == "*" or token == "/":
                divide = token == "/"
            else:
                return _unexpected(token, "an operator")
            expect_operand = True
            continue
        # an operand (a literal or a closed group) joins the running product
        if divide is None:
            term = value
        elif not divide:
            term = term * value
        elif value == 0 or term is _UNDEFINED or value is _UNDEFINED:
            term = _UNDEFINED
        else:
            term = exact_quotient(term, value)
        expect_operand = False
    if expect_operand:
        return f"incomplete expression: ends with '{tokens[-1]}'" if tokens else ""
    if stack:
        return "unbalanced parentheses: missing ')'"
    return total - term if subtract else total + term


def _unexpected(token: str, wanted: str) -> str:
    if token in "+-*/()" and len(token) == 1:
        if wanted == "a number or '('" and token in "+-":
            return f"unary {'minus' if token == '-' else 'plus'} is not allowed"
        return f"unexpected '{token}' where {wanted} should be"
    if token.isdigit():
        return f"missing operator before '{_clip(token)}'"
    return f"unsupported token '{_clip(token)}'"


def _stated_result(text: str) -> int | str:
    """N of a trailing `= N` (given the text after '='), or the reason it is not one integer literal."""
    text = text.strip()
    if not text.isdigit():
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
    has_bad = _BAD_CHARACTER.search(answer) is not None or "**" in answer or "//" in answer
    bad = _BAD_TOKEN.search(answer) if has_bad else None
    if bad is not None:
        token = bad.group()
        if "." in token and token != ".":
            return _rejected(f"decimal '{_clip(token)}' is not allowed")
        return _rejected(f"unsupported token '{_clip(token)}'")
    return _rejected(reason)


def _literals(answer: str) -> list[int]:
    """The integer literals of an answer, up to a '=' (the stated result is not a use of a number)."""
    return [int(digits) for digits in _LITERAL.findall(answer.partition("=")[0])]


def _numbers_verdict(literals: list[int], nums: Sequence[int]) -> Verdict:
    """The first way `literals` use more than the multiset `nums` gives, as a verdict."""
    for value in literals:
        if value not in nums:
            return _rejected(f"uses {_clip(str(value))}, which is not one of the numbers")
    nums = list(nums)
    seen: dict[int, int] = {}
    for value in literals:
        seen[value] = seen.get(value, 0) + 1
        if seen[value] > nums.count(value):
            used, given = literals.count(value), nums.count(value)
            return _rejected(f"uses {value} {_times(used)} (given {_times(given)})")
    return _rejected("uses a number that is not given")  # not reached for a literal beyond the multiset


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _too_long(length: int) -> Verdict:
    return _rejected(f"answer too long ({length} characters; the limit is {MAX_ANSWER_CHARS})")


_REJECTIONS: dict[str, Verdict] = {}
MAX_CACHED_REJECTIONS = 4096


def _rejected(reason: str) -> Verdict:
    """The incorrect verdict with this reason, built once: RL repeats the same mistakes, and building a frozen
    dataclass costs more than judging a short answer. The cache is bounded (emptied when full)."""
    verdict = _REJECTIONS.get(reason)
    if verdict is None:
        if len(_REJECTIONS) >= MAX_CACHED_REJECTIONS:
            _REJECTIONS.clear()
        verdict = _REJECTIONS[reason] = Verdict(False, reason)
    return verdict


def _clip(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
