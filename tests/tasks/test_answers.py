"""Finding the final answer: the last box by brace matching, the final line, exact numbers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from r3.tasks.answers import MAX_ANSWER_CHARS, final_line, find_answer, last_boxed, parse_number


@pytest.mark.parametrize("text, content, reason", [
    ("\\boxed{5}", "5", "boxed"),
    ("a \\boxed{1} b \\boxed{\\frac{1}{2}} c", "\\frac{1}{2}", "boxed"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}", "boxed"),                    # escaped braces do not count
    ("\\boxed {7}", "7", "boxed"),
    ("\\fbox{3} then \\boxed{4}", "4", "boxed"),
    ("\\boxed{4} then \\fbox{3}", "3", "boxed"),
    ("\\boxed{\\boxed{9}}", "9", "boxed"),
    ("no box", None, "no \\boxed{} answer"),
    ("\\boxed{}", None, "last \\boxed{} is empty"),
    ("\\boxed{5", None, "last \\boxed{ is not closed"),
    ("\\boxed5", None, "last \\boxed has no {...} argument"),
    ("\\boxed{" + "1" * (MAX_ANSWER_CHARS + 1) + "}", None, f"last \\boxed{{}} holds over {MAX_ANSWER_CHARS} characters"),
])
def test_last_boxed(text, content, reason):
    found = last_boxed(text)
    assert (found.text, found.reason) == (content, reason)


def test_last_boxed_reads_the_whole_text_in_linear_time():
    found = last_boxed("x" * 1_000_000 + "\\boxed{42}" + "}" * 10)
    assert found.text == "42"
    assert last_boxed("\\boxed{" + "{" * 100_000).text is None


@pytest.mark.parametrize("text, answer", [
    ("work\nThe answer is 42.", "42"), ("work\nthe final answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
    ("work\n#### 1,000", "1,000"), ("work\n**Final answer:** 7", "7"), ("work\nFinal answer: x+1", "x+1"),
    ("The answer is \\boxed{9}.", "9"), ("The answer is 42.\n\n  ", "42"),
    ("The answer is 42.\nDone.", None), ("work\nThe answer is", None), ("", None),
])
def test_final_line(text, answer):
    assert final_line(text).text == answer


def test_find_answer_formats():
    text = "\\boxed{3}\nThe answer is 4."
    assert find_answer(text, "boxed").text == "3" and find_answer(text, "boxed_or_final").text == "4"
    assert find_answer("\\boxed{3}\nthanks", "boxed_or_final").text == "3"
    assert find_answer("\\boxed{}\nthanks", "boxed_or_final").reason == "last \\boxed{} is empty"
    assert find_answer(None, "boxed").reason == "completion is not a string"


@pytest.mark.parametrize("text, value", [
    ("42", 42), ("-3", -3), ("+3", 3), ("1,000", 1000), ("1,000,000.5", Fraction(2000001, 2)), ("0.5", Fraction(1, 2)),
    (".5", Fraction(1, 2)), ("18.", 18), ("\\frac{3}{4}", Fraction(3, 4)), ("-\\dfrac{3}{4}", Fraction(-3, 4)),
    ("3/4", Fraction(3, 4)), ("\\$18.50", Fraction(37, 2)), ("25\\%", 25), ("18 dollars", 18),
    ("18 \\text{ dollars}", 18), ("5 cm", 5),
    ("1,00", None), ("1e5", 100_000), ("18 or 19", None), ("18 and 19", None), ("18, 19", None), ("x", None),
    ("3/0", None), ("\\frac{1}{0}", None), ("two", None), ("18 maybe", None), ("18 dollars or 19", None),
])
def test_parse_number(text, value):
    assert parse_number(text) == value
