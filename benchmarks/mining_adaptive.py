"""Adaptive failure mining against the paper's fixed 64-sample budget: samples, tokens and wall time.

    .venv/bin/python benchmarks/mining_adaptive.py                      # simulated models + real tiny-model runs
    .venv/bin/python benchmarks/mining_adaptive.py --skip-real --queries 5000

Part 1 (simulated): `SimulatedGenerator` (the test double in tests/mining/simulate.py) fails each sample with a known probability, with token
counts around 150 (success) / 220 (failure). For overall failure rates of 10%, 50% and 90% it runs the real miner
and store twice on the same queries, adaptive and fixed (all 64 samples at once), and reports samples and tokens
drawn, their ratio, and whether both kept the same queries with the same failures (they must: per-sample seeds).
Two populations: "uniform" (every query fails each sample with the rate) and "mixed" (each query has its own
probability, drawn from Beta(rate, 1 - rate): most queries nearly always or nearly never fail, as with real models).

Part 2 (real): the tiny random model from `r3.tiny_model` generates Countdown first attempts with the HF backend;
a sample "fails" iff a hash of its text falls below the rate, so the generation is real and the failure rate is
controlled. One fixed 64-sample pass and one adaptive pass per rate, with wall times.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from r3.mining import MineConfig, MiningStore, RoundSchedule, expected_samples, mine, run_identity
from r3.mining.store import read_ledger
from r3.tasks.countdown import CountdownTask
from r3.types import Verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "mining"))  # the test double lives there
from simulate import CoinTask, SimulatedGenerator, coin_examples

RATES = (0.1, 0.5, 0.9)


def run_once(task, generator, examples, config: MineConfig, out: Path) -> dict[str, Any]:
    """Mine into a fresh directory; return stats, wall time and {problem_id: failed_attempts} of the kept rows."""
    start = time.perf_counter()
    with MiningStore.open(out, run_identity(config, examples, model="benchmark")) as store:
        stats = mine(task, generator, examples, config, store, progress=False)
    wall = time.perf_counter() - start
    kept = {}
    for line in (out / "failures.jsonl").read_text().splitlines():
        row = json.loads(line)
        kept[row["problem_id"]] = row["failed_attempts"]
    # the least any exact method can draw: sample one at a time until the first failure (or the whole budget)
    minimum = sum(entry["first_failure_at"] or config.max_samples for entry in read_ledger(out))
    return {"samples": stats.samples, "tokens": stats.tokens, "kept": len(kept), "wall_s": wall, "rows": kept,
            "minimum_samples": minimum}


def simulated(queries: int, max_samples: int, workdir: Path) -> list[dict[str, Any]]:
    results = []
    for population in ("uniform", "mixed"):
        for rate in RATES:
            rng = random.Random(0)
            probabilities = [rate if population == "uniform" else rng.betavariate(rate, 1 - rate)
                             for _ in range(queries)]
            examples = coin_examples(probabilities)
            runs = {}
            for schedule in ("adaptive", "fixed"):
                config = MineConfig(max_samples=max_samples, schedule=schedule, batch_size=256)
                out = workdir / f"sim-{population}-{rate}-{schedule}"
                runs[schedule] = run_once(CoinTask(), SimulatedGenerator(), examples, config, out)
            adaptive, fixed = runs["adaptive"], runs["fixed"]
            expected = (expected_samples(rate, RoundSchedule(max_samples)) / max_samples
                        if population == "uniform" else None)
            results.append({
                "population": population, "rate": rate, "queries": queries,
                "kept": adaptive["kept"], "same_kept_rows": adaptive["rows"] == fixed["rows"],
                "samples_adaptive": adaptive["samples"], "samples_fixed": fixed["samples"],
                "sample_ratio": adaptive["samples"] / fixed["samples"], "expected_sample_ratio": expected,
                "minimum_samples": adaptive["minimum_samples"],
                "tokens_adaptive": adaptive["tokens"], "tokens_fixed": fixed["tokens"],
                "token_ratio": adaptive["tokens"] / fixed["tokens"],
                "wall_adaptive_s": adaptive["wall_s"], "wall_fixed_s": fixed["wall_s"],
            })
    return results


class HashCoinCountdown(CountdownTask):
    """Countdown prompts; a sample fails iff a hash of its text is below `rate` (a controlled failure rate)."""

    def __init__(self, rate: float):
        self.rate = rate

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        draw = int.from_bytes(hashlib.sha256(completion.encode()).digest()[:8], "big") / 2**64
        return Verdict(draw >= self.rate, "hash below the failure rate" if draw < self.rate else "ok")


def real(queries: int, max_samples: int, max_new_tokens: int, workdir: Path) -> list[dict[str, Any]]:
    from r3.generation import load_generator
    from r3.tiny_model import build_tiny_model

    model = build_tiny_model(workdir / "tiny-model", seed=0)
    generator = load_generator(str(model))
    examples = CountdownTask().load("sample:countdown", limit=queries)
    results = []
    for rate, schedule in [(0.5, "fixed"), *((rate, "adaptive") for rate in RATES)]:
        config = MineConfig(max_samples=max_samples, schedule=schedule, attempt_max_new_tokens=max_new_tokens,
                              batch_size=32)
        run = run_once(HashCoinCountdown(rate), generator, examples, config, workdir / f"real-{rate}-{schedule}")
        results.append({"schedule": schedule, "rate": rate if schedule == "adaptive" else "any",
                        "queries": queries, "kept": run["kept"], "samples": run["samples"],
                        "tokens": run["tokens"], "wall_s": run["wall_s"]})
    return results


def markdown(simulated_rows: list[dict], real_rows: list[dict]) -> str:
    lines = ["| population | failure rate | kept | same kept rows | samples adaptive / fixed | ratio (expected) | "
             "one-at-a-time minimum | tokens adaptive / fixed | token ratio | wall adaptive / fixed (s) |",
             "|---" * 10 + "|"]
    for r in simulated_rows:
        expected = f" ({r['expected_sample_ratio']:.4f})" if r["expected_sample_ratio"] is not None else ""
        lines.append(
            f"| {r['population']} | {r['rate']:.0%} | {r['kept']}/{r['queries']} | {r['same_kept_rows']} | "
            f"{r['samples_adaptive']:,} / {r['samples_fixed']:,} | {r['sample_ratio']:.4f}{expected} | "
            f"{r['minimum_samples']:,} ({r['minimum_samples'] / r['samples_fixed']:.4f}) | "
            f"{r['tokens_adaptive']:,} / {r['tokens_fixed']:,} | {r['token_ratio']:.4f} | "
            f"{r['wall_adaptive_s']:.2f} / {r['wall_fixed_s']:.2f} |")
    if real_rows:
        fixed = next(r for r in real_rows if r["schedule"] == "fixed")
        lines += ["", "| tiny model, HF | failure rate | kept | samples | tokens | wall (s) | wall vs fixed |",
                  "|---" * 7 + "|"]
        for r in real_rows:
            rate = r["rate"] if isinstance(r["rate"], str) else f"{r['rate']:.0%}"
            lines.append(f"| {r['schedule']} | {rate} | {r['kept']}/{r['queries']} | {r['samples']:,} | "
                         f"{r['tokens']:,} | {r['wall_s']:.1f} | {r['wall_s'] / fixed['wall_s']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000, help="simulated queries per setting")
    parser.add_argument("--max-samples", type=int, default=64)
    parser.add_argument("--real-queries", type=int, default=24, help="Countdown queries for the tiny-model runs")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="tiny-model runs")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        simulated_rows = simulated(args.queries, args.max_samples, workdir)
        real_rows = [] if args.skip_real else real(args.real_queries, args.max_samples, args.max_new_tokens, workdir)
    print(markdown(simulated_rows, real_rows))
    if args.out:
        args.out.write_text(json.dumps({"simulated": simulated_rows, "real": real_rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
