"""`r3 tiny-model OUT_DIR`: write a tiny random chat model (tokenizer, config, weights) for trying r3 offline.

    r3 tiny-model runs/tiny            # again: rebuilt in place; --seed 3 over it needs --overwrite
    r3 eval --model runs/tiny --task countdown --data sample:countdown --limit 8 --out runs/tiny-eval
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from r3.config import CommandConfig, option

HELP = "write a tiny random Qwen2 chat model to OUT_DIR (for tests and trying r3 without a download)"


@dataclass
class TinyModelConfig(CommandConfig):
    out: str | None = option(None, "directory to write the model into")
    seed: int = option(42, "seed of the random weights")
    overwrite: bool = option(False, "replace a tiny model r3 wrote in OUT_DIR with other settings (never other files)")

    required: ClassVar[tuple[str, ...]] = ("out",)


def main(argv: list[str]) -> int:
    from pathlib import Path

    from r3.config.parser import ConfigParser
    from r3.errors import R3Error
    from r3.tiny_model import build_tiny_model

    (config,) = ConfigParser([TinyModelConfig], prog="r3 tiny-model", description=HELP,
                             positionals={"out": "?"}).parse(argv)
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise R3Error(f"{out} is a file, not a directory")
    path = build_tiny_model(out, seed=config.seed, overwrite=config.overwrite)
    print(f"wrote a tiny model to {path} (load it with AutoModelForCausalLM.from_pretrained('{path}'))")
    return 0
