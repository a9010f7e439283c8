"""Countdown's one arithmetic (r3.tasks.countdown_arith): exact, int while whole, the same for verifier and generator."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r3.tasks.countdown_arith import OPERATORS, apply, divide
from r3.tasks.countdown_expr import evaluate
from r3.tasks.countdown_generator import Puzzle, solve


def test_divide_is_exact_and_whole_quotients_are_ints():
    assert divide(8, 2) == 4 and type(divide(8, 2)) is int
    assert divide(7, 2) == Fraction(7, 2)
    assert divide(Fraction(7, 2), Fraction(1, 2)) == 7 and type(divide(Fraction(7, 2), Fraction(1, 2))) is int
    assert divide(-9, 6) == Fraction(-3, 2)
    for left in (3, Fraction(1, 3)):
        with pytest.raises(ZeroDivisionError):
            divide(left, 0)


def test_apply_refuses_other_operators():
    with pytest.raises(ValueError, match="unknown operator"):
        apply(2, "**", 3)


@given(st.integers(0, 999), st.sampled_from(OPERATORS), st.integers(0, 999))
def test_apply_agrees_with_the_verifiers_evaluation(left: int, op: str, right: int):
    if op == "/" and right == 0:
        with pytest.raises(ZeroDivisionError):
            evaluate(f"{left} / {right}")
        return
    value = apply(left, op, right)
    assert value == evaluate(f"{left} {op} {right}")
    assert hash(value) == hash(Fraction(value))  # ints and Fractions work alike as dictionary keys


@given(st.lists(st.integers(1, 12), min_size=2, max_size=4), st.integers(0, 60))
def test_generator_solutions_evaluate_to_the_target(nums: list[int], target: int):
    solution = solve(nums, target)
    if solution is not None:
        assert evaluate(solution) == target


def test_one_puzzle_class_for_generator_and_demo():
    from r3.demo import puzzles

    puzzle = puzzles.Puzzle((4, 5, 3), 23)
    assert isinstance(puzzle, Puzzle) and puzzle.key == ((3, 4, 5), 23)
    assert puzzle.to_row() == {"nums": [4, 5, 3], "target": 23}
