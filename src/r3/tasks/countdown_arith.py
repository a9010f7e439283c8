"""Countdown's arithmetic, in one place: + - * / on exact rationals, for the verifier, the generator and the demo.

A Countdown value is an `int` while it is whole and a `fractions.Fraction` once a quotient is not: Python ints are
several times faster than `Fraction`, and nearly every value a puzzle meets is whole. Both kinds compare and hash
alike (`Fraction(6, 1) == 6` and `hash(Fraction(6, 1)) == hash(6)`), so values work as dictionary keys whichever
kind they are. Division by zero raises ZeroDivisionError; callers decide what it means (the verifier: an incorrect
answer; the generator: no value).

    from r3.tasks.countdown_arith import apply
    apply(7, "/", 2)      # Fraction(7, 2)
    apply(8, "/", 2)      # 4
"""

from __future__ import annotations

from fractions import Fraction

Number = int | Fraction
OPERATORS = ("+", "-", "*", "/")


def divide(left: Number, right: Number) -> Number:
    """`left / right` exactly: an int when the quotient is whole, else a Fraction. ZeroDivisionError on zero."""
    if type(left) is int and type(right) is int:
        if right == 0:
            raise ZeroDivisionError("division by zero")
        return left // right if left % right == 0 else Fraction(left, right)
    quotient = Fraction(left) / right
    return quotient.numerator if quotient.denominator == 1 else quotient


def apply(left: Number, op: str, right: Number) -> Number:
    """`left op right` for op in `OPERATORS`, exactly (see `divide`). ValueError for any other operator."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return divide(left, right)
    raise ValueError(f"unknown operator {op!r}; expected one of {OPERATORS}")
