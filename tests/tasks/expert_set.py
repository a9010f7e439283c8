"""The expert set: hand-judged completions on real gold rows, and the task examples they are judged against.

Each line of expert_cases.jsonl names its task, the gold row (`file#row`, 0-based, in ../shared/real), task options,
the completion, the verdict an expert grader would sign (`expected`), its `kind` (`hack`: an output that must earn
nothing; `right`: a right answer that must be rewarded; `wrong`: an honest wrong answer) and a one-line reason.
Used by tests/tasks/test_expert_set.py and benchmarks/verifier_agreement.py.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

CASES = Path(__file__).with_name("expert_cases.jsonl")
REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "real"


def read_cases(path: Path = CASES) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@cache
def _rows(name: str) -> tuple[dict, ...]:
    with open(REAL / name, encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def resolve(value):
    """The first possible value, also inside a dict argument (BFCL lists possible values per key there too)."""
    if isinstance(value, dict):
        return {key: resolve(values[0]) for key, values in value.items() if values and values[0] != ""}
    return value


def bfcl_row(row: dict) -> dict:
    """An r3 function-calling row from a BFCL row (also benchmarks/verifier_agreement.py's conversion): the first
    listed value of each argument; an argument whose listed values include "" is left out, and its one other value
    becomes the documented default."""
    tools = copy.deepcopy(row["function"])
    by_name = {tool["name"]: tool for tool in tools}
    answers = []
    for call in row["ground_truth"]:
        (name, params), = call.items()
        schema = by_name[name]["parameters"]
        arguments = {}
        for param, values in params.items():
            others = [value for value in values if value != ""]
            if "" in values and param not in schema.get("required", []):
                spec = schema["properties"].get(param, {})
                if len(others) == 1 and "default" not in spec:
                    spec["default"] = resolve(others[0])
                continue
            arguments[param] = resolve(others[0])
        answers.append({"name": name, "arguments": arguments})
    return {"id": row["id"], "query": row["question"][0][-1]["content"], "tools": json.dumps(tools),
            "answers": json.dumps(answers)}


def gold_row(source: str) -> dict:
    """The raw task row a case cites (`file#row`), in the task's own fields."""
    name, _, index = source.partition("#")
    row = dict(_rows(name)[int(index)])
    return bfcl_row(row) if name.startswith("bfcl_") else row
