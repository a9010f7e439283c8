"""Episodes per second: r3's phase-batched engine vs a plain one-episode-at-a-time loop, same model, CPU.

    .venv/bin/python benchmarks/episodes_batched_vs_loop.py --size small --problems 32
    .venv/bin/python benchmarks/episodes_batched_vs_loop.py --size tiny --problems 32

Both sides use r3's Hugging Face backend (`r3.generation.load_generator(..., "hf")`), the same Countdown problems
(`sample:countdown`), the same `EpisodeConfig` (2 attempts, temperature 1.0, top-p 1.0, the same token budgets) and
the same messages (`r3.conversation`). The loop runs attempt, verify, reflect, retry for one problem before the next
(three generate calls of one prompt per failed problem); the engine runs each phase of a batch as one generate call.

The model is randomly initialised and built here (`r3.tiny_model.build_tiny_model` with the shape of `--size`), so
it rarely ends its turn: nearly every completion runs to its token budget and nearly every first attempt fails. Both
sides therefore generate about the same number of tokens, which the report shows next to episodes/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from r3.conversation import reflection_messages, retry_messages
from r3.episodes import EpisodeConfig, run_episodes
from r3.generation import load_generator
from r3.tasks import get_task
from r3.tasks.base import Task
from r3.tiny_model import build_tiny_model
from r3.types import Attempt, Completion, Episode, Generator, SamplingParams

# Model shapes (Qwen2 with r3's tiny byte-level BPE tokenizer). "tiny" is the test model, whose per-token cost is all
# Python and kernel-launch overhead; "medium" (~3M parameters) and "small" (~25M) do real matrix work per token, and on
# one CPU thread "small" is already compute-bound at batch 32 - the unfavourable case for batching.
SIZES = {
    "tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 512},
    "medium": {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 768},
    "small": {"hidden_size": 512, "num_layers": 8, "num_heads": 8, "num_kv_heads": 2, "intermediate_size": 1536},
}


def loop_episodes(task: Task, generator: Generator, examples: list[dict], config: EpisodeConfig) -> list[Episode]:
    """The baseline: one problem at a time, one prompt per generate call."""
    return [loop_episode(task, generator, index, example, config) for index, example in enumerate(examples)]


def loop_episode(task: Task, generator: Generator, index: int, example: dict, config: EpisodeConfig) -> Episode:
    """Attempt, verify, reflect, retry, verify for one problem (K-1 rounds while unsolved)."""
    reflect_with = config.reflection_instruction or task.reflection_instruction
    retry_with = config.retry_instruction or task.retry_instruction
    prompt = task.prompt(example)
    attempts: list[Attempt] = []
    reflections: list[Completion] = []
    messages, params = prompt, config.attempt_params
    while True:
        completion = generator.generate([messages], params)[0][0]
        attempts.append(Attempt(completion.text, completion.num_tokens, task.verify(example, completion.text)))
        if attempts[-1].verdict.correct or len(attempts) == config.max_attempts:
            break
        history = [a.text for a in attempts], [r.text for r in reflections], [a.verdict.reason for a in attempts]
        messages = reflection_messages(prompt, *history, reflect_with, retry_with)
        reflections.append(generator.generate([messages], config.reflection_params)[0][0])
        history = [a.text for a in attempts], [r.text for r in reflections], [a.verdict.reason for a in attempts]
        messages = retry_messages(prompt, *history, reflect_with, retry_with)
        params = config.retry_params or config.attempt_params
    return Episode(index, task.problem_id(example, index), example, tuple(prompt), tuple(attempts), tuple(reflections))


def batched_episodes(task: Task, generator: Generator, examples: list[dict], config: EpisodeConfig) -> list[Episode]:
    return [episode for batch in run_episodes(task, generator, examples, config) for episode in batch]


@dataclass
class Measurement:
    mode: str
    seconds: float
    episodes: int
    generated_tokens: int
    first_attempt_failures: int

    def as_dict(self) -> dict:
        return {**self.__dict__, "episodes_per_s": self.episodes / self.seconds,
                "tokens_per_s": self.generated_tokens / self.seconds}


def measure(mode: str, fn, task, generator, examples, config) -> Measurement:
    started = time.perf_counter()
    episodes = fn(task, generator, examples, config)
    seconds = time.perf_counter() - started
    tokens = sum(a.num_tokens for e in episodes for a in e.attempts) + sum(
        r.num_tokens for e in episodes for r in e.reflections)
    return Measurement(mode, seconds, len(episodes), tokens, sum(e.solved_at != 1 for e in episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--model", help="an existing model directory instead of building one of --size")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--data", default="sample:countdown", help="Countdown problems (any r3 data source)")
    parser.add_argument("--batch-size", type=int, default=32, help="episodes per batch of the engine")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--reflection-max-new-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=2, help="problems run once by both sides before timing")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared CPU more threads oversubscribe the cores)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or str(build_tiny_model(Path(tmp) / args.size, seed=args.seed, **SIZES[args.size]))
        generator = load_generator(model_dir, "hf")
        parameters = sum(p.numel() for p in generator.model.parameters())
        task = get_task("countdown")
        examples = task.load(args.data, None, args.problems + args.warmup)
        warmup, examples = examples[: args.warmup], examples[args.warmup:]
        attempt = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=args.max_new_tokens, seed=args.seed)
        config = EpisodeConfig(
            max_attempts=2,
            attempt_params=attempt,
            reflection_params=SamplingParams(temperature=1.0, top_p=1.0,
                                             max_new_tokens=args.reflection_max_new_tokens, seed=args.seed),
            batch_size=args.batch_size,
        )
        for fn in (loop_episodes, batched_episodes):
            fn(task, generator, warmup, config)
        results = [measure("loop", loop_episodes, task, generator, examples, config),
                   measure("batched", batched_episodes, task, generator, examples, config)]

    report = {
        "command": "python benchmarks/episodes_batched_vs_loop.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "json"),
        "model": args.model or f"random Qwen2 '{args.size}' {SIZES[args.size]}",
        "parameters": parameters,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "results": [r.as_dict() for r in results],
        "speedup_episodes_per_s": results[1].as_dict()["episodes_per_s"] / results[0].as_dict()["episodes_per_s"],
    }
    for r in report["results"]:
        print(f"{r['mode']:>8}: {r['episodes']} episodes in {r['seconds']:.1f} s = {r['episodes_per_s']:.3f} "
              f"episodes/s, {r['tokens_per_s']:.0f} tokens/s ({r['generated_tokens']} tokens, "
              f"{r['first_attempt_failures']} first-attempt failures)")
    print(f"speedup (episodes/s, batched / loop): {report['speedup_episodes_per_s']:.1f}x  "
          f"[{parameters / 1e6:.1f}M parameters, {report['torch_threads']} torch threads]")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
