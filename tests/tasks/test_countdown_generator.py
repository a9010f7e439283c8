"""The Countdown generator: every puzzle is solvable (checked by the verifier), ranges hold, seeds reproduce, and the
solver finds a solution exactly when a brute-force search does."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction
from itertools import combinations

import pytest

from r3.errors import R3Error
from r3.tasks.countdown_expr import judge_answer
from r3.tasks.countdown_generator import PuzzleRanges, generate_puzzles, solve


def test_default_puzzles_are_solvable_and_in_the_public_ranges():
    puzzles = list(generate_puzzles(160, seed=0))
    assert len(puzzles) == 160
    for puzzle in puzzles:
        assert len(puzzle.nums) in (3, 4)
        assert 10 <= puzzle.target <= 100
        assert all(1 <= n <= 99 for n in puzzle.nums)
        assert judge_answer(puzzle.solution, puzzle.nums, puzzle.target).correct, puzzle
    sizes = Counter(len(p.nums) for p in puzzles)
    assert 50 < sizes[3] < 110  # the size is drawn uniformly per puzzle, not skewed by solvability
    assert len({p.target for p in puzzles}) > 50


def test_custom_ranges_are_respected():
    ranges = PuzzleRanges(min_target=200, max_target=400, min_number=5, max_number=30, sizes=(4, 5))
    for puzzle in generate_puzzles(20, seed=3, ranges=ranges):
        assert len(puzzle.nums) in (4, 5)
        assert 200 <= puzzle.target <= 400
        assert all(5 <= n <= 30 for n in puzzle.nums)
        assert judge_answer(puzzle.solution, puzzle.nums, puzzle.target).correct


def test_same_seed_same_puzzles_other_seed_other_puzzles():
    first = list(generate_puzzles(30, seed=7))
    assert list(generate_puzzles(30, seed=7)) == first
    assert list(generate_puzzles(30, seed=8)) != first
    assert list(generate_puzzles(10, seed=7)) == first[:10]  # a prefix of a longer run


def test_rows_carry_the_solution_only_when_asked():
    puzzle = next(generate_puzzles(1, seed=0))
    assert set(puzzle.to_row()) == {"nums", "target"}
    assert puzzle.to_row(with_solution=True)["solution"] == puzzle.solution


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_target": 50, "max_target": 10}, "min target 50 is above max target 10"),
        ({"min_number": -1}, "min number must be >= 0"),
        ({"min_number": 9, "max_number": 2}, "min number 9 is above max number 2"),
        ({"sizes": ()}, "sizes must be between 2 and 5"),
        ({"sizes": (3, 9)}, "sizes must be between 2 and 5"),
        ({"max_draws": 0}, "max draws must be positive"),
    ],
)
def test_bad_ranges_are_user_errors(kwargs, message):
    with pytest.raises(R3Error, match=message):
        PuzzleRanges(**kwargs)


def test_impossible_ranges_fail_with_a_clear_error():
    ranges = PuzzleRanges(min_target=10**6, max_target=10**6, min_number=1, max_number=1, sizes=(2,), max_draws=50)
    with pytest.raises(R3Error, match="no solvable puzzle of 2 numbers in 50 draws"):
        next(generate_puzzles(1, seed=0, ranges=ranges))


@pytest.mark.parametrize(
    "nums, target",
    [([1, 3, 4, 6], 24), ([3, 3, 8, 8], 24), ([5, 0, 0], 0), ([4, 4], 0), ([0, 7, 7], 1), ([7], 7), ([2, 3], 6)],
)
def test_solve_finds_tricky_solutions(nums, target):
    solution = solve(nums, target)
    assert solution is not None and judge_answer(solution, nums, target).correct


def test_solve_says_none_when_there_is_none():
    assert solve([1, 1, 1], 100) is None
    assert solve([97, 89, 83, 79], 11) is None
    assert solve([5], 6) is None


def _brute_force_values(nums: list[int]) -> set[Fraction]:
    """Every value of every expression over `nums` (each used once): the plain exhaustive reference."""
    if len(nums) == 1:
        return {Fraction(nums[0])}
    values = set()
    indices = range(len(nums))
    for size in range(1, len(nums) // 2 + 1):
        for left in combinations(indices, size):
            right = [i for i in indices if i not in left]
            for a in _brute_force_values([nums[i] for i in left]):
                for b in _brute_force_values([nums[i] for i in right]):
                    values.update({a + b, a - b, b - a, a * b})
                    if b:
                        values.add(a / b)
                    if a:
                        values.add(b / a)
    return values


def test_solve_agrees_with_brute_force():
    rng = random.Random(0)
    for _ in range(60):
        nums = [rng.randint(0, 12) for _ in range(rng.choice((2, 3, 4)))]
        reachable = _brute_force_values(nums)
        for target in range(-5, 40):
            solution = solve(nums, target)
            assert (solution is not None) == (target in reachable), (nums, target, solution)
            if solution is not None:
                assert judge_answer(solution, nums, target).correct, (nums, target, solution)
