"""Countdown puzzles that are solvable by construction, with the public set's ranges by default.

Jiayi-Pan/Countdown-Tasks-3to4 (TinyZero's set) has targets 10-100 and 3 or 4 numbers in 1-99, and every puzzle in
it has a solution. `generate_puzzles` follows the way that set was made: pick a size (uniformly among `sizes`), draw
the target and the numbers uniformly, search for an equation over + - * / (exact arithmetic, each number once), and
redraw until one exists; the equation found is the puzzle's witness and can be emitted with it. The same settings
and seed always give the same puzzles.

    r3 data countdown --n 1000 --seed 0 --out puzzles.jsonl
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from r3.errors import R3Error
from r3.tasks.countdown_arith import Number, divide

MAX_SIZE = 5
"""Most numbers per puzzle: the search grows about 30-fold with each extra number."""


@dataclass(frozen=True)
class PuzzleRanges:
    """What puzzles to draw. Defaults are the public 3-to-4-number set's ranges (all bounds inclusive)."""

    min_target: int = 10
    max_target: int = 100
    min_number: int = 1
    max_number: int = 99
    sizes: tuple[int, ...] = (3, 4)
    max_draws: int = 10_000
    """Consecutive unsolvable draws after which the ranges are judged to make solvable puzzles too rare."""

    def __post_init__(self) -> None:
        if self.min_target > self.max_target:
            raise R3Error(f"min target {self.min_target} is above max target {self.max_target}")
        if self.min_number < 0:
            raise R3Error(f"min number must be >= 0 (answers cannot write negative numbers), got {self.min_number}")
        if self.min_number > self.max_number:
            raise R3Error(f"min number {self.min_number} is above max number {self.max_number}")
        if not self.sizes or any(not 2 <= size <= MAX_SIZE for size in self.sizes):
            raise R3Error(f"sizes must be between 2 and {MAX_SIZE} numbers, got {list(self.sizes)}")
        if self.max_draws < 1:
            raise R3Error(f"max draws must be positive, got {self.max_draws}")


@dataclass(frozen=True)
class Puzzle:
    """A Countdown puzzle, r3's one: the numbers in the order shown, the target, and a witness equation if known.

    The generator here and the demo's small puzzles (`r3.demo.puzzles`) both make these.
    """

    nums: tuple[int, ...]
    target: int
    solution: str | None = None

    @property
    def key(self) -> tuple[tuple[int, ...], int]:
        """Identity of the puzzle: the order in which the numbers are shown does not matter."""
        return tuple(sorted(self.nums)), self.target

    def to_row(self, with_solution: bool = False) -> dict:
        """The dataset row (`nums` as a list, `target`; `solution` too if asked)."""
        row: dict = {"nums": list(self.nums), "target": self.target}
        if with_solution:
            row["solution"] = self.solution
        return row


def generate_puzzles(n: int, seed: int = 0, ranges: PuzzleRanges | None = None) -> Iterator[Puzzle]:
    """Yield `n` solvable puzzles drawn with `random.Random(seed)`; deterministic for the same arguments."""
    ranges = ranges or PuzzleRanges()
    rng = random.Random(seed)
    for _ in range(n):
        yield draw_puzzle(rng, ranges)


def draw_puzzle(rng: random.Random, ranges: PuzzleRanges) -> Puzzle:
    """Pick a size, then draw target and numbers until they have a solution.

    The size is drawn first so that `sizes` sets the mix (redrawing it with the rest would skew the mix towards
    bigger puzzles, which are solvable far more often). R3Error after `ranges.max_draws` unsolvable draws in a row.
    """
    size = rng.choice(ranges.sizes)
    for _ in range(ranges.max_draws):
        target = rng.randint(ranges.min_target, ranges.max_target)
        nums = [rng.randint(ranges.min_number, ranges.max_number) for _ in range(size)]
        solution = solve(nums, target)
        if solution is not None:
            return Puzzle(nums=tuple(nums), target=target, solution=solution)
    raise R3Error(
        f"no solvable puzzle of {size} numbers in {ranges.max_draws} draws: targets {ranges.min_target}-"
        f"{ranges.max_target} are (almost) never reachable from numbers in {ranges.min_number}-{ranges.max_number}"
    )


def solve(nums: Sequence[int], target: int) -> str | None:
    """An equation using each of `nums` once that equals `target` exactly, or None if there is none.

    Every expression splits into `left op right` over two disjoint parts of the numbers. Rather than enumerate the
    values of both parts, each value x of the smaller part (one or two numbers, tabulated) says which value the other
    part must make (target - x, x - target, target + x, target / x, target * x, x / target), and that is asked
    recursively, with memoisation: a few hundred lookups instead of thousands of operations for four numbers.
    Complete for up to `MAX_SIZE` numbers (every split then has a part of at most two). Values are exact rationals
    in `r3.tasks.countdown_arith`'s arithmetic (ints while whole), the verifier's own.
    """
    nums = [int(value) for value in nums]
    if not 1 <= len(nums) <= MAX_SIZE:
        raise ValueError(f"solve takes 1 to {MAX_SIZE} numbers, got {len(nums)}")
    tables: dict[int, dict[Number, str]] = {}  # mask of one or two numbers -> {value: expression}
    for i, a in enumerate(nums):
        tables[1 << i] = {a: str(a)}
        for j in range(i + 1, len(nums)):
            pair: dict[Number, str] = {}
            for value, text in _combine(a, str(a), nums[j], str(nums[j])):
                pair.setdefault(value, text)
            tables[(1 << i) | (1 << j)] = pair
    found = _find((1 << len(nums)) - 1, int(target), nums, tables, {})
    if found is not None and found.startswith("("):
        found = found[1:-1]  # composite expressions come fully parenthesised
    return found


def _find(mask: int, target: Number, nums: list[int], tables: dict, memo: dict) -> str | None:
    """An expression of exactly the numbers in `mask` that equals `target`, or None."""
    table = tables.get(mask)
    if table is not None:
        if type(target) is not int and not mask & (mask - 1):
            return None  # one number is a whole number: skip hashing a Fraction (the slowest step of the search)
        return table.get(target)
    key = (mask, target)
    if key not in memo:
        memo[key] = _find_split(mask, target, nums, tables, memo)
    return memo[key]


def _find_split(mask: int, target: Number, nums: list[int], tables: dict, memo: dict) -> str | None:
    for part, rest in _splits(mask):
        if rest not in tables or (part in tables and len(tables[part]) <= len(tables[rest])):
            small, big = part, rest
        else:
            small, big = rest, part  # iterate over the part with fewer values
        for x, text_x in tables[small].items():
            needs = [(target - x, "({x} + {y})"), (x - target, "({x} - {y})"), (target + x, "({y} - {x})")]
            if x != 0:
                needs.append((divide(target, x), "({x} * {y})"))
                needs.append((target * x, "({y} / {x})"))
                if target != 0:
                    needs.append((divide(x, target), "({x} / {y})"))
            elif target == 0:  # 0 * (anything) is 0
                return f"({text_x} * ({' + '.join(str(nums[i]) for i in _bits(big))}))"
            for y, template in needs:
                text_y = _find(big, y, nums, tables, memo)
                if text_y is not None:
                    return template.format(x=text_x, y=text_y)
    return None


def _splits(mask: int) -> Iterator[tuple[int, int]]:
    """Each unordered split of `mask` into two non-empty parts, once (the part holding the lowest bit first)."""
    low = mask & -mask
    part = (mask - 1) & mask
    while part:
        if part & low:
            yield part, mask ^ part
        part = (part - 1) & mask


def _bits(mask: int) -> Iterator[int]:
    index = 0
    while mask:
        if mask & 1:
            yield index
        mask >>= 1
        index += 1


def _combine(a: Number, text_a: str, b: Number, text_b: str) -> Iterator[tuple[Number, str]]:
    """Every value of `a op b` and `b op a`, with its fully parenthesised expression."""
    yield a + b, f"({text_a} + {text_b})"
    yield a * b, f"({text_a} * {text_b})"
    yield a - b, f"({text_a} - {text_b})"
    yield b - a, f"({text_b} - {text_a})"
    if b != 0:
        yield divide(a, b), f"({text_a} / {text_b})"
    if a != 0:
        yield divide(b, a), f"({text_b} / {text_a})"
