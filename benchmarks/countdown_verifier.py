"""Countdown verifier throughput and worst case: r3's parser against the common regex-then-eval scorer, in one run.

    .venv/bin/python benchmarks/countdown_verifier.py                # 120,000 completions, seed 0
    .venv/bin/python benchmarks/countdown_verifier.py --n 200000 --cpu 1 --json-out runs/bench_countdown.json
    # instructions per verdict, independent of machine load: (count with --passes 2) - (with --passes 0), / 2 / n
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python benchmarks/countdown_verifier.py \
        --n 5000 --seed 1 --max-chars 100000 --count-only r3 --passes 2

It builds a mix of completions for generated puzzles (correct, wrong, malformed, adversarial: `**` towers, 1 MB
inputs, deep nesting, thousands of tags, division by zero) and measures, in one process (one core):
- verdicts per second of `CountdownTask.verify` (what r3 calls) and of the baseline, chunk by chunk, the two taking
  turns, by process CPU time and wall clock, for the first pass and for the fastest of --repeats timings per chunk
  (on a shared machine the CPU time and the best-of figures are the ones that measure the code, not the neighbours);
- the time of every single input (thread CPU time and wall clock around each call); the slowest inputs are timed
  again in --retime rounds and their minimum is kept, which removes preemption spikes but not real cost;
- where the two scorers disagree, by category.

The baseline reimplements, for comparison only, the logic of TinyZero's countdown `compute_score`
(verl/utils/reward_score/countdown.py), the scorer most Countdown RL code copies: keep the last line, take the last
`<answer>(.*?)</answer>`, compare the sorted `\\d+` numbers with the given ones, check the characters against
`^[\\d+\\-*/().\\s]+$`, `eval` with no builtins, accept within 1e-5. Its "Assistant:" prompt split and random
printing are left out, and it returns True only for the full score (0.1 format credit counts as incorrect). It would
hang on `44**35**19` (the regex allows `*`), so an equation containing `**` is not passed to eval: it counts as
skipped and incorrect. Nothing r3 ships uses this code.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

from r3.tasks import get_task
from r3.tasks.countdown_generator import generate_puzzles

THINK = [
    "Let me try combining the largest numbers first.", "That overshoots the target, so subtract instead.",
    "Maybe a division gives a small factor.", "Check: the product is too large.", "Try adding the two small ones.",
    "Close, but off by a few; swap the order.", "Multiplying by the difference might work.",
]
HUGE = 1_000_000  # characters of an adversarial huge input


# --- the baseline: regex, then eval (TinyZero's logic, reimplemented for comparison only) ---------------------------

_BASELINE_TAG = re.compile(r"<answer>(.*?)</answer>")
_BASELINE_NUMBER = re.compile(r"\d+")
_BASELINE_CHARS = re.compile(r"^[\d+\-*/().\s]+$")
baseline_skipped = 0


def baseline_verify(completion: str, nums: list[int], target: int) -> bool:
    global baseline_skipped
    last_line = completion.split("\n")[-1]
    matches = list(_BASELINE_TAG.finditer(last_line))
    if not matches:
        return False
    equation = matches[-1].group(1).strip()
    try:
        if sorted(int(n) for n in _BASELINE_NUMBER.findall(equation)) != sorted(nums):
            return False
    except Exception:  # noqa: BLE001 - the baseline's own blanket except, kept as it is
        return False
    if "**" in equation:  # the guard: eval would run for hours on a power tower
        baseline_skipped += 1
        return False
    try:
        if not _BASELINE_CHARS.match(equation):
            return False
        result = eval(equation, {"__builtins__": None}, {})  # the unsafe baseline being measured
        return abs(result - target) < 1e-5
    except Exception:  # noqa: BLE001 - the baseline's own blanket except, kept as it is
        return False


# --- the mix of completions ----------------------------------------------------------------------------------------


def build_mix(n: int, seed: int, puzzles: int) -> list[tuple[str, list[int], int, str]]:
    """(completion, nums, target, category) tuples: n of them, in shuffled order."""
    rng = random.Random(seed)
    pool = list(generate_puzzles(puzzles, seed=seed))
    names = list(MAKERS)
    weights = [weight for _, weight in MAKERS.values()]
    mix = []
    for _ in range(n):
        name = rng.choices(names, weights)[0]
        puzzle = rng.choice(pool)
        text = MAKERS[name][0](rng, puzzle.nums, puzzle.target, puzzle.solution)
        mix.append((text, puzzle.nums, puzzle.target, name))
    return mix


def think(rng: random.Random) -> str:
    return "<think>" + " ".join(rng.choices(THINK, k=rng.randint(2, 8))) + "</think>\n"


def answer(rng: random.Random, equation: str) -> str:
    return f"{think(rng)}<answer>{equation}</answer>"


def _swap_operator(solution: str) -> str:
    for old, new in (("+", "-"), ("-", "+"), ("*", "+"), ("/", "*")):
        if old in solution:
            return solution.replace(old, new, 1)
    return solution + " + 1"


_HUGE_PROSE = ("I am still thinking about this one. " * (HUGE // 36 + 1))[:HUGE]
_HUGE_TAGS = ("<answer>1 + 2</answer>" * (HUGE // 22 + 1))[:HUGE]

MAKERS = {
    # correct
    "correct": (lambda r, n, t, s: answer(r, s), 30),
    "correct = N": (lambda r, n, t, s: answer(r, f"{s} = {t}"), 4),
    "correct, multi-line": (lambda r, n, t, s: answer(r, "\n" + s.replace(" ", "\n ") + "\n"), 2),
    "correct, no spaces": (lambda r, n, t, s: answer(r, s.replace(" ", "")), 2),
    "correct after a wrong tag": (lambda r, n, t, s: answer(r, _swap_operator(s)) + "\n" + answer(r, s), 2),
    # wrong
    "wrong value": (lambda r, n, t, s: answer(r, _swap_operator(s)), 12),
    "wrong = N": (lambda r, n, t, s: answer(r, f"{s} = {t + 1}"), 2),
    "number repeated": (lambda r, n, t, s: answer(r, f"{s} + {n[0]} - {n[0]}"), 3),
    "number missing": (lambda r, n, t, s: answer(r, " + ".join(map(str, n[1:]))), 3),
    "numbers concatenated": (lambda r, n, t, s: answer(r, f"{n[0]}{n[1]} + " + " + ".join(map(str, n[2:]))), 2),
    "number not given": (lambda r, n, t, s: answer(r, f"{s} + 100"), 2),
    # malformed
    "no tag": (lambda r, n, t, s: think(r) + f"The answer is {s}.", 6),
    "unclosed tag": (lambda r, n, t, s: think(r) + f"<answer>{s}", 2),
    "decimal": (lambda r, n, t, s: answer(r, f"{s} + 0.5"), 2),
    "unary minus": (lambda r, n, t, s: answer(r, f"-{s}"), 2),
    "leading zero": (lambda r, n, t, s: answer(r, s.replace(str(n[0]), f"0{n[0]}", 1)), 2),
    "floor division": (lambda r, n, t, s: answer(r, s.replace("/", "//") if "/" in s else s.replace("+", "//", 1)), 2),
    "modulo": (lambda r, n, t, s: answer(r, s.replace("-", "%", 1) if "-" in s else f"{s} % 7"), 1),
    "name or call": (lambda r, n, t, s: answer(r, f"abs({s})"), 2),
    "prose in tag": (lambda r, n, t, s: answer(r, f"The equation is {s}"), 2),
    "unbalanced": (lambda r, n, t, s: answer(r, f"(({s})"), 2),
    # adversarial
    "power tower": (lambda r, n, t, s: answer(r, "**".join(map(str, n))), 4),
    "division by zero": (lambda r, n, t, s: answer(r, f"{n[0]} / ({n[1]} - {n[1]})" + "".join(f" + {x}" for x in n[2:])), 1),
    "deep nesting": (lambda r, n, t, s: answer(r, "(" * 300 + s + ")" * 300), 1),
    "long literal": (lambda r, n, t, s: answer(r, "9" * 5000), 0.5),
    "1000 tags": (lambda r, n, t, s: "<answer>1</answer>" * 1000 + answer(r, s), 0.5),
    "1 MB prose, answer at end": (lambda r, n, t, s: _HUGE_PROSE + answer(r, s), 0.03),
    "1 MB prose, no tag": (lambda r, n, t, s: _HUGE_PROSE, 0.03),
    "1 MB of tags": (lambda r, n, t, s: _HUGE_TAGS, 0.03),
    "1 MB answer": (lambda r, n, t, s: f"<answer>{'(' * HUGE}</answer>", 0.03),
}


# --- measurement -----------------------------------------------------------------------------------------------------


def throughput(runners: dict, mix: list, repeats: int, chunk: int = 2000) -> tuple[dict, dict]:
    """Verdicts per second of each runner (a function of a slice of the mix), and each one's verdicts.

    The mix is cut into chunks; each chunk is timed `repeats` times per runner, the runners taking turns, so both
    see the same machine. "first pass" sums each chunk's first timing; "best" sums each chunk's fastest timing, which
    filters out bursts of load from other processes on a shared machine (not the scorer's own cost, which every
    repeat pays).
    """
    sums = {name: {"first_cpu": 0.0, "first_wall": 0.0, "best_cpu": 0.0, "best_wall": 0.0} for name in runners}
    verdicts: dict[str, list] = {name: [] for name in runners}
    for start in range(0, len(mix), chunk):
        part = mix[start : start + chunk]
        for name, run in runners.items():
            cpu_times, wall_times = [], []
            for repeat in range(repeats):
                gc.disable()
                wall, cpu = time.perf_counter(), time.process_time()
                out = run(part)
                cpu_times.append(time.process_time() - cpu)
                wall_times.append(time.perf_counter() - wall)
                gc.enable()
                if repeat == 0:
                    verdicts[name].extend(out)
            totals = sums[name]
            totals["first_cpu"] += cpu_times[0]
            totals["first_wall"] += wall_times[0]
            totals["best_cpu"] += min(cpu_times)
            totals["best_wall"] += min(wall_times)
    rates = {name: {f"verdicts_per_s_{key}": len(mix) / value for key, value in totals.items()}
             for name, totals in sums.items()}
    return rates, verdicts


def per_input(call, mix: list, retime: int, top: int = 300) -> dict:
    """Time every input once (thread CPU time, which excludes time the process was not running, and wall clock);
    re-time the `top` slowest `retime` times, spread over rounds, and keep each one's minimum."""
    cpu_clock, wall_clock = time.thread_time_ns, time.perf_counter_ns
    cpu, wall = [0] * len(mix), [0] * len(mix)
    gc.disable()
    for index, entry in enumerate(mix):
        start_wall, start_cpu = wall_clock(), cpu_clock()
        call(entry)
        cpu[index], wall[index] = cpu_clock() - start_cpu, wall_clock() - start_wall
    raw_max_cpu, raw_max_wall = max(cpu), max(wall)
    slowest = set(sorted(range(len(mix)), key=cpu.__getitem__)[-top:])
    slowest |= set(sorted(range(len(mix)), key=wall.__getitem__)[-top:])
    for _ in range(retime):  # rounds over all the slow inputs, so one burst of load does not hit every re-timing
        for index in slowest:
            start_wall, start_cpu = wall_clock(), cpu_clock()
            call(mix[index])
            cpu[index] = min(cpu[index], cpu_clock() - start_cpu)
            wall[index] = min(wall[index], wall_clock() - start_wall)
    gc.enable()
    worst = max(range(len(mix)), key=cpu.__getitem__)
    by_category: dict[str, int] = {}
    for entry, elapsed in zip(mix, cpu):
        by_category[entry[3]] = max(by_category.get(entry[3], 0), elapsed)
    ordered = sorted(cpu)
    return {
        "max_cpu_us": cpu[worst] / 1e3,
        "max_category": mix[worst][3],
        "max_wall_us": max(wall) / 1e3,
        "raw_max_cpu_us": raw_max_cpu / 1e3,
        "raw_max_wall_us": raw_max_wall / 1e3,
        "p50_cpu_us": ordered[len(ordered) // 2] / 1e3,
        "p99_cpu_us": ordered[int(0.99 * len(ordered))] / 1e3,
        "inputs_over_1ms_cpu": sum(elapsed > 1_000_000 for elapsed in cpu),
        "max_cpu_us_by_category": {k: v / 1e3 for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])},
    }


def calibration() -> float:
    """Microseconds for `sum(range(100))` here (best of 20): a yardstick to compare machines by."""
    best = float("inf")
    for _ in range(20):
        start = time.process_time()
        for _ in range(1000):
            sum(range(100))
        best = min(best, time.process_time() - start)
    return best * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120_000, help="completions in the mix (default 120000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--puzzles", type=int, default=500, help="distinct generated puzzles (default 500)")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each chunk; the fastest is kept")
    parser.add_argument("--retime", type=int, default=5, help="re-timings of the slowest inputs")
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON")
    parser.add_argument("--count-only", choices=["r3", "baseline"],
                        help="no timing: run one scorer --passes times over the mix (for valgrind/perf counts)")
    parser.add_argument("--passes", type=int, default=1, help="passes for --count-only")
    parser.add_argument("--max-chars", type=int, help="leave out completions longer than this")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    verify = get_task("countdown").verify
    # each entry: completion, nums, target, category, and the example dict a real caller already holds
    mix = [(text, nums, target, category, {"nums": nums, "target": target})
           for text, nums, target, category in build_mix(args.n, args.seed, args.puzzles)
           if args.max_chars is None or len(text) <= args.max_chars]
    if args.count_only:
        for _ in range(args.passes):
            if args.count_only == "r3":
                [verify(example, text) for text, _, _, _, example in mix]
            else:
                [baseline_verify(text, nums, target) for text, nums, target, _, _ in mix]
        print(f"{len(mix)} completions x {args.passes} passes")
        return 0
    categories = Counter(entry[3] for entry in mix)
    load = os.getloadavg()[0]
    print(f"{len(mix):,} completions, {len(categories)} categories, {sum(len(e[0]) for e in mix) / 1e6:.1f} M chars; "
          f"python {sys.version.split()[0]}, load average {load:.2f}, cpus {len(os.sched_getaffinity(0))}, "
          f"sum(range(100)) takes {calibration():.2f} us")

    runners = {
        "r3": lambda part: [verify(example, text).correct for text, _, _, _, example in part],
        "baseline": lambda part: [baseline_verify(text, nums, target) for text, nums, target, _, _ in part],
    }
    rates, verdicts = throughput(runners, mix, args.repeats)
    skipped = baseline_skipped // args.repeats
    r3_times = per_input(lambda entry: verify(entry[4], entry[0]), mix, args.retime)
    base_times = per_input(lambda entry: baseline_verify(entry[0], entry[1], entry[2]), mix, args.retime)

    disagreements = Counter(
        (entry[3], "baseline accepts" if base else "r3 accepts")
        for entry, ours, base in zip(mix, verdicts["r3"], verdicts["baseline"]) if ours != base
    )
    figures = {
        "n": len(mix), "seed": args.seed, "load_average_1min": [load, os.getloadavg()[0]],
        "r3": {**rates["r3"], **r3_times, "accuracy": sum(verdicts["r3"]) / len(mix)},
        "baseline": {**rates["baseline"], **base_times, "accuracy": sum(verdicts["baseline"]) / len(mix),
                     "skipped_power_towers": skipped},
        "disagreements": {f"{c}: {who}": k for (c, who), k in sorted(disagreements.items())},
        "categories": dict(categories),
    }
    _report(figures)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(figures, indent=2))
    return 0


def _report(f: dict) -> None:
    rows = [
        ("verdicts/s, CPU time, best of repeats", "verdicts_per_s_best_cpu", "{:,.0f}"),
        ("verdicts/s, CPU time, first pass", "verdicts_per_s_first_cpu", "{:,.0f}"),
        ("verdicts/s, wall clock, best of repeats", "verdicts_per_s_best_wall", "{:,.0f}"),
        ("median per input, CPU (us)", "p50_cpu_us", "{:.2f}"),
        ("p99 per input, CPU (us)", "p99_cpu_us", "{:.2f}"),
        ("max per input, CPU, min of re-timings (us)", "max_cpu_us", "{:.1f}"),
        ("max per input, wall, min of re-timings (us)", "max_wall_us", "{:.1f}"),
        ("max per input, CPU, single timing (us)", "raw_max_cpu_us", "{:.1f}"),
        ("inputs over 1 ms (CPU, after re-timing)", "inputs_over_1ms_cpu", "{}"),
        ("accuracy on the mix", "accuracy", "{:.4f}"),
    ]
    print("\n| measure | r3 CountdownTask.verify | regex + eval baseline |\n|---|---|---|")
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(f['r3'][key])} | {fmt.format(f['baseline'][key])} |")
    print(f"| slowest input | {f['r3']['max_category']} | {f['baseline']['max_category']} |")
    speedup = f["r3"]["verdicts_per_s_best_cpu"] / f["baseline"]["verdicts_per_s_best_cpu"]
    print(f"\nr3: {speedup:.2f}x the baseline's verdicts/s (CPU time, best of repeats); the baseline skipped "
          f"{f['baseline']['skipped_power_towers']} power towers per pass (eval would hang on them).")
    for name in ("r3", "baseline"):
        slowest = list(f[name]["max_cpu_us_by_category"].items())[:6]
        print(f"slowest categories, {name} (us CPU):", ", ".join(f"{k} {v:.0f}" for k, v in slowest))
    print("\ndisagreements (category: who accepts):")
    for key, count in f["disagreements"].items():
        print(f"  {key}: {count}")


if __name__ == "__main__":
    sys.exit(main())
