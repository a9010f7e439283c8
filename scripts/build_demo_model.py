"""Build the demo model (src/r3/demo/model_files/) from scratch: tokenizer, Llama of ~0.9M parameters, pretraining on r3's corpus.

    .venv/bin/python scripts/build_demo_model.py            # writes src/r3/demo/model_files (package data)

Deterministic: the same arguments give the same weights on the same torch build and thread count (--threads, 1 by
default: the order of floating-point sums depends on it, and one thread also keeps its speed on a busy machine). The corpus is generated on the fly by
`r3.demo.corpus` on the "pretrain" puzzles only (see `r3.demo.puzzles`), laid out with the demo task's own prompt
and instructions (`r3.demo.task:DemoCountdownTask`). The output directory also gets build_info.json: the arguments,
the corpus mix, the loss curve and the wall time. See docs/demo.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

from r3.demo.corpus import FIRST_ATTEMPTS, CorpusMix, episodes, worked_chats
from r3.demo.model import MODEL_DIR, build_model, build_tokenizer, save
from r3.demo.pretrain import PretrainConfig, pretrain
from r3.demo.task import DemoCountdownTask

VOCAB_SEED = 12345  # the corpus sample the vocabulary is read from
VOCAB_EPISODES = 3000


def main(argv: list[str] | None = None) -> int:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR,
                        help="output directory (default: the package's demo model, src/r3/demo/model_files)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--first-attempts", choices=FIRST_ATTEMPTS, default=CorpusMix.first_attempts,
                        help="how the corpus' first attempts are made (see r3.demo.corpus; default: %(default)s, "
                        "the committed demo model)")
    parser.add_argument("--p-solve", type=float, default=CorpusMix.p_solve,
                        help="share of right first attempts in the corpus, for solve_or_wrong and worked "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    task, mix = DemoCountdownTask(), CorpusMix(first_attempts=args.first_attempts, p_solve=args.p_solve)
    config = dataclasses.replace(defaults, seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                 threads=args.threads)
    sample, worked = episodes(VOCAB_SEED, task, mix), worked_chats(VOCAB_SEED, mix)
    texts = [m["content"] for _ in range(VOCAB_EPISODES) for m in next(sample).messages]
    tokenizer = build_tokenizer(texts + [m["content"] for _ in range(100) for m in next(worked)])
    model = build_model(tokenizer, seed=args.seed)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"vocabulary {len(tokenizer)} tokens, model {parameters:,} parameters; pretraining {config.steps} steps")
    start = time.monotonic()
    history = pretrain(model, tokenizer, task, mix, config)
    seconds = time.monotonic() - start
    args.out.mkdir(parents=True, exist_ok=True)
    save(model, tokenizer, args.out)
    info = {"pretrain": dataclasses.asdict(config), "corpus_mix": dataclasses.asdict(mix),
            "parameters": parameters, "vocabulary": len(tokenizer), "wall_seconds": round(seconds, 1),
            "history": history}
    (args.out / "build_info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    print(f"saved {args.out} after {seconds:.0f} s (final loss {history[-1]['loss']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
