"""The Countdown verifier on literal strings, one group per rule, plus property tests that it is total and exact."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r3.tasks.countdown_expr import (
    MAX_ANSWER_CHARS,
    MAX_DEPTH,
    evaluate,
    extract_answer,
    judge_answer,
    judge_completion,
)
from r3.types import Verdict

NUMS, TARGET = [44, 19, 35], 98  # 44 + 19 + 35 = 98


def judge(answer: str, nums=NUMS, target=TARGET) -> Verdict:
    return judge_completion(f"<think>reasoning</think>\n<answer>{answer}</answer>", nums, target)


def assert_rejected(verdict: Verdict, reason_part: str) -> None:
    assert verdict.correct is False
    assert reason_part in verdict.reason, verdict.reason


# --- the last <answer> tag ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion",
    [
        "44 + 19 + 35",
        "<answer>44 + 19 + 35",
        "44 + 19 + 35</answer>",
        "</answer>44 + 19 + 35<answer>",
        "<ANSWER>44 + 19 + 35</ANSWER>",
        "<answer >44 + 19 + 35</answer>",
        "",
    ],
)
def test_no_complete_tag_is_incorrect(completion):
    assert judge_completion(completion, NUMS, TARGET) == Verdict(False, "no <answer> tag")


def test_the_last_tag_wins():
    assert judge_completion("<answer>44 + 19 + 35</answer> <answer>44 - 19 + 35</answer>", NUMS, TARGET).correct is False
    assert judge_completion("<answer>44 - 19 + 35</answer> <answer>44 + 19 + 35</answer>", NUMS, TARGET).correct
    # text after the last tag is not part of the answer; an unclosed tag after it is not an answer
    assert judge_completion("<answer>44 + 19 + 35</answer> so 98 it is.", NUMS, TARGET).correct
    assert judge_completion("<answer>44 + 19 + 35</answer> <answer>oops", NUMS, TARGET).correct


def test_nested_open_tags_take_the_innermost():
    assert extract_answer("<answer> draft <answer>44 + 19 + 35</answer>") == "44 + 19 + 35"
    assert judge_completion("<answer> draft <answer>44 + 19 + 35</answer>", NUMS, TARGET).correct


def test_answer_may_span_lines_and_use_any_whitespace():
    assert judge_completion("<answer>\n  44\n+ 19\n\t+35\n</answer>", NUMS, TARGET).correct
    assert judge("44+19+35").correct
    assert judge("  44 \r\n+\f19\v+ 35  ").correct
    assert judge("44\u00a0+\u200319+35").correct  # str.isspace() whitespace counts as whitespace


def test_many_tags_last_wins():
    completion = "<answer>1 + 2</answer>" * 50_000 + "<answer>44 + 19 + 35</answer>"
    assert judge_completion(completion, NUMS, TARGET).correct


# --- the grammar: literals, binary + - * /, parentheses, optional = N ---------------------------------------------


@pytest.mark.parametrize(
    "answer, nums, target",
    [
        ("44 + 19 + 35", NUMS, 98),
        ("(44 + 19) + 35", NUMS, 98),
        ("((44) + ((19)) + 35)", NUMS, 98),
        ("35 - 19 + 44", NUMS, 60),  # left-associative: (35 - 19) + 44
        ("44 - 35 - 19", NUMS, -10),  # (44 - 35) - 19, not 44 - (35 - 19)
        ("44 * 19 - 35", NUMS, 801),  # * binds tighter than -
        ("44 - 19 * 35", NUMS, -621),
        ("(44 - 19) * 35", NUMS, 875),
        ("75 / 3 / 5", [75, 3, 5], 5),  # (75 / 3) / 5
        ("6 / (1 - 3 / 4)", [6, 1, 3, 4], 24),  # exact fractions on the way
        ("8 / (3 - 8 / 3)", [8, 3, 8, 3], 24),
        ("0 + 5 * 2", [0, 5, 2], 10),  # "0" itself is a literal
        ("7", [7], 7),
    ],
)
def test_valid_expressions(answer, nums, target):
    assert judge(answer, nums, target) == Verdict(True, "correct")


@pytest.mark.parametrize("answer", ["44 + 19 + 35 = 98", "44+19+35=98", "(44 + 19 + 35) =\n 98 "])
def test_stated_result_equal_to_target(answer):
    assert judge(answer).correct


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("44 + 19 + 35 = 97", "states = 97, but the target is 98"),
        ("44 + 19 + 35 =", "nothing after '='"),
        ("44 + 19 + 35 = 98 = 98", "'=' must be followed by a single integer"),
        ("44 + 19 + 35 = 98.0", "decimal '98.0'"),
        ("44 + 19 + 35 = 098", "leading zero in '098'"),
        ("44 + 19 + 35 = 60 + 38", "'=' must be followed by a single integer"),
        ("44 + 19 + 35 = x", "unsupported token 'x'"),
        ("= 98", "empty answer"),
        ("44 + 19 = 63", "leaves 35 unused"),
    ],
)
def test_stated_result_rules(answer, reason):
    assert_rejected(judge(answer), reason)


def test_stated_result_does_not_rescue_a_wrong_value():
    assert_rejected(judge("44 + 19 - 35 = 98"), "evaluates to 28, not 98")


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("44**35**19", "unsupported token '**'"),
        ("44 ** 2 + 19 + 35", "unsupported token '**'"),
        ("44 // 19 + 35", "unsupported token '//'"),
        ("44 % 19 + 35", "unsupported token '%'"),
        ("44 ^ 19 + 35", "unsupported token '^'"),
        ("4.5 + 19 + 35", "decimal '4.5' is not allowed"),
        ("44. + 19 + 35", "decimal '44.' is not allowed"),
        (".5 + 19 + 35", "decimal '.5' is not allowed"),
        ("044 + 19 + 35", "leading zero in '044'"),
        ("00 + 44 + 19 + 35", "leading zero in '00'"),
        ("-3 + 44", "unary minus is not allowed"),
        ("44 * -19 + 35", "unary minus is not allowed"),
        ("(-44) + 19 + 35", "unary minus is not allowed"),
        ("+44 + 19 + 35", "unary plus is not allowed"),
        ("44 - - 19 + 35", "unary minus is not allowed"),
        ("x + 19 + 35", "unsupported token 'x'"),
        ("abs(44) + 19 + 35", "unsupported token 'abs'"),
        ("__import__('os')", "unsupported token '__import__'"),
        ("1e5", "unsupported token 'e5'"),
        ("0x2C + 19 + 35", "unsupported token 'x2C'"),
        ("44_0 + 19", "unsupported token '_0'"),
        ("44 × 19", "unsupported token '×'"),
        ("44 ÷ 19", "unsupported token '÷'"),
        ("44 − 19", "unsupported token '−'"),  # U+2212 minus sign
        ("٤٤ + 19 + 35", "unsupported token '٤'"),  # Arabic-Indic digits, which int() would accept
        ("４４ + 19 + 35", "unsupported token '４'"),  # full-width digits
        ("44² + 19", "unsupported token '²'"),
        ("[44 + 19] + 35", "unsupported token '['"),
        ("44, 19, 35", "unsupported token ','"),
        ("44 + 19 + 35;", "unsupported token ';'"),
        ("The answer is 44 + 19 + 35", "unsupported token 'The'"),
    ],
)
def test_forbidden_tokens(answer, reason):
    assert_rejected(judge(answer), reason)


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "empty answer"),
        ("   \n ", "empty answer"),
        ("44 19 35", "missing operator before '19'"),
        ("44 (19 + 35)", "unexpected '(' where an operator should be"),
        ("(44 + 19) (35)", "unexpected '(' where an operator should be"),
        ("44 + 19 + 35)", "unbalanced parentheses: unexpected ')'"),
        ("(44 + 19 + 35", "unbalanced parentheses: missing ')'"),
        ("()", "unexpected ')' where a number or '(' should be"),
        ("(", "incomplete expression: ends with '('"),
        ("44 + 19 +", "incomplete expression: ends with '+'"),
        ("* 44 + 19 + 35", "unexpected '*' where a number or '(' should be"),
        ("44 + * 19 + 35", "unexpected '*' where a number or '(' should be"),
    ],
)
def test_malformed_structure(answer, reason):
    assert_rejected(judge(answer), reason)


# --- the numbers: each exactly once, all of them ------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, nums, reason",
    [
        ("4419 + 35", NUMS, "uses 4419, which is not one of the numbers"),  # concatenated digits
        ("44 + 1935", NUMS, "uses 1935, which is not one of the numbers"),
        ("4 + 4 + 19 + 35", NUMS, "uses 4, which is not one of the numbers"),  # digits split apart
        ("44 + 44 + 19", NUMS, "uses 44 twice (given once)"),
        ("44 + 44 + 44 + 19 + 35", NUMS, "uses 44 3 times (given once)"),
        ("19 + 19 + 19 + 44", [19, 19, 44], "uses 19 3 times (given twice)"),
        ("44 + 19", NUMS, "leaves 35 unused"),
        ("44", NUMS, "leaves 19, 35 unused"),
        ("19 + 44", [19, 19, 44], "leaves 19 unused"),
        ("44 + 19 + 35 + 1", NUMS, "uses 1, which is not one of the numbers"),
        ("98", NUMS, "uses 98, which is not one of the numbers"),
    ],
)
def test_numbers_multiset(answer, nums, reason):
    assert_rejected(judge(answer, nums, 98), reason)


def test_repeated_numbers_given_twice_are_used_twice():
    assert judge("19 + 19 + 60", [19, 60, 19], 98).correct


# --- exact arithmetic -----------------------------------------------------------------------------------------------


def test_wrong_value_names_the_exact_value():
    assert_rejected(judge("44 - 19 + 35"), "evaluates to 60, not 98")
    assert_rejected(judge("44 / 19 * 35"), "evaluates to 1540/19, not 98")
    assert_rejected(judge("19 - 44 - 35"), "evaluates to -60, not 98")


def test_no_float_tolerance():
    # 1000001 / 1000000 is within 1e-5 of 1: a float scorer with a tolerance accepts it; exact arithmetic does not
    assert_rejected(judge("1000001 / 1000000 * 1", [1000000, 1000001, 1], 1), "evaluates to 1000001/1000000, not 1")
    # 1 / 49 * 49 is 0.9999999999999999 in floats but exactly 1
    assert judge("1 / 49 * 49", [1, 49, 49], 1).correct


@pytest.mark.parametrize(
    "answer, nums",
    [
        ("44 / (19 - 19) + 35", [44, 19, 19, 35]),
        ("5 / 0 + 3", [5, 0, 3]),
        ("(5 / 0) * 0 + 3", [5, 0, 0, 3]),  # multiplying by zero does not make it defined
        ("1 / (2 / 0)", [1, 2, 0]),  # nor does dividing by it
        ("0 / 0 + 3", [0, 0, 3]),
    ],
)
def test_division_by_zero(answer, nums):
    assert judge(answer, nums, 3) == Verdict(False, "division by zero")


def test_evaluate_is_exact():
    assert evaluate("1 / 3 + 1 / 6") == Fraction(1, 2)
    assert evaluate("(75 - 3) / 4 * 2") == 36
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / (3 - 3)")
    with pytest.raises(ValueError, match=r"unsupported token '\*\*'"):
        evaluate("2 ** 3")


# --- bounded for any input ------------------------------------------------------------------------------------------


def test_huge_completion_without_tag():
    assert judge_completion("x" * 5_000_000, NUMS, TARGET) == Verdict(False, "no <answer> tag")
    assert judge_completion("</answer>" * 500_000, NUMS, TARGET) == Verdict(False, "no <answer> tag")


def test_huge_text_before_a_small_answer():
    completion = "I think " * 500_000 + "<answer>44 + 19 + 35</answer>"
    assert judge_completion(completion, NUMS, TARGET).correct


@pytest.mark.parametrize(
    "answer",
    ["1+" * 1_000_000 + "1", "(" * 2_000_000, "9" * 3_000_000, "44**35**19" * 200_000],
)
def test_huge_answer_is_rejected_by_length(answer):
    verdict = judge(answer)
    assert_rejected(verdict, f"answer too long ({len(answer)} characters; the limit is {MAX_ANSWER_CHARS})")
    assert judge_answer(answer, NUMS, TARGET) == verdict


def test_length_limit_boundary():
    padded = "44 + 19 + 35".ljust(MAX_ANSWER_CHARS)
    assert judge(padded).correct
    assert_rejected(judge(padded + " "), "answer too long")


def test_nesting_depth_limit():
    at_limit = "(" * MAX_DEPTH + "44" + ")" * MAX_DEPTH + " + 19 + 35"
    assert judge(at_limit).correct
    over = "(" * (MAX_DEPTH + 1) + "44" + ")" * (MAX_DEPTH + 1) + " + 19 + 35"
    assert_rejected(judge(over), f"parentheses nested deeper than {MAX_DEPTH}")


def test_long_literals_do_not_break_int_conversion():
    # Python refuses int() of strings over 4300 digits; the length cap keeps literals far below that
    assert_rejected(judge("9" * 999), "which is not one of the numbers")
    big = 10**400
    assert judge(f"{big} - {big - 98}", [big, big - 98], 98).correct


@pytest.mark.parametrize("completion", [None, b"<answer>44 + 19 + 35</answer>", 42, ["<answer>1</answer>"]])
def test_non_text_completion(completion):
    verdict = judge_completion(completion, NUMS, TARGET)
    assert verdict.correct is False and "not text" in verdict.reason


# --- properties -------------------------------------------------------------------------------------------------------

ALPHABET = ["1", "0", "44", "19", "35", "04", "4.5", ".", "+", "-", "*", "/", "**", "//", "%", "(", ")", "=", " ",
            "\n", "\t", "x", "e", "<answer>", "</answer>", "\u00a0", "٤", "²", "−", "_", ",", "98"]
NUMBER_LISTS = st.lists(st.integers(min_value=0, max_value=120), min_size=2, max_size=5)
QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_total(completion: str, nums: list[int], target: int) -> None:
    verdict = judge_completion(completion, nums, target)
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.correct, bool)
    assert isinstance(verdict.reason, str) and verdict.reason


@QUICK
@given(text=st.text(max_size=300), nums=NUMBER_LISTS, target=st.integers(-1000, 1000))
def test_any_text_gets_a_verdict(text, nums, target):
    assert_total(text, nums, target)
    assert_total(f"<answer>{text}</answer>", nums, target)


@QUICK
@given(tokens=st.lists(st.sampled_from(ALPHABET), max_size=40), nums=NUMBER_LISTS, target=st.integers(-1000, 1000))
def test_any_token_soup_gets_a_verdict(tokens, nums, target):
    soup = "".join(tokens)
    assert_total(f"<answer>{soup}</answer>", nums, target)
    assert_total(soup, nums, target)


def expressions(leaves: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[str, Fraction | None, list[int]]]:
    """Random expression trees as (text, exact value or None after a division by zero, literals)."""

    def combine(children):
        return st.tuples(children, st.sampled_from("+-*/"), children, st.booleans()).map(_join)

    leaf = leaves.map(lambda n: (str(n), Fraction(n), [n]))
    return st.recursive(leaf, combine, max_leaves=6)


def _join(parts):
    (text_a, a, lits_a), op, (text_b, b, lits_b), spaced = parts
    if a is None or b is None or (op == "/" and b == 0):
        value = None
    else:
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
    gap = " " if spaced else ""
    return f"({text_a}{gap}{op}{gap}{text_b})", value, lits_a + lits_b


@QUICK
@given(expressions(st.integers(min_value=0, max_value=100)))
def test_agrees_with_exact_arithmetic_on_random_expressions(expression):
    text, value, literals = expression
    nums = list(reversed(literals))  # the numbers in another order
    if value is None:
        assert judge(text, nums, 0) == Verdict(False, "division by zero")
    elif value.denominator == 1:
        assert judge(text, nums, int(value)).correct
        assert_rejected(judge(text, nums, int(value) + 1), "evaluates to")
    else:
        assert_rejected(judge(text, nums, int(value)), f"evaluates to {value}, not")
