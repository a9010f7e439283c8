"""`match=bfcl` on real BFCL v4 rows (../shared/real), converted to r3's format by benchmarks/verifier_agreement.py.

The full comparison with BFCL's own checker needs the bfcl-eval wheel and lives in that benchmark
(docs/benchmarks/verifiers.md); here the rules are checked on every converted row without it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from r3.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / ".." / "shared" / "real"
pytestmark = pytest.mark.skipif(not (REAL / "bfcl_v4_simple_python_first30.jsonl").exists(),
                                reason="../shared/real (real public data) is not beside the checkout")


@pytest.fixture(scope="module")
def agreement():
    spec = importlib.util.spec_from_file_location("verifier_agreement", ROOT / "benchmarks" / "verifier_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows(agreement):
    return [(name, row) for name, filename in agreement.BFCL_FILES.items() for row in agreement.read(filename)]


def test_every_converted_gold_is_correct_in_both_modes(agreement, rows):
    exact, bfcl = get_task("function_calling"), get_task("function_calling", {"match": "bfcl"})
    assert len(rows) == 90
    for _, row in rows:
        converted = agreement.convert_bfcl(row)
        for task in (exact, bfcl):
            verdict = task.verify(task.normalize(converted), converted["answers"])
            assert verdict.correct, (row["id"], verdict.reason)


def test_bfcl_rules_on_real_rows(agreement, rows):
    exact, bfcl = get_task("function_calling"), get_task("function_calling", {"match": "bfcl"})
    for _, row in rows:
        converted = agreement.convert_bfcl(row)
        calls = json.loads(converted["answers"])
        strings = [(i, key) for i, call in enumerate(calls) for key, value in call["arguments"].items()
                   if isinstance(value, str) and value != value.upper()]
        if strings:
            index, key = strings[0]
            shouted = json.loads(converted["answers"])
            shouted[index]["arguments"][key] = calls[index]["arguments"][key].upper()
            assert bfcl.verify(bfcl.normalize(converted), json.dumps(shouted)).correct, row["id"]
            assert not exact.verify(exact.normalize(converted), json.dumps(shouted)).correct, row["id"]
        extra = json.loads(converted["answers"])
        extra[0]["arguments"]["not_a_parameter"] = 1
        assert not bfcl.verify(bfcl.normalize(converted), json.dumps(extra)).correct, row["id"]
