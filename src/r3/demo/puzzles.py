"""Small Countdown puzzles for the demo: three numbers in 1-9, a target reachable with two operators.

Every puzzle is built from a solution `(x op1 y) op2 z` with `op` in + - * and a positive intermediate result, so
each one is solvable by construction and has a step-by-step solution ("4 * 5 = 20 , 20 + 3 = 23") that a reflection
can describe. The whole puzzle space is small (a few thousand puzzles), so it is split once, by a hash of the puzzle,
into disjoint parts: pretraining, RL training (mining) and held-out evaluation. Nothing here draws from global
random state: every function takes its `random.Random`. The puzzles are r3's own `Puzzle`s
(`r3.tasks.countdown_generator`) and their arithmetic is the verifier's (`r3.tasks.countdown_arith`).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass
from functools import cache

from r3.tasks.countdown_arith import apply
from r3.tasks.countdown_generator import Puzzle

OPS = ("+", "-", "*")
NUM_RANGE = range(1, 10)
TARGET_RANGE = range(1, 100)
SPLITS = ("pretrain", "train", "test")
SPLIT_SHARES = (0.50, 0.20, 0.30)  # of 1,860 puzzles: about 930 / 370 / 560


@dataclass(frozen=True)
class Solution:
    """`(x op1 y) op2 z`: the first step gives `middle`, the second the target."""

    x: int
    op1: str
    y: int
    op2: str
    z: int

    @property
    def middle(self) -> int:  # + - * of whole numbers: `apply` gives an int
        return apply(self.x, self.op1, self.y)

    @property
    def value(self) -> int:
        return apply(self.middle, self.op2, self.z)

    def equation(self) -> str:
        """The answer as the verifier reads it, spaced so that every symbol is one token."""
        return f"( {self.x} {self.op1} {self.y} ) {self.op2} {self.z}"


def candidates(nums: tuple[int, ...]) -> list[Solution]:
    """Every `(x op1 y) op2 z` over an ordering of `nums`, with a positive intermediate result."""
    found = []
    for x, y, z in sorted(set(itertools.permutations(nums))):
        for op1, op2 in itertools.product(OPS, OPS):
            solution = Solution(x, op1, y, op2, z)
            if solution.middle >= 1:
                found.append(solution)
    return found


@cache
def solutions(key: tuple[tuple[int, ...], int]) -> tuple[Solution, ...]:
    """The step-by-step solutions of a puzzle, in a fixed order."""
    nums, target = key
    return tuple(s for s in candidates(nums) if s.value == target)


def split_of(puzzle: Puzzle) -> str:
    """The part a puzzle belongs to, fixed by a hash of its key (stable across Python versions and runs)."""
    digest = hashlib.sha256(repr(puzzle.key).encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, share in zip(SPLITS, SPLIT_SHARES):
        cumulative += share
        if fraction < cumulative:
            return name
    return SPLITS[-1]


def random_puzzle(rng: random.Random, split: str) -> Puzzle:
    """A puzzle of `split`, drawn by drawing a solution (so puzzles with many solutions come up more often)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    while True:
        solution = Solution(rng.choice(NUM_RANGE), rng.choice(OPS), rng.choice(NUM_RANGE), rng.choice(OPS),
                            rng.choice(NUM_RANGE))
        if solution.middle < 1 or solution.value not in TARGET_RANGE:
            continue
        nums = [solution.x, solution.y, solution.z]
        rng.shuffle(nums)
        puzzle = Puzzle(tuple(nums), solution.value)
        if split_of(puzzle) == split:
            return puzzle


def distinct_puzzles(rng: random.Random, split: str, n: int) -> list[Puzzle]:
    """`n` puzzles of `split`, no two with the same key (for evaluation and mining sets)."""
    seen, chosen = set(), []
    attempts = 0
    while len(chosen) < n:
        attempts += 1
        if attempts > 1000 * n:
            raise ValueError(f"split {split!r} has fewer than {n} distinct puzzles")
        puzzle = random_puzzle(rng, split)
        if puzzle.key not in seen:
            seen.add(puzzle.key)
            chosen.append(puzzle)
    return chosen
