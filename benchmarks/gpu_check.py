"""GPU check: r3 generation and training figures for a ~0.5B random-weight model of a real architecture.

    # on one CUDA GPU (no network; TRL and datasets travel as wheels, see benchmarks/gpu_check.sh):
    PYTHONUNBUFFERED=1 PYTHONPATH=src python benchmarks/gpu_check.py \
        --tokenizer-dir ../shared/real/tokenizers/qwen2.5-0.5b-instruct --out runs/gpu_check.md
    # the same code paths at tiny size on a CPU, in about a minute (what tests/benchmarks/test_gpu_check.py runs):
    .venv/bin/python benchmarks/gpu_check.py --tiny --device cpu --out runs/gpu_check_tiny.md

Why it is built this way: a GPU is lent for minutes, once, with nothing downloadable. So the model is built here, not
fetched: the tokenizer folder's own config.json (Qwen2.5-0.5B-Instruct's, 494M parameters) with random weights in
bf16. Random weights never emit the end-of-turn token, so every generation runs to its token budget: the figures are
the worst case for time, and every episode fails its first attempt and so reflects and retries. Each measurement runs
in its own try block that records the error and moves on, under one global time budget, and the markdown table is
rewritten after every measurement, so a kill still leaves what was measured.

Measured:
  eval        r3's evaluation engine (`r3.episodes.run_episodes` over `HFGenerator`, what `r3 eval` runs):
              episodes/s and generated tokens/s over attempts, reflections and retries.
  generate    the first-attempt phase alone on the same prompts: r3's `HFGenerator.generate` vs raw
              `model.generate` with the same batch, sampling and budget (the overhead of r3's generation layer).
  train       a few GRPOTrainer steps, each variant in a fresh subprocess so that its peak memory is its own: plain
              TRL GRPO with a constant reward against r3's reflection-only step whose reward samples and verifies one
              retry per reflection (as benchmarks/train_step.py does on CPU). Step time is the median after warm-up;
              peak GPU memory is torch.cuda.max_memory_allocated.
Results: docs/benchmarks/gpu.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOKENIZER = REPO / ".." / "shared" / "real" / "tokenizers" / "qwen2.5-0.5b-instruct"
TINY_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "max_window_layers": 2}
# --tiny overrides of the sizes, so that the whole check runs on a CPU in about a minute
TINY_SIZES = {"episodes": 4, "eval_batch": 4, "attempt_tokens": 8, "reflection_tokens": 8, "train_batch": 4,
              "group": 2, "train_steps": 1, "warmup": 1}


def progress(message: str) -> None:
    """One progress line on stdout, flushed at once (the device tool shows only what has been flushed)."""
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Budget:
    """One deadline for the whole check; each measurement asks how much is left before it starts."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_mib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None


def build_model(args: argparse.Namespace, work: Path) -> tuple[object, object, Path, int]:
    """A random-weight model from the tokenizer folder's config.json, saved (with the tokenizer) for TRL to load."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    fields = json.loads((args.tokenizer_dir / "config.json").read_text(encoding="utf-8"))
    fields.update(TINY_SHAPE if args.tiny else {})
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    with torch.device(args.device):  # initialise on the device: seconds instead of a minute of CPU init for 0.5B
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_dir)
    model_dir = work / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model, tokenizer, model_dir, sum(p.numel() for p in model.parameters())


def _examples(count: int) -> list[dict]:
    from r3.tasks import get_task

    task = get_task("countdown")
    examples = task.load("sample:countdown", limit=count)
    return [examples[i % len(examples)] for i in range(count)]  # repeat the sample set for large counts


def measure_eval(args: argparse.Namespace, model, tokenizer) -> dict:
    """r3's episode engine (attempt, verify, reflect, retry, verify) over HFGenerator, as `r3 eval` runs it."""
    import torch

    from r3.episodes import EpisodeConfig, run_episodes
    from r3.generation.hf import HFGenerator
    from r3.tasks import get_task
    from r3.types import SamplingParams

    task = get_task("countdown")
    generator = HFGenerator(model, tokenizer, batch_size=args.eval_batch)
    attempt = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.attempt_tokens, seed=0)
    reflection = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.reflection_tokens, seed=0)
    config = EpisodeConfig(max_attempts=2, attempt_params=attempt, reflection_params=reflection,
                           batch_size=args.eval_batch)
    examples = _examples(args.episodes)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(args.device)
    start = time.perf_counter()
    episodes = [e for batch in run_episodes(task, generator, examples, config) for e in batch]
    _sync(args.device)
    seconds = time.perf_counter() - start
    tokens = sum(a.num_tokens for e in episodes for a in e.attempts) + sum(
        r.num_tokens for e in episodes for r in e.reflections)
    return {"episodes": len(episodes), "seconds": seconds, "episodes_per_s": len(episodes) / seconds,
            "tokens": tokens, "tokens_per_s": tokens / seconds, "peak_mib": _peak_mib(args.device),
            "retried": sum(len(e.attempts) > 1 for e in episodes)}


def measure_generate(args: argparse.Namespace, model, tokenizer) -> dict:
    """The first-attempt phase on the same prompts: raw `model.generate` vs r3's HFGenerator (same batch, sampling
    and budget), each after one warm-up batch."""
    import torch

    from r3.generation.hf import HFGenerator
    from r3.tasks import get_task
    from r3.types import SamplingParams

    task = get_task("countdown")
    prompts = [task.prompt(e) for e in _examples(args.episodes)]
    generator = HFGenerator(model, tokenizer, batch_size=args.eval_batch)
    params = SamplingParams(temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.attempt_tokens, seed=0)
    ids = generator.encode(prompts)
    _raw_generate(model, generator, ids[: args.eval_batch], args.attempt_tokens)  # warm-up
    _sync(args.device)
    start = time.perf_counter()
    raw_tokens = sum(_raw_generate(model, generator, ids[i : i + args.eval_batch], args.attempt_tokens)
                     for i in range(0, len(ids), args.eval_batch))
    _sync(args.device)
    raw_s = time.perf_counter() - start
    generator.generate(prompts[: args.eval_batch], params)  # warm-up
    _sync(args.device)
    start = time.perf_counter()
    outputs = generator.generate(prompts, params)
    _sync(args.device)
    r3_s = time.perf_counter() - start
    r3_tokens = sum(c.num_tokens for group in outputs for c in group)
    torch.cuda.empty_cache() if args.device.startswith("cuda") else None
    return {"prompts": len(prompts), "raw_s": raw_s, "raw_tokens": raw_tokens, "raw_tokens_per_s": raw_tokens / raw_s,
            "r3_s": r3_s, "r3_tokens": r3_tokens, "r3_tokens_per_s": r3_tokens / r3_s}


def _raw_generate(model, generator, token_lists: list[list[int]], budget: int) -> int:
    """Plain transformers: left-padded batch, sampling at T=1 with top-k off; returns tokens up to each stop."""
    import torch

    width = max(len(t) for t in token_lists)
    pad = generator.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(t)) + t for t in token_lists], device=model.device)
    mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in token_lists], device=model.device)
    torch.manual_seed(0)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=mask, do_sample=True, temperature=1.0, top_p=1.0,
                             top_k=0, max_new_tokens=budget, eos_token_id=generator.stop_token_ids,
                             pad_token_id=pad)
    stops = set(generator.stop_token_ids)
    count = 0
    for row in out[:, width:].tolist():
        count += next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
    return count


def measure_train(args: argparse.Namespace, variant: str, model_dir: Path, budget: Budget) -> dict:
    """Run one training variant in a fresh subprocess (its own peak memory; a crash or OOM stays there)."""
    command = [sys.executable, __file__, "--train-variant", variant, "--model-dir", str(model_dir),
               "--device", args.device, *(["--tiny"] if args.tiny else [])]
    for name in ("train_batch", "group", "reflection_tokens", "attempt_tokens", "train_steps", "warmup"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    env = dict(os.environ, PYTHONUNBUFFERED="1", TRL_EXPERIMENTAL_SILENCE="1")
    timeout = max(budget.left(), 1.0)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"stopped after {timeout:.0f} s: the global time budget ran out") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-1500:]}")
    return json.loads(lines[-1][len("RESULT "):])


def train_variant(args: argparse.Namespace) -> dict:
    """The subprocess' job: a few GRPO steps of one variant ("trl": constant reward; "r3": RetryReward)."""
    import torch
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOTrainer

    from r3.tasks import get_task
    from r3.training.reward import RetryReward

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            _sync(args.device)
            self.times.append(time.perf_counter() - self.start)

    def constant_reward(completions, **kwargs):
        return [1.0] * len(completions)

    task = get_task("countdown")
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, padding_side="left")
    reward = constant_reward
    if args.train_variant == "r3":
        reward = RetryReward(task, task.reflection_instruction, task.retry_instruction,
                             max_new_tokens=args.attempt_tokens, temperature=None, log_samples=0)
    timer = StepTimer()
    trainer = GRPOTrainer(model=str(args.model_dir), reward_funcs=[reward], args=_grpo_config(args),
                          train_dataset=_train_dataset(task, args), processing_class=tokenizer, callbacks=[timer])
    if args.train_variant == "r3":
        reward.bind(trainer)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    logged = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    timed = timer.times[args.warmup:] or timer.times
    return {"variant": args.train_variant, "step_s_median": statistics.median(timed), "step_s_all": timer.times,
            "peak_mib": _peak_mib(args.device),
            "reflection_tokens": statistics.mean(h["completions/mean_length"] for h in logged) if logged else None,
            "retry_tokens": statistics.mean(h.get("r3/retry_tokens", 0.0) for h in logged) if logged else None}


def _grpo_config(args: argparse.Namespace):
    """The paper recipe's precision and memory settings (configs/base/paper.yaml) on a GPU; float32 on a CPU."""
    import dataclasses

    from trl import GRPOConfig

    cuda = args.device.startswith("cuda")
    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="gpu_check_train_"), max_steps=args.warmup + args.train_steps,
        per_device_train_batch_size=args.train_batch, num_generations=args.group,
        max_completion_length=args.reflection_tokens, learning_rate=5e-7, beta=0.001, loss_type="grpo",
        temperature=1.0, top_p=1.0, bf16=cuda, use_cpu=not cuda, save_strategy="no", report_to="none",
        logging_steps=1, disable_tqdm=True, seed=0, model_init_kwargs={"dtype": "bfloat16" if cuda else "float32"},
        **{checkpointing: cuda},
    )


def _train_dataset(task, args: argparse.Namespace):
    """Reflection prompts (task, a made-up failed attempt, the reflection instruction), in RetryReward's columns."""
    from datasets import Dataset

    from r3.conversation import reflection_messages

    rows = []
    count = args.train_batch * (args.warmup + args.train_steps)
    for i, example in enumerate(_examples(count)):
        prompt = task.prompt(example)
        attempt, reason = "<answer> 1 + 1 </answer>", "the equation does not use every number"
        messages = reflection_messages(prompt, [attempt], [], [reason], task.reflection_instruction,
                                       task.retry_instruction)
        rows.append({"prompt": messages, "problem_id": str(i), "r3_example": json.dumps(example),
                     "r3_task_prompt": prompt, "r3_attempt": attempt, "r3_reason": reason})
    return Dataset.from_list(rows)


def environment(args: argparse.Namespace) -> dict:
    """Versions and the device: what the figures depend on."""
    from importlib import metadata

    import torch

    packages = {}
    for name in ("torch", "transformers", "trl", "accelerate", "datasets", "peft"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    return {"device": device, "python": sys.version.split()[0], **packages}


def write_report(path: Path, args: argparse.Namespace, results: dict) -> None:
    """The markdown table of everything measured so far (rewritten after each measurement)."""
    lines = [f"# r3 GPU check ({'tiny, ' if args.tiny else ''}{results.get('env', {}).get('device', args.device)})",
             "", f"`{' '.join(sys.argv)}`", ""]
    env = results.get("env")
    if env:
        lines += ["versions: " + ", ".join(f"{k} {v}" for k, v in env.items() if k != "device"), ""]
    if "architecture" in results.get("model", {}):
        m = results["model"]
        lines += [(f"model: {m['architecture']} from {m['config']}, {m['parameters'] / 1e6:.1f}M parameters, "
                   f"random weights, {m['dtype']}; built in {m['seconds']:.1f} s"), ""]
    lines += [(f"sizes: {args.episodes} episodes, batch {args.eval_batch}, attempt/retry budget {args.attempt_tokens}"
               f" tokens, reflection budget {args.reflection_tokens}; training: {args.train_batch} completions per "
               f"step, group {args.group}, {args.train_steps} timed steps after {args.warmup} warm-up"), "",
              "| measurement | figure | value |", "|---|---|---|"]
    lines += _rows(results)
    errors = [(k, v["error"]) for k, v in results.items() if isinstance(v, dict) and "error" in v]
    if errors:
        lines += ["", "## errors", ""] + [f"- **{k}**: `{v}`" for k, v in errors]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rows(results: dict) -> list[str]:
    rows = []
    ev, gen = results.get("eval", {}), results.get("generate", {})
    if "episodes_per_s" in ev:
        rows += [f"| r3 eval (episode engine) | episodes/s | {ev['episodes_per_s']:.2f} |",
                 f"| r3 eval | generated tokens/s (attempts, reflections, retries) | {ev['tokens_per_s']:.0f} |",
                 f"| r3 eval | episodes that reflected and retried | {ev['retried']} of {ev['episodes']} |"]
        if ev.get("peak_mib") is not None:
            rows.append(f"| r3 eval | peak GPU memory MiB | {ev['peak_mib']:.0f} |")
    if "raw_tokens_per_s" in gen:
        rows += [f"| first attempts, raw model.generate | tokens/s | {gen['raw_tokens_per_s']:.0f} |",
                 f"| first attempts, r3 HFGenerator | tokens/s | {gen['r3_tokens_per_s']:.0f} |",
                 f"| first attempts | r3 / raw throughput | {gen['r3_tokens_per_s'] / gen['raw_tokens_per_s']:.3f} |"]
    for variant in ("trl", "r3"):
        t = results.get(f"train_{variant}", {})
        if "step_s_median" in t:
            name = "plain TRL GRPO step" if variant == "trl" else "r3 reflection-only step (with retry)"
            rows.append(f"| {name} | median s/step | {t['step_s_median']:.2f} |")
            if t.get("peak_mib") is not None:
                rows.append(f"| {name} | peak GPU memory MiB | {t['peak_mib']:.0f} |")
            rows.append(f"| {name} | mean reflection / retry tokens | {t['reflection_tokens'] or 0:.0f} / "
                        f"{t['retry_tokens'] or 0:.0f} |")
    trl, r3 = results.get("train_trl", {}), results.get("train_r3", {})
    if "step_s_median" in trl and "step_s_median" in r3:
        rows.append(f"| r3 / plain TRL | step time | {r3['step_s_median'] / trl['step_s_median']:.2f}x |")
    return rows


def run_check(args: argparse.Namespace) -> dict:
    """Every measurement in its own try block, under one time budget; the report is rewritten after each."""
    budget, results = Budget(args.budget_s), {}
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))

    def step(name: str, needs_s: float, fn) -> object:
        if budget.left() < needs_s:
            results[name] = {"error": f"skipped: {budget.left():.0f} s of the time budget left, {needs_s:.0f} needed"}
            progress(f"{name}: skipped (time budget)")
        else:
            progress(f"{name}: start ({budget.left():.0f} s left)")
            started = time.perf_counter()
            try:
                results[name] = fn()
                progress(f"{name}: done in {time.perf_counter() - started:.1f} s: {json.dumps(results[name])}")
            except Exception as error:  # noqa: BLE001 - record and move on: the next figure may still work
                results[name] = {"error": f"{type(error).__name__}: {str(error)[:600]}"}
                progress(f"{name}: FAILED: {traceback.format_exc()[-2000:]}")
        write_report(args.out, args, results)
        return results.get(name)

    step("env", 0, lambda: environment(args))
    built: dict = {}

    def build() -> dict:
        started = time.perf_counter()
        built["model"], built["tokenizer"], built["dir"], params = build_model(args, work)
        return {"architecture": type(built["model"]).__name__, "config": str(args.tokenizer_dir),
                "parameters": params, "dtype": str(built["model"].dtype), "seconds": time.perf_counter() - started}

    step("model", 0, build)
    if "dir" not in built:
        return results
    step("generate", 10, lambda: measure_generate(args, built["model"], built["tokenizer"]))
    step("eval", 10, lambda: measure_eval(args, built["model"], built["tokenizer"]))
    built.pop("model"), built.pop("tokenizer")  # free the GPU for the training subprocesses
    _empty_cache(args.device)
    step("train_trl", 20, lambda: measure_train(args, "trl", built["dir"], budget))
    step("train_r3", 20, lambda: measure_train(args, "r3", built["dir"], budget))
    return results


def _empty_cache(device: str) -> None:
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer-dir", type=Path, default=DEFAULT_TOKENIZER,
                        help="a real tokenizer folder with its model's config.json (default: ../shared/real/"
                             "tokenizers/qwen2.5-0.5b-instruct)")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_check.md"), help="markdown report")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model of the same architecture and small "
                                                            "sizes: the whole check on a CPU in about a minute")
    parser.add_argument("--budget-s", type=float, default=420.0, help="global time budget in seconds")
    parser.add_argument("--episodes", type=int, default=64, help="eval episodes (and first-attempt prompts)")
    parser.add_argument("--eval-batch", type=int, default=64, help="episodes per batch (one generate call each)")
    parser.add_argument("--attempt-tokens", type=int, default=256, help="budget of each attempt and retry")
    parser.add_argument("--reflection-tokens", type=int, default=128, help="budget of each reflection")
    parser.add_argument("--train-batch", type=int, default=16, help="completions per training step and device")
    parser.add_argument("--group", type=int, default=8, help="num_generations (GRPO group size)")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=1, help="training steps before the timed ones")
    parser.add_argument("--train-variant", choices=("trl", "r3"), help=argparse.SUPPRESS)  # the subprocess' job
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        explicit = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv or sys.argv[1:]) if a.startswith("--")}
        for name, value in TINY_SIZES.items():
            if name not in explicit:
                setattr(args, name, value)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))  # r3 from the checkout when it is not installed (the GPU machine)
    if args.train_variant:
        print("RESULT " + json.dumps(train_variant(args)), flush=True)
        return 0
    if not (args.tokenizer_dir / "config.json").exists():
        sys.exit(f"--tokenizer-dir {args.tokenizer_dir}: no config.json there (a real tokenizer folder is needed)")
    results = run_check(args)
    progress(f"report: {args.out}")
    print(args.out.read_text(encoding="utf-8"), flush=True)
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if "model" in failed or len(failed) == len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
