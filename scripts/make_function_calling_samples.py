"""Write r3's function-calling sample, src/r3/sample_data/function_calling.jsonl, from hand-written examples.

    .venv/bin/python scripts/make_function_calling_samples.py

Each example is a request written for r3 and its gold calls; the tools offered are the ones the answer needs plus
one to three distractors drawn with a fixed seed, shuffled. Rows follow the xLAM layout of
Salesforce/xlam-function-calling-60k: id (int), query (str), tools and answers as JSON-encoded strings.
Deterministic: running it twice writes the same bytes.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fc_sample_tools import TOOLS
from fc_samples_examples import EXAMPLES

OUT = Path(__file__).resolve().parent.parent / "src" / "r3" / "sample_data" / "function_calling.jsonl"
SEED = 2505


def build_rows(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    names = sorted(TOOLS)
    rows = []
    for number, (query, answers) in enumerate(EXAMPLES):
        needed = sorted({call["name"] for call in answers})
        unknown = [name for name in needed if name not in TOOLS]
        if unknown:
            raise SystemExit(f"example {number}: unknown tools {unknown}")
        distractors = rng.sample([name for name in names if name not in needed], rng.randint(1, 3))
        offered = needed + distractors
        rng.shuffle(offered)
        rows.append({
            "id": number,
            "query": query,
            "tools": json.dumps([TOOLS[name] for name in offered], ensure_ascii=False),
            "answers": json.dumps(answers, ensure_ascii=False),
        })
    return rows


def main() -> None:
    rows = build_rows()
    with open(OUT, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    print(f"wrote {len(rows)} examples to {OUT}")


if __name__ == "__main__":
    main()
