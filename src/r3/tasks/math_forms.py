"""How a boxed maths answer is read before it is compared: the forms a grader accepts, the forms a grader refuses.

math-verify (the comparison r3 builds on) is generous in ways a policy learns to exploit and strict in ways that lose
right answers. These rules, applied to the content of the last box before any comparison, are where r3 departs from
it (docs/tasks.md lists each with its motivating example):

Read as the gold's notation (right answers math-verify refuses):
- a number in a text font (`\\text{5}`), LaTeX thousands spacing (`10\\,080`, `10{,}080`, `10,\\!080`), a degree sign
  (`90°`, `90^{\\circ}`, `90 \\text{ degrees}`), a repeating decimal (`1.\\overline{3}`, `0.1\\dot{6}`) made exact;
- solutions joined by "or" (`1 \\text{ or } -2`, `x = 1 + \\sqrt{19} \\text{ or } x = 1 - \\sqrt{19}`) become the set
  `1, -2`, which must equal the gold's set (so a hedge `9 \\text{ or } 10` stays wrong);
- an inequality in one variable (`x > 5`, `-2 \\le x \\le 7`, `x < 2 \\text{ or } x > 3`) becomes its interval, when
  the gold is an interval (it holds `\\infty`, `\\cup`, `\\in` or a square bracket).
Refused (hacks math-verify rewards):
- an equation is an answer only as `variable = value` (`h = 5`, `f(2) = 5`, `(x, y) = (5, 8)`), never `6 = 5`, nor
  a chain `x = 5 = 6`,
  unless the gold itself is an equation;
- the question handed back: an answer that is, after normalising, an expression copied from the problem (with an
  operation in it: `\\sqrt{242}` for "Simplify $\\sqrt{242}$") where the gold is not, or one that still holds an
  unevaluated `\\sum`, `\\prod`, `\\int` or `\\lim` that the gold does not.
Everything here is a linear scan of a string of at most 1,000 characters.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

_NUMBER_IN_TEXT = re.compile(r"\\(?:text|textrm|textbf|mathrm|mathbf|mbox)\s*\{\s*([-+]?\d[\d,.]*)\s*\}")
_DIGIT_GROUP = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\[,!;: ]|~)\s*(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree|\\text\{\s*degrees?\s*\}|\\mbox\{\s*degrees?\s*\})\s*$")
_REPEATING = re.compile(r"([-+]?)(\d*)\.(\d*)\\(?:overline|dot)\s*\{?\s*(\d+)\s*\}?")
_OR = re.compile(r"\s*(?:\\quad\s*)?\\(?:text|mbox|textrm)\s*\{\s*or\s*\}\s*(?:\\quad\s*)?|\s+or\s+")
_VARIABLE = r"(?:[A-Za-z]|\\(?:alpha|beta|gamma|theta|lambda|mu|phi|psi|omega|rho|sigma|tau|varphi|vartheta))"
_NAME = _VARIABLE + r"(?:_\{?\w+\}?)?'*"
# x, a_1, f(2), f'(x), (x, y): what may stand left of `=` in an answer
_EQUATION_SIDE = re.compile(rf"{_NAME}(?:\([^()=]*\))?|\(\s*{_NAME}(?:\s*,\s*{_NAME})+\s*\)")
_RELATION = re.compile(r"\\(?:leqslant|geqslant|leq|geq|le|ge|lt|gt)(?![A-Za-z])|<=|>=|[<>≤≥]")
_LESS = {"<": "<", "\\lt": "<", "\\le": "<=", "\\leq": "<=", "\\leqslant": "<=", "<=": "<=", "≤": "<=",
         ">": ">", "\\gt": ">", "\\ge": ">=", "\\geq": ">=", "\\geqslant": ">=", ">=": ">=", "≥": ">="}
_UNEVALUATED = re.compile(r"\\(?:sum|prod|int|iint|oint|lim)(?![A-Za-z])")
_OPERATION = re.compile(r"[-+*/^!]|\\(?:frac|dfrac|tfrac|sqrt|sum|prod|int|cdot|times|div|binom|log|ln|sin|cos|tan|"
                        r"cot|sec|csc|arc\w+|lim|left)(?![A-Za-z])")
_LAYOUT = re.compile(r"\\(?:left|right|displaystyle|[,!;: ]|quad|qquad)(?![A-Za-z])|\s+")
_MATH_DELIMITER = re.compile(r"\$+|\\[\[\]()]")


def tidy(text: str) -> str:
    """Presentation that does not change the value, taken away: text-font numbers, digit-group spacing, a trailing
    degree sign, repeating decimals (made exact fractions)."""
    text = _NUMBER_IN_TEXT.sub(r"\1", text.strip())
    text = _DIGIT_GROUP.sub("", text)
    if _PLAIN_THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    text = _DEGREES.sub("", text)
    return _REPEATING.sub(_repeating_as_fraction, text) if "\\overline" in text or "\\dot" in text else text


def _repeating_as_fraction(match: re.Match) -> str:
    sign, whole, fixed, repeat = match.groups()
    value = Fraction(int(whole or 0)) + Fraction(int(fixed or 0), 10 ** len(fixed))
    value += Fraction(int(repeat), (10 ** len(repeat) - 1) * 10 ** len(fixed))
    return f"{'-' if sign == '-' else ''}\\frac{{{value.numerator}}}{{{value.denominator}}}"


def gold_is_interval(gold: str) -> bool:
    return any(mark in gold for mark in ("\\infty", "\\cup", "\\in ", "[", "]"))


def split_or(answer: str) -> list[str]:
    """The parts of an answer joined by "or" (one part when there is no "or")."""
    return [part.strip() for part in _OR.split(answer)] if "or" in answer else [answer]


def as_interval(part: str) -> str | None:
    """`x > 5` -> `(5, \\infty)`, `-2 \\le x \\le 7` -> `[-2, 7]`; None for anything that is not such an inequality."""
    pieces = _RELATION.split(part)
    relations = [_LESS[match.group(0)] for match in _RELATION.finditer(part)]
    pieces = [piece.strip() for piece in pieces]
    if any(not piece for piece in pieces):
        return None
    if len(pieces) == 2 and _is_variable(pieces[0]) != _is_variable(pieces[1]):
        relation, value = relations[0], pieces[1]
        if _is_variable(pieces[1]):  # 5 < x reads as x > 5
            relation, value = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[relation], pieces[0]
        if relation.startswith(">"):
            return f"{'[' if relation == '>=' else '('}{value}, \\infty)"
        return f"(-\\infty, {value}{']' if relation == '<=' else ')'}"
    if len(pieces) == 3 and _is_variable(pieces[1]) and relations[0][0] == relations[1][0] == "<":
        return (f"{'[' if relations[0] == '<=' else '('}{pieces[0]}, {pieces[2]}"
                f"{']' if relations[1] == '<=' else ')'}")
    return None


def _is_variable(text: str) -> bool:
    return re.fullmatch(_VARIABLE, text) is not None


def equation_value(answer: str) -> tuple[str | None, str]:
    """(the value of a `variable = value` answer, or of a plain answer; None, why not) for answers with `=`."""
    sides = _top_level_split(answer, "=")
    if len(sides) == 1:
        return answer, ""
    if len(sides) > 2:
        return None, "a chain of equalities is not one answer"
    left, right = sides[0].strip(), sides[1].strip()
    if not _EQUATION_SIDE.fullmatch(left) or not right:
        return None, f"an equation is an answer only as variable = value, not {left[:30]} = ..."
    return right, ""


def _top_level_split(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char == separator and depth == 0 and text[index - 1:index] not in ("<", ">", "\\", "!"):
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def normalised(text: str) -> str:
    """Text with layout that cannot change the meaning removed (spaces, `\\left`, `\\,`, `\\dfrac`); math
    delimiters (`$`, `\\[`) become `|`, so that an expression stays apart from the words around it."""
    text = _MATH_DELIMITER.sub("|", text)
    return _LAYOUT.sub("", text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))


@lru_cache(maxsize=4096)
def _normalised_problem(problem: str) -> str:
    return normalised(problem)


def handed_back(answer: str, gold: str, problem: str | None) -> str | None:
    """Why the answer is the question handed back (None when it is not): copied from the problem, or unevaluated."""
    if _UNEVALUATED.search(answer) and not _UNEVALUATED.search(gold):
        return "the answer still holds an unevaluated sum, product, integral or limit"
    if not problem:
        return None
    mine, theirs = normalised(answer), normalised(gold)
    if mine == theirs or not _OPERATION.search(mine.lstrip("-+")):
        return None
    text = _normalised_problem(problem)
    if theirs and theirs in text:
        return None
    start = text.find(mine)
    while start >= 0:
        before, after = text[start - 1:start], text[start + len(mine):start + len(mine) + 1]
        if not ((before.isalnum() and mine[0].isalnum()) or (after.isalnum() and mine[-1].isalnum())):
            return "the answer is an expression copied from the problem"
        start = text.find(mine, start + 1)
    return None
