"""Arithmetic: "What is 7 + 12 - 5?", an integer answer. An easy task for small models (135M-1B) to show signal on.

Why it exists: SmolLM2-135M-Instruct scores 0% on Countdown and MATH, so reflection training has nothing to work
with there. Short expressions of 2-3 small operands with + - * give a first-attempt accuracy a small model can
improve on, with answers a few tokens long (cheap on a CPU). It is honestly a different, easier task than Countdown.

An example is `{"expression": "7 + 12 - 5", "answer": 14}` (`r3.tasks.arithmetic.generate_problems` makes them;
`python -m r3.tasks.arithmetic --n 500 --seed 0 --out problems.jsonl` writes them). The model's answer is the last
integer of its completion, or with `answer_format=boxed` the content of its last `\\boxed{}`; either way it is
compared exactly with the gold, and a completion with no integer is a failure that says so. The expression is
evaluated here by r3's own parser of + - * (never `eval`), so a row whose `answer` disagrees is a DataError.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

from r3.errors import DataError, shorten
from r3.tasks.answers import last_boxed, parse_number
from r3.tasks.base import Task, require
from r3.types import Verdict

PROMPT = "What is {expression}? Reply with only the final number."
# The retry restates the question: a 135M model that reads only "try again" after its own prose answers with prose.
RETRY_INSTRUCTION = "Using your reflection, what is {expression}? Reply with only the final number."
REFLECTION_INSTRUCTION = ("Your answer to {expression} was wrong. In one sentence, say how to compute it correctly, "
                          "step by step.")
_TOKEN = re.compile(r"\s*(\d+|[-+*])")
_INTEGER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?!\d)")  # 1,000 is one integer; 1,1 is two
MAX_EXPRESSION_CHARS = 200


def evaluate(expression: str) -> int:
    """The value of an expression of non-negative integers and + - * (usual precedence), without `eval`."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ValueError(f"unexpected text at {shorten(expression[position:], 20)}")
        tokens.append(match.group(1))
        position = match.end()
    if len(tokens) % 2 == 0 or any(t.isdigit() != (i % 2 == 0) for i, t in enumerate(tokens)):
        raise ValueError("expected number (op number)*")
    terms, sign, product = [], 1, int(tokens[0])
    for op, number in zip(tokens[1::2], tokens[2::2]):
        if op == "*":
            product *= int(number)
        else:
            terms.append(sign * product)
            sign, product = (1 if op == "+" else -1), int(number)
    terms.append(sign * product)
    return sum(terms)


class ArithmeticTask(Task):
    """Short integer expressions with + - * ("What is 7 + 12 - 5?"); the answer is the last integer (or box)."""

    name = "arithmetic"
    fields = ("expression",)
    template_fields = ("id", "answer")
    prompt_template = PROMPT
    reflection_instruction = REFLECTION_INSTRUCTION
    retry_instruction = RETRY_INSTRUCTION
    options: ClassVar = {"answer_format": ("last_integer", "boxed")}

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Check the expression and compute its value; a given `answer` must agree with it."""
        expression = require(row, "expression")
        if not isinstance(expression, str):
            raise DataError(f"expected a string, got {shorten(expression)}", field="expression")
        try:
            value = evaluate(expression)
        except ValueError as error:
            raise DataError(f"not an expression of integers and + - *: {error}", field="expression") from None
        if row.get("answer") is not None and str(row["answer"]).strip() != str(value):
            raise DataError(f"answer {shorten(row['answer'])} is not the value of the expression ({value})",
                            field="answer")
        return {**row, "answer": value}

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        gold = int(example["answer"])
        if self.task_options.get("answer_format") == "boxed":
            found = last_boxed(completion)
            if found.text is None:
                return Verdict(False, found.reason)
            value = parse_number(found.text)
            shown = shorten(found.text, 30)
        else:
            numbers = _INTEGER.findall(completion[-2000:])
            if not numbers:
                return Verdict(False, "no integer in the answer")
            shown = numbers[-1]
            value = int(shown.replace(",", "")) if len(shown) < 40 else None
        if value is None:
            return Verdict(False, f"answer {shown} is not a number")
        if value == gold:
            return Verdict(True, f"answer {shown} is correct")
        return Verdict(False, f"answer {shown} is wrong")


def generate_problems(n: int, seed: int = 0, *, operands: tuple[int, ...] = (2, 3), max_number: int = 20,
                      ops: str = "+-*") -> Iterator[dict[str, Any]]:
    """`n` expressions, each of a size drawn from `operands`, numbers in 1..max_number, operators from `ops`;
    products stay small (a `*` takes its right operand in 1..9). Deterministic in `seed`."""
    rng = random.Random(seed)
    for index in range(n):
        size = rng.choice(operands)
        parts = [str(rng.randint(1, max_number))]
        for _ in range(size - 1):
            op = rng.choice(ops)
            parts += [op, str(rng.randint(1, 9 if op == "*" else max_number))]
        expression = " ".join(parts)
        yield {"id": f"{seed}-{index}", "expression": expression, "answer": evaluate(expression)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r3.tasks.arithmetic", description="write arithmetic problems")
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--operands", default="2,3", help="expression sizes to draw from, e.g. 2 or 2,3")
    parser.add_argument("--max-number", type=int, default=20)
    parser.add_argument("--ops", default="+-*")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    operands = tuple(int(size) for size in args.operands.split(","))
    if args.n < 1 or args.max_number < 1 or min(operands) < 2 or not set(args.ops) <= set("+-*") or not args.ops:
        print("python -m r3.tasks.arithmetic: error: need n >= 1, max-number >= 1, operands >= 2, ops from + - *",
              file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8") as handle:
        rows = generate_problems(args.n, args.seed, operands=operands, max_number=args.max_number, ops=args.ops)
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
