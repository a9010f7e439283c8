"""`r3 forgetting`: did training cost general ability? Standard benchmarks before and after, via lm-eval.

    r3 forgetting --base Qwen/Qwen2.5-1.5B-Instruct --trained runs/train --out runs/forgetting
    r3 forgetting --base M0 --trained M1 --tasks gsm8k,hellaswag --limit 200 --num-fewshot gsm8k=8 --out DIR
    r3 forgetting --base M0 --trained M1 --tasks my_task --include-path my_tasks/ --backend vllm --out DIR

Per-benchmark options take one value for every benchmark ("5") or values per benchmark ("gsm8k=8,hellaswag=10").
"""

from __future__ import annotations

HELP = "compare a model before and after training on standard benchmarks (lm-evaluation-harness)"


def parser():
    from r3.config.parser import ConfigParser
    from r3.forgetting.config import ForgettingConfig

    return ConfigParser([ForgettingConfig], prog="r3 forgetting", description=HELP)


def main(argv: list[str]) -> int:
    from pathlib import Path

    from r3 import api

    (config,) = parser().parse(argv)
    result = api.forgetting(config)
    print(result.table, end="")
    out = Path(config.out)
    names = ("table.md", "table.json", "forgetting.png", "base/results.json", "trained/results.json")
    print(f"\nwritten in {out}: {', '.join(name for name in names if (out / name).exists())}")
    return 1 if result.failures else 0
