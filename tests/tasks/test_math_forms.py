"""How a boxed maths answer is read before comparison (r3.tasks.math_forms), on literal strings."""

from __future__ import annotations

import pytest

from r3.tasks.math import flatten_groups, nesting, read_answer
from r3.tasks.math_forms import as_interval, equation_value, handed_back, tidy


@pytest.mark.parametrize("text, tidied", [
    ("\\text{5}", "5"), ("10\\,080", "10080"), ("10{,}080", "10080"), ("10,\\!080", "10080"), ("10,080", "10080"),
    ("1,-2", "1,-2"), ("90°", "90"), ("90^{\\circ}", "90"), ("90^\\circ", "90"), ("90 \\text{ degrees}", "90"),
    ("1.\\overline{3}", "\\frac{4}{3}"), ("0.1\\overline{6}", "\\frac{1}{6}"), ("-0.\\overline{36}", "-\\frac{4}{11}"),
    ("x^2 + 1", "x^2 + 1"),
])
def test_tidy(text, tidied):
    assert tidy(text) == tidied


@pytest.mark.parametrize("text, interval", [
    ("x > 5", "(5, \\infty)"), ("x \\geq 5", "[5, \\infty)"), ("5 < x", "(5, \\infty)"), ("x < 2", "(-\\infty, 2)"),
    ("-2 \\le x \\le 7", "[-2, 7]"), ("3 < \\lambda \\le 4", "(3, 4]"), ("x = 5", None), ("2 < 3", None),
    ("x > 5 > y", None),
])
def test_as_interval(text, interval):
    assert as_interval(text) == interval


@pytest.mark.parametrize("text, value", [
    ("h = 5", "5"), ("f(2) = 5", "5"), ("(x, y) = (5, 8)", "(5, 8)"), ("a_1 = 3", "3"), ("5", "5"),
    ("6 = 5", None), ("2x = 10", None), ("x = 5 = 6", None), ("x \\le 5", "x \\le 5"),
])
def test_equation_value(text, value):
    assert equation_value(text)[0] == value


@pytest.mark.parametrize("answer, gold, problem, refused", [
    ("\\sqrt{242}", "11\\sqrt2", "Simplify $\\sqrt{242}$.", True),
    ("11\\sqrt{2}", "11\\sqrt2", "Simplify $\\sqrt{242}$.", False),
    ("\\sqrt{53}", "\\sqrt{53}", "What is $\\sqrt{53}$ in simplest radical form?", False),  # the gold is the copy
    ("5", "5", "Is it $5$ or $6$?", False),                                             # a value, no operation
    ("ab+5b+2a+10", "(a+5)(b+2)", "Factor the expression $ab+5b+2a+10$.", True),
    ("2+10", "12", "Compute $ab+5b+2a+10$ when ...", False),                            # not a whole term
    ("\\sum_{k=1}^{3} k", "6", "p", True),                                              # unevaluated
    ("\\int_0^1 x\\,dx", "\\int_0^1 x\\,dx", "p", False),
])
def test_the_question_handed_back(answer, gold, problem, refused):
    assert (handed_back(answer, gold, problem) is not None) is refused


@pytest.mark.parametrize("answer, gold, reading", [
    ("1 \\text{ or } -2", "1,-2", "1, -2"),
    ("x = 1 + \\sqrt{19} \\text{ or } x = 1 - \\sqrt{19}", "1 \\pm \\sqrt{19}", "1 + \\sqrt{19}, 1 - \\sqrt{19}"),
    ("x < 2 \\text{ or } x > 3", "(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("y = 2x + 3", "y = 2x + 3", "y = 2x + 3"),
    ("6 = 5", "5", None),
])
def test_read_answer(answer, gold, reading):
    assert read_answer(answer, gold)[0] == reading


def test_redundant_groups_are_flattened_and_deep_nesting_measured():
    assert flatten_groups("((((9))))") == "(9)" and flatten_groups("{{{9}}}") == "{9}"
    assert flatten_groups("\\frac{1}{2}") == "\\frac{1}{2}" and flatten_groups("((1+2)(3))") == "((1+2)(3))"
    assert nesting("(" * 11 + "1" + ")" * 11) == 11 and nesting("\\frac{\\sqrt{2}}{2}") == 2
