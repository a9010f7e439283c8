"""How setting names are checked and reported: suggestions only for close matches, and every problem of a config
in one message (as TRL's TrlParser lists every unused key at once).

    close_matches("num_generation", {"num_generations", "num_iterations"})   # ["num_generations"]
    close_matches("attn_implementation", {"cache_implementation"})           # []: sharing a long part is not close
"""

from __future__ import annotations

from typing import Any

from r3.config.compat import ALIASES


def close_matches(name: str, known: set[str] | frozenset[str], n: int = 3) -> list[str]:
    """Names a typo away from `name`: at most one edit per five characters (and at most 3), counting a swap of
    neighbours as one. Names that only share a long part are not close (`attn_implementation` is not
    `cache_implementation`), so a suggestion is a likely fix or absent."""
    limit = min(3, max(1, len(name) // 5))
    scored = sorted((distance, candidate) for candidate in known
                    if abs(len(candidate) - len(name)) <= limit
                    and (distance := _edit_distance(name, candidate)) <= limit)
    return [candidate for _, candidate in scored[:n]]


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein with adjacent transpositions)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def another_name(name: str, other: str) -> str:
    target = ALIASES.get(name) or ALIASES.get(other)
    alias = name if name in ALIASES else other
    return f"{alias} is another name for {target}" if target else "the same field"


def one_message(problems: list[tuple[str, str]], prog: str) -> str:
    """One line for every problem, as TrlParser lists every unused key at once."""
    if len(problems) == 1:
        place, text = problems[0]
        return f"{place}: {text}" if place else text
    places = {place for place, _ in problems}
    head = f"{places.pop()}: " if len(places) == 1 and "" not in places else ""
    items = [text if head else f"{place or 'the command line'}: {text}" for place, text in problems]
    return f"{head}{len(problems)} settings {prog} cannot use: " + " ".join(
        f"({number}) {item}" for number, item in enumerate(items, start=1))


def quoted(key: Any) -> str:
    text = str(key)
    return f"'{text if len(text) <= 60 else text[:57] + '...'}'"


__all__ = ["another_name", "close_matches", "one_message", "quoted"]
