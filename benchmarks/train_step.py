"""Cost of the retry: an r3 training step against a plain TRL GRPO step with the same model, batch and group size.

    .venv/bin/python benchmarks/train_step.py                       # tiny model on CPU, built on the fly
    .venv/bin/python benchmarks/train_step.py --model runs/tiny --steps 10 --max-new-tokens 64

Both variants train on the same reflection prompts (Countdown, from `sample:countdown`, with a made-up failed
attempt). The plain step is GRPOTrainer with a constant reward: it samples the reflections and trains on them. The
r3 step does the same and, inside its reward, samples one retry per reflection from the current policy and verifies
it. Each variant runs in a fresh subprocess, so its peak memory is its own: peak RSS (whole process, resource), the
growth of peak RSS during training, the peak of Python-level allocations (tracemalloc, which does not see torch's
CPU tensor memory) and, on a GPU, torch.cuda.max_memory_allocated. Step times (wall and process CPU time, the
latter less sensitive to a busy machine) are medians over the timed steps, after warm-up steps.
Results: docs/benchmarks/training.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def _rows(count: int) -> list[dict]:
    from r3.conversation import reflection_messages
    from r3.tasks import get_task
    from r3.training.data import _row

    task = get_task("countdown")
    examples = task.load("sample:countdown", limit=count)
    rows = []
    for i, example in enumerate(examples):
        prompt = task.prompt(example)
        attempt, reason = "<answer> 1 + 1 </answer>", "the equation does not use every number"
        messages = reflection_messages(prompt, [attempt], [], [reason], task.reflection_instruction,
                                       task.retry_instruction)
        rows.append(_row(messages, str(i), example, prompt, attempt, reason))
    return rows


def _training_args(out: Path, args: argparse.Namespace):
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(out), max_steps=args.warmup + args.steps, per_device_train_batch_size=args.batch,
        num_generations=args.group, max_completion_length=args.max_new_tokens, learning_rate=1e-6, beta=0.001,
        loss_type="grpo", bf16=False, activation_checkpointing=False, use_cpu=not args.cuda, save_strategy="no",
        report_to="none", logging_steps=1, disable_tqdm=True, seed=0,
    )


def run_variant(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOTrainer

    from r3.training.data import to_dataset
    from r3.training.reward import RetryReward

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.cpu: list[float] = []

        def on_step_begin(self, *a, **k):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            self.times.append(time.perf_counter() - self.start)
            self.cpu.append(time.process_time() - self.cpu_start)

    def constant_reward(completions, **kwargs):
        return [1.0] * len(completions)

    out = Path(tempfile.mkdtemp(prefix="train_step_"))
    tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    dataset = to_dataset(_rows(args.batch * (args.warmup + args.steps)))
    timer = StepTimer()
    if args.variant == "r3":
        from r3.tasks import get_task

        task = get_task("countdown")
        reward = RetryReward(task, task.reflection_instruction, task.retry_instruction,
                             max_new_tokens=args.max_new_tokens, temperature=None, log_samples=0)
    else:
        reward = constant_reward
    trainer = GRPOTrainer(model=args.model, reward_funcs=[reward], args=_training_args(out, args),
                          train_dataset=dataset, processing_class=tokenizer, callbacks=[timer])
    if args.variant == "r3":
        reward.bind(trainer)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    trainer.train()
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timed = timer.times[args.warmup:]
    logged = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    return {
        "variant": args.variant, "step_s_median": statistics.median(timed), "step_s_all": timed,
        "cpu_s_median": statistics.median(timer.cpu[args.warmup:]),
        "peak_rss_mib": rss_after / 1024, "rss_growth_mib": (rss_after - rss_before) / 1024,
        "python_peak_mib": python_peak / 2**20,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if args.cuda else None,
        "reflection_tokens": statistics.mean(h["completions/mean_length"] for h in logged),
        "retry_tokens": statistics.mean(h.get("r3/retry_tokens", 0.0) for h in logged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory or hub id (default: a tiny model built on the fly)")
    parser.add_argument("--batch", type=int, default=8, help="completions per step (per_device_train_batch_size)")
    parser.add_argument("--group", type=int, default=4, help="num_generations")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="reflection and retry budget")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cuda", action="store_true", help="train on the GPU")
    parser.add_argument("--variant", choices=["r3", "trl"], help=argparse.SUPPRESS)  # the subprocess' job
    args = parser.parse_args()
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args)), flush=True)
        return
    if args.model is None:
        from r3.tiny_model import build_tiny_model

        args.model = str(build_tiny_model(Path(tempfile.mkdtemp(prefix="tiny_")) / "model"))
    results = []
    for variant in ("trl", "r3"):
        command = [sys.executable, __file__, "--variant", variant, *_forward(args)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            sys.exit(f"{variant} run failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(lines[-1][7:]))
    print(_table(results, args))


def _forward(args: argparse.Namespace) -> list[str]:
    out = ["--model", args.model, "--batch", str(args.batch), "--group", str(args.group),
           "--max-new-tokens", str(args.max_new_tokens), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    return out + (["--cuda"] if args.cuda else [])


def _table(results: list[dict], args: argparse.Namespace) -> str:
    trl, r3 = results
    header = (f"batch {args.batch} completions, group {args.group}, {args.max_new_tokens} new tokens, "
              f"{args.steps} timed steps after {args.warmup} warm-up, model {args.model}")
    columns = ("| step | median s/step | median CPU s/step | peak RSS MiB | RSS growth in training MiB "
               "| Python peak MiB | CUDA peak MiB | reflection tokens | retry tokens |")
    lines = [header, "", columns, "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cuda = f"{r['cuda_peak_mib']:.0f}" if r["cuda_peak_mib"] is not None else "-"
        lines.append(f"| {r['variant']} | {r['step_s_median']:.3f} | {r['cpu_s_median']:.3f} | "
                     f"{r['peak_rss_mib']:.0f} | "
                     f"{r['rss_growth_mib']:.0f} | {r['python_peak_mib']:.1f} | {cuda} | "
                     f"{r['reflection_tokens']:.1f} | {r['retry_tokens']:.1f} |")
    lines.append("")
    lines.append(f"r3 / plain TRL step time: {r3['step_s_median'] / trl['step_s_median']:.2f}x wall, "
                 f"{r3['cpu_s_median'] / trl['cpu_s_median']:.2f}x CPU")
    lines.append(f"all step times (s): trl {[round(t, 3) for t in trl['step_s_all']]}, "
                 f"r3 {[round(t, 3) for t in r3['step_s_all']]}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
