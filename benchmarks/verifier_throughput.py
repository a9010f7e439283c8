"""Verdicts per second of each built-in verifier on real rows from ../shared/real (one process, one thread).

    .venv/bin/python benchmarks/verifier_throughput.py                  # every task, 3 passes
    .venv/bin/python benchmarks/verifier_throughput.py --tasks math --passes 5 --json-out runs/throughput.json

Inputs (all real public data or real model output, see ../shared/real/SOURCES.md):
- math: the 110 Qwen2.5-Math CoT responses with their MATH gold answers (`gt`);
- gsm8k: the 100 GPT-3 GSM8K solutions (25 problems x 4 models), their final `A: N` line written as `#### N`,
  judged with `answer_format=boxed_or_final` (plain `Task.verify` where the task has no options, i.e. before r3 had
  gsm8k, the task is skipped);
- function_calling: the 10 xLAM rows, each answered with its gold calls as a bare JSON list, inside `<tool_call>`
  blocks, in xLAM's `{"tool_calls": [...]}` and with one argument changed (40 completions);
- countdown: the 40 Countdown-Tasks-3to4 rows, each answered in TinyZero's format (`<think>...</think>` then
  `<answer>...</answer>` on the last line) eight ways: a solution (from r3's solver), the solution with `= target`,
  with the target on the left, a wrong value, a number used twice, a number not given, a decimal, no tag (320
  completions). Measured side by side with a naive regex+`eval` scorer (TinyZero's `compute_score` logic, from
  benchmarks/countdown_verifier.py), the two taking turns, by process CPU time: `--tasks countdown` prints both and
  their ratio.
The first pass includes start-up costs (math-verify imports, a worker process); later passes are steady state, with
r3's verdict caches cleared before each pass. It reports the median and the fastest of the later passes (on a shared machine the fastest pass is the one that
measures the code rather than the neighbours), and the slowest single input (each input's fastest time over the
later passes, so that preemption is not counted). Runs the same on the code before and after a change (`git stash` is not needed: check out
the old tree elsewhere and point PYTHONPATH at its src/).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from r3.tasks import get_task

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "real"


def read(name: str) -> list[dict]:
    with open(REAL / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def math_cases(task) -> list[tuple[dict, str]]:
    return [(task.normalize({"problem": r["question"], "answer": r["gt"]}), r["response"])
            for r in read("qwen25_math_cot_100_responses.jsonl")]


def gsm8k_cases(task) -> list[tuple[dict, str]]:
    cases = []
    for row in read("gsm8k_gpt3_solutions_first25.jsonl"):
        gold = row["ground_truth"].rsplit("A:", 1)[-1].strip()
        example = task.normalize({"question": row["question"], "answer": f"...\n#### {gold}"})
        for key in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            cases.append((example, final_line_as_hashes(row[key]["solution"])))
    return cases


def final_line_as_hashes(solution: str) -> str:
    """GPT-3's solutions end with `A: N`; GSM8K's own format (and r3's final-line option) is `#### N`."""
    return re.sub(r"\nA:\s*([^\n]*)\s*$", r"\n#### \1", solution)


def function_calling_cases(task) -> list[tuple[dict, str]]:
    cases = []
    for row in read("xlam_function_calling_60k_rows.jsonl"):
        example = task.normalize(row)
        gold = json.loads(row["answers"])
        wrong = json.loads(row["answers"])
        first = wrong[0]["arguments"]
        if first:
            key = next(iter(first))
            first[key] = f"{first[key]}x"
        cases += [(example, json.dumps(gold)),
                  (example, "\n".join(f"<tool_call>{json.dumps(call)}</tool_call>" for call in gold)),
                  (example, json.dumps({"tool_calls": gold})),
                  (example, json.dumps(wrong))]
    return cases


def countdown_cases(task) -> list[tuple[dict, str]]:
    from r3.tasks.countdown_generator import solve

    cases = []
    for row in read("countdown_tasks_3to4_train_first40.jsonl"):
        example = task.normalize(row)
        nums, target = row["nums"], row["target"]
        solution = solve(nums, target) or " + ".join(map(str, nums))
        think = f"<think>\nLet me try combinations of {nums} to reach {target}.\n</think>\n"
        answers = [solution, f"{solution} = {target}", f"{target} = {solution}", " - ".join(map(str, nums)),
                   " + ".join(map(str, [nums[0], *nums])), " + ".join(map(str, [*nums[:-1], nums[-1] + 1])),
                   f"{solution} + 0.5", None]
        cases += [(example, think + (f"<answer>{answer}</answer>" if answer else "I give up.")) for answer in answers]
    return cases


BUILDERS = {"math": (math_cases, {}), "gsm8k": (gsm8k_cases, {"answer_format": "boxed_or_final"}),
            "function_calling": (function_calling_cases, {}), "countdown": (countdown_cases, {})}


def make_task(name: str, options: dict):
    try:
        return get_task(name, options) if options else get_task(name)
    except TypeError:  # r3 before task options
        return get_task(name)


def clear_caches() -> None:
    """Forget cached verdicts (r3's math verifier caches them: RL repeats answers, a benchmark repeats all of them),
    so that every pass measures real verification. The math-verify worker processes stay up."""
    import r3.tasks.math as math_task

    for name in ("_math_verify", "_gold_parses"):
        cached = getattr(math_task, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def measure(name: str, passes: int) -> dict | None:
    builder, options = BUILDERS[name]
    try:
        task = make_task(name, options)
    except Exception as error:  # noqa: BLE001 - a task this r3 does not have
        return {"task": name, "skipped": f"{type(error).__name__}: {error}"}
    cases = builder(task)
    times, correct = [], 0
    slowest = [float("inf")] * len(cases)  # per input: its fastest time over the later passes
    for number in range(passes):
        clear_caches()
        start = time.perf_counter()
        verdicts = []
        for index, (example, completion) in enumerate(cases):
            begin = time.perf_counter()
            verdicts.append(task.verify(example, completion))
            if number:
                slowest[index] = min(slowest[index], time.perf_counter() - begin)
        times.append(time.perf_counter() - start)
        correct = sum(v.correct for v in verdicts)
    steady = statistics.median(times[1:]) if len(times) > 1 else times[0]
    best = min(times[1:]) if len(times) > 1 else times[0]
    return {"task": name, "n": len(cases), "correct": correct, "first_pass_s": round(times[0], 3),
            "median_pass_s": round(steady, 4), "verdicts_per_s": round(len(cases) / steady, 1),
            "ms_per_verdict": round(1000 * steady / len(cases), 3),
            "best_verdicts_per_s": round(len(cases) / best, 1), "best_ms_per_verdict": round(1000 * best / len(cases), 3),
            "slowest_input_ms": round(1000 * max(slowest), 3) if passes > 1 else None}


def countdown_side_by_side(passes: int) -> dict:
    """r3's Countdown verifier and the naive regex+eval scorer on the same completions, taking turns, by process CPU
    time (the fastest pass of each), with the verdicts they disagree on counted."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from countdown_verifier import baseline_verify

    task = get_task("countdown")
    cases = countdown_cases(task)
    plain = [(example["nums"], example["target"], completion) for example, completion in cases]
    best = {"r3": float("inf"), "naive": float("inf")}
    for _ in range(passes):
        start = time.process_time()
        mine = [task.verify(example, completion).correct for example, completion in cases]
        best["r3"] = min(best["r3"], time.process_time() - start)
        start = time.process_time()
        theirs = [baseline_verify(completion, nums, target) for nums, target, completion in plain]
        best["naive"] = min(best["naive"], time.process_time() - start)
    rates = {name: round(len(cases) / max(seconds, 1e-9)) for name, seconds in best.items()}
    return {"task": "countdown side by side", "n": len(cases), "r3_verdicts_per_cpu_s": rates["r3"],
            "naive_verdicts_per_cpu_s": rates["naive"], "ratio": round(rates["r3"] / rates["naive"], 3),
            "r3_correct": sum(mine), "naive_correct": sum(theirs),
            "disagree": sum(a != b for a, b in zip(mine, theirs))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="*", default=list(BUILDERS))
    parser.add_argument("--passes", type=int, default=9)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results = [measure(name, args.passes) for name in args.tasks]
    print(f"{'task':18} {'n':>5} {'correct':>8} {'first pass s':>13} {'verdicts/s':>11} {'ms/verdict':>11}"
          f" {'best verdicts/s':>16} {'best ms':>8} {'slowest input ms':>17}")
    for r in results:
        if "skipped" in r:
            print(f"{r['task']:18} skipped ({r['skipped'][:80]})")
            continue
        print(f"{r['task']:18} {r['n']:>5} {r['correct']:>8} {r['first_pass_s']:>13} {r['verdicts_per_s']:>11}"
              f" {r['ms_per_verdict']:>11} {r['best_verdicts_per_s']:>16} {r['best_ms_per_verdict']:>8}"
              f" {r['slowest_input_ms']!s:>17}")
    if "countdown" in args.tasks:
        side = countdown_side_by_side(max(args.passes, 3) * 10)
        print(f"\ncountdown, {side['n']} completions, fastest pass by process CPU time: r3 "
              f"{side['r3_verdicts_per_cpu_s']:,} verdicts/s, naive regex+eval {side['naive_verdicts_per_cpu_s']:,} "
              f"verdicts/s, ratio {side['ratio']}x; correct: r3 {side['r3_correct']}, naive {side['naive_correct']} "
              f"({side['disagree']} verdicts differ)")
        results.append(side)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
