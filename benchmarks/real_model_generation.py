"""Tokens per second on a real model, CPU: r3's HF backend against raw `model.generate`, and what each speed-up buys.

    nice -n 10 .venv/bin/python benchmarks/real_model_generation.py --model /work/models/smollm2-135m-instruct \
        --threads 1 2 --batch 1 8 32 64 --new-tokens 32
    nice -n 10 .venv/bin/python benchmarks/real_model_generation.py --model ... --experiment prefill --batch 32
    nice -n 10 .venv/bin/python benchmarks/real_model_generation.py --model ... --experiment dtype --batch 8

Sides, on the same left-padded batch of Countdown first-attempt prompts (`sample:countdown`, r3's chat template):
- raw: `model.generate(do_sample=True, temperature=1, top_k=0)`, transformers' own multinomial sampling;
- r3: `HFGenerator.generate_ids` with one seed per prompt (its per-row sampler, `r3.generation.sampling`);
- raw-greedy / r3-greedy: the same with temperature 0, where both produce identical tokens, so the difference is
  r3's own overhead alone.
Tokens counted are those a user gets: each row's tokens up to and including its end-of-turn token.

Experiments: `prefill` measures how much of a reflection-shaped call (prompt + a 128-token attempt + instruction)
goes to processing the prompt, the most that reusing the shared prefix's KV cache could save; `dtype` compares
float32 and bfloat16 weights (greedy, r3's loop); `episodes` runs whole episodes without and with
`reuse_prefix` (the KV cache of the shared prefix kept between phases) and says whether they came out the same.

The machine is shared: every row states the load average around it, and CPU seconds (`time.process_time`) next to
wall seconds; tokens per CPU-second is the steadier number under load. Write results with `--out FILE.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from r3.generation import load_generator
from r3.generation.hf import HFGenerator
from r3.tasks import get_task
from r3.types import SamplingParams

logger = logging.getLogger("real_model_generation")


def prompts(generator: HFGenerator, count: int) -> list[list[int]]:
    """`count` Countdown first-attempt prompts as token ids (the sample has 50; repeated beyond that)."""
    task = get_task("countdown")
    examples = task.load("sample:countdown", None, None)
    return [generator.template.encode(task.prompt(examples[i % len(examples)])) for i in range(count)]


def left_padded(generator: HFGenerator, token_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in token_lists)
    input_ids = torch.full((len(token_lists), width), generator.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(token_lists):
        input_ids[row, width - len(ids):] = torch.tensor(ids)
        mask[row, width - len(ids):] = 1
    return input_ids, mask


def user_tokens(generator: HFGenerator, rows: list[list[int]]) -> list[list[int]]:
    """Each row up to and including its first stop token (the whole budget when there is none)."""
    stops = set(generator.stop_token_ids)
    return [row[: next((i + 1 for i, t in enumerate(row) if t in stops), len(row))] for row in rows]


def raw_generate(generator: HFGenerator, token_lists: list[list[int]], new_tokens: int,
                 sample: bool) -> list[list[int]]:
    from transformers import GenerationConfig

    input_ids, mask = left_padded(generator, token_lists)
    generator.model.generation_config = GenerationConfig()  # only what is passed below: no checkpoint defaults
    sampling = {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0} if sample else {"do_sample": False}
    config = GenerationConfig(max_new_tokens=new_tokens, eos_token_id=generator.stop_token_ids,
                              pad_token_id=generator.pad_token_id, **sampling)
    with torch.inference_mode():
        output = generator.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config)
    return user_tokens(generator, output[:, input_ids.shape[1]:].tolist())


def r3_generate(generator: HFGenerator, token_lists: list[list[int]], new_tokens: int,
                sample: bool) -> list[list[int]]:
    params = SamplingParams(temperature=1.0 if sample else 0.0, max_new_tokens=new_tokens)
    seeds = list(range(len(token_lists))) if sample else None
    result = generator.generate_ids(token_lists, params, seeds=seeds)
    stop = generator.stop_token_ids[0]
    return [list(c.token_ids) + ([stop] if c.finish_reason == "stop" else []) for (c,) in result]


def timed(run, *args) -> dict[str, Any]:
    """Wall and CPU seconds of `run(*args)`, with the load average before and after."""
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    rows = run(*args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(map(len, rows))
    return {"tokens": tokens, "rows": rows, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "tok_per_s": round(tokens / wall, 1), "tok_per_cpu_s": round(tokens / cpu, 1),
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def compare(generator: HFGenerator, batches: list[int], new_tokens: int, sides: list[str]) -> list[dict]:
    runs = {"raw": (raw_generate, True), "r3": (r3_generate, True),
            "raw-greedy": (raw_generate, False), "r3-greedy": (r3_generate, False)}
    rows: list[dict] = []
    greedy: dict[int, list] = {}
    generator.prefix = None  # the same prompts run several times here: prefix reuse is measured by `episodes`
    for batch in batches:
        token_lists = prompts(generator, batch)
        generator.batch_size = batch
        for side in sides:
            run, sample = runs[side]
            with generator._generation_mode():
                row = {"threads": torch.get_num_threads(), "batch": batch, "side": side,
                       **timed(run, generator, token_lists, new_tokens, sample)}
            produced = row.pop("rows")
            if side.endswith("greedy"):  # do r3's loop and generate pick the same tokens?
                greedy.setdefault(batch, produced)
                row["same_tokens_as_first_greedy"] = produced == greedy[batch]
            rows.append(row)
            logger.info("%s", row)
    return rows


def reflection_shaped(generator: HFGenerator, count: int, attempt_tokens: int = 128) -> list[list[int]]:
    """Prompts as long as a reflection's: the first prompt, an attempt of `attempt_tokens` ids, the next turn."""
    turn = generator.template.next_turn_ids([{"role": "user", "content": "x"}],
                                            "Your answer was wrong. Reflect on what went wrong.")
    filler = generator.tokenizer.encode(" 25 + 7 = 32, then 32 * 3 = 96" * 40, add_special_tokens=False)
    return [ids + filler[:attempt_tokens] + turn for ids in prompts(generator, count)]


def prefill_share(generator: HFGenerator, batch: int, new_tokens: int) -> list[dict]:
    """Seconds of a reflection-shaped call that go to the prompt: a 1-token call against a `new_tokens` call."""
    token_lists = reflection_shaped(generator, batch)
    generator.batch_size, generator.prefix = batch, None  # a fresh prefill each time
    rows = []
    for budget in (1, new_tokens):
        with generator._generation_mode():
            row = timed(r3_generate, generator, token_lists, budget, False)
            row.pop("rows")
        rows.append({"experiment": "prefill", "batch": batch, "prompt_tokens": max(map(len, token_lists)),
                     "new_tokens": budget, **row})
        logger.info("%s", rows[-1])
    return rows


def dtypes(model: str, batch: int, new_tokens: int) -> list[dict]:
    rows = []
    for dtype in ("float32", "bfloat16"):
        generator = load_generator(model, dtype=dtype)
        rows += [{"experiment": "dtype", "dtype": dtype, **row}
                 for row in compare(generator, [batch], new_tokens, ["r3-greedy"])]
    return rows


def episodes(model: str, batch: int, new_tokens: int) -> list[dict]:
    """Whole episodes (attempt, reflection, retry; temperature 1, seed 0) without and with prefix KV reuse."""
    from r3.episodes import EpisodeConfig, run_episodes

    base = load_generator(model, batch_size=batch)
    task = get_task("countdown")
    examples = task.load("sample:countdown", None, batch)
    attempt = SamplingParams(temperature=1.0, max_new_tokens=new_tokens, seed=0)
    config = EpisodeConfig(max_attempts=2, attempt_params=attempt, batch_size=batch,
                           reflection_params=SamplingParams(temperature=1.0, max_new_tokens=new_tokens // 2, seed=0))
    rows, outputs = [], []
    for reuse in (False, True):
        generator = HFGenerator(base.model, base.tokenizer, batch_size=batch, reuse_prefix=reuse)

        def run(generator=generator):
            done = [e for b in run_episodes(task, generator, examples, config) for e in b]
            outputs.append([e.to_dict() for e in done])
            return [[0] * (sum(a.num_tokens for a in e.attempts) + sum(r.num_tokens for r in e.reflections))
                    for e in done]

        row = {"experiment": "episodes", "reuse_prefix": reuse, "batch": batch, **timed(run)}
        row.pop("rows")
        rows.append(row)
        logger.info("%s", row)
    rows[-1]["same_episodes"] = outputs[0] == outputs[1]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a local HF model folder (e.g. SmolLM2-135M-Instruct)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--sides", nargs="+", default=["raw", "r3", "raw-greedy", "r3-greedy"])
    parser.add_argument("--experiment", choices=["compare", "prefill", "dtype", "episodes"], default="compare")
    parser.add_argument("--out", help="append the rows to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows: list[dict] = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        generator = load_generator(args.model)
        compare(generator, [1], 4, ["r3-greedy"])  # warm-up: first-call allocations and lazy imports
        if args.experiment == "compare":
            rows += compare(generator, args.batch, args.new_tokens, args.sides)
        elif args.experiment == "prefill":
            rows += [{"threads": threads, **row} for b in args.batch for row in prefill_share(generator, b, 64)]
        elif args.experiment == "dtype":
            rows += dtypes(args.model, args.batch[0], args.new_tokens)
        else:
            rows += episodes(args.model, args.batch[0], args.new_tokens)
    header = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
              "model": args.model, "new_tokens": args.new_tokens}
    print(json.dumps({"machine": header, "rows": rows}, indent=1))
    if args.out:
        path = Path(args.out)
        previous = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(previous + [{"machine": header, "rows": rows}], indent=1) + "\n")


if __name__ == "__main__":
    main()
