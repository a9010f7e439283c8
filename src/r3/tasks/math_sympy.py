"""The sympy side of the math verifier, run inside a `r3.tasks.math_worker` process (never in the caller's).

Requests and answers are plain JSON:
    {"op": "parse", "text": GOLD}            -> {"parsed": bool, "shown": str}
    {"op": "verify", "gold": GOLD, "pred": P} -> {"parsed": bool, "correct": bool, "shown": str}
    {"op": "decimal", "gold": GOLD, "value": D} -> {"exact": bool, "value": float | None}
GOLD is the dataset's answer (LaTeX without `$`), P the content of the model's last box. The gold is read with
math-verify's default extraction (LaTeX, then plain expressions); the prediction with LaTeX extraction only, so
that a box holding prose does not fall back to whatever number the prose contains. Time-outs are the caller's job
(it kills this process), so math-verify's own signal-based ones are off.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import math_verify
import sympy
from math_verify import LatexExtractionConfig


@lru_cache(maxsize=4096)
def _parse_gold(text: str) -> list:
    return math_verify.parse(f"${text}$", parsing_timeout=None)


def _parse_pred(text: str) -> list:
    return math_verify.parse(f"${text}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None)


def _parsed(result: list) -> bool:
    """math-verify returns [expression, text] when it understood the input, [text] or [] when it did not."""
    return bool(result) and not isinstance(result[0], str)


def _exact_decimal(gold_text: str, decimal: str) -> dict[str, Any]:
    """Whether the decimal is exactly the gold's value (sympy, exact: no rounding), and that value as a float."""
    gold = _parse_gold(gold_text)
    if not _parsed(gold):
        return {"exact": False, "value": None}
    value = gold[0]
    if isinstance(value, sympy.Eq):  # gold `x = 5`
        value = value.rhs
    if not isinstance(value, sympy.Expr) or not value.is_number:
        return {"exact": False, "value": None}
    difference = sympy.nsimplify(value) - sympy.Rational(decimal)
    exact = difference == 0 or sympy.simplify(difference) == 0
    number = complex(value.evalf())
    return {"exact": bool(exact), "value": number.real if number.imag == 0 else None}


def handle(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("op") == "decimal":
        return _exact_decimal(request["gold"], request["value"])
    if request.get("op") == "parse":
        gold = _parse_gold(request["text"])
        return {"parsed": _parsed(gold), "shown": str(gold[0]) if gold else ""}
    gold = _parse_gold(request["gold"])
    if not _parsed(gold):
        return {"parsed": True, "correct": False, "shown": "", "gold_unparsed": True}
    pred = _parse_pred(request["pred"])
    if not _parsed(pred):
        return {"parsed": False, "correct": False, "shown": ""}
    correct = math_verify.verify(gold, pred, timeout_seconds=None)
    return {"parsed": True, "correct": bool(correct), "shown": str(pred[0])[:80]}
