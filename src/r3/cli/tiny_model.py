"""`r3 tiny-model OUT_DIR`: write a tiny random chat model (tokenizer, config, weights) for trying r3 offline.

    r3 tiny-model runs/tiny
    r3 eval --model runs/tiny --task countdown --data sample:countdown --limit 8 --out runs/tiny-eval
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a tiny random Qwen2 chat model to OUT_DIR (for tests and trying r3 without a download)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="directory to write the model into")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")


def run(args: argparse.Namespace) -> int:
    from r3.errors import R3Error
    from r3.tiny_model import build_tiny_model

    if args.out_dir.is_file():
        raise R3Error(f"{args.out_dir} is a file, not a directory")
    path = build_tiny_model(args.out_dir, seed=args.seed)
    print(f"wrote a tiny model to {path} (load it with AutoModelForCausalLM.from_pretrained('{path}'))")
    return 0
