"""`r3 forgetting`: did training cost general ability? Standard benchmarks before and after, via lm-eval.

    r3 forgetting --base Qwen/Qwen2.5-1.5B-Instruct --trained runs/train/final --out runs/forgetting
    r3 forgetting --base M0 --trained M1 --tasks gsm8k,hellaswag --limit 200 --num-fewshot gsm8k=8 --out DIR
    r3 forgetting --base M0 --trained M1 --tasks my_task --include-path my_tasks/ --backend vllm --out DIR

Per-benchmark options take one value for every benchmark ("5") or values per benchmark ("gsm8k=8,hellaswag=10").
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "compare a model before and after training on standard benchmarks (lm-evaluation-harness)"


def _limit(text: str) -> int | float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return int(value) if value >= 1 and value.is_integer() else value


def _batch_size(text: str) -> int | str:
    return text if text.startswith("auto") else int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from r3.forgetting.benchmarks import DEFAULT_BENCHMARKS

    parser.add_argument("--base", required=True, help="the model before training: hub id or local directory")
    parser.add_argument("--trained", required=True, help="the model after training: hub id or local directory")
    parser.add_argument("--out", required=True, type=Path, help="output directory (finished benchmarks are reused)")
    parser.add_argument(
        "--tasks",
        default=",".join(DEFAULT_BENCHMARKS),
        help="comma-separated lm-eval task or group names (default: %(default)s)",
    )
    parser.add_argument("--limit", type=_limit, help="documents per task (N, or a fraction < 1); for quick checks")
    parser.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="model backend (default: hf)")
    parser.add_argument(
        "--include-path", action="append", default=[], metavar="DIR", help="a folder of your own lm-eval task YAMLs"
    )
    parser.add_argument(
        "--no-builtin-tasks",
        action="store_true",
        help="index only --include-path folders (starts faster; built-in tasks can still be included by path)",
    )
    parser.add_argument("--num-fewshot", metavar="N|TASK=N,...", help="few-shot examples (default: per benchmark)")
    parser.add_argument(
        "--apply-chat-template",
        metavar="true|false|auto|TASK=...",
        help="wrap prompts in the model's chat template (default: per benchmark; auto = when the tokenizer has one)",
    )
    parser.add_argument("--max-gen-toks", metavar="N|TASK=N,...", help="new tokens for generative benchmarks")
    parser.add_argument(
        "--metric",
        metavar="METRIC,FILTER|TASK=METRIC,FILTER,...",
        help="the harness metric to report, e.g. gsm8k=exact_match,strict-match (default: per benchmark)",
    )
    parser.add_argument("--batch-size", type=_batch_size, default=8, help="harness batch size, or 'auto' (default: 8)")
    parser.add_argument("--device", help="e.g. cuda:0 or cpu (default: cuda when available)")
    parser.add_argument("--dtype", help="e.g. bfloat16 (default: bfloat16 on GPU, float32 on CPU)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub")
    parser.add_argument(
        "--model-args",
        metavar="K=V,...",
        help="extra arguments for the harness's HFLM/VLLM wrapper, e.g. gpu_memory_utilization=0.8,max_length=4096",
    )
    parser.add_argument("--bootstrap-iters", type=int, default=100_000, help="harness bootstrap iterations for stderr")
    parser.add_argument("--seed", type=int, default=1234, help="seed for sampling and few-shot selection")
    parser.add_argument("--log-samples", action="store_true", help="also save every prompt and response")
    parser.add_argument("--overwrite", action="store_true", help="rerun benchmarks already finished in --out")


def build_config(args: argparse.Namespace):
    """The ForgettingConfig the command line describes (per-benchmark defaults with the overrides applied)."""
    from r3.errors import R3Error
    from r3.forgetting import ForgettingConfig, ModelOptions, settings_for
    from r3.forgetting.benchmarks import parse_bool, parse_override

    names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if not names:
        raise R3Error("--tasks: no benchmark named")
    overrides = {
        "num_fewshot": parse_override(args.num_fewshot, int, "--num-fewshot"),
        "apply_chat_template": parse_override(args.apply_chat_template, parse_bool, "--apply-chat-template"),
        "max_gen_toks": parse_override(args.max_gen_toks, int, "--max-gen-toks"),
        "metric": parse_override(args.metric, str, "--metric"),
    }
    for option, override in overrides.items():
        unknown = sorted(set(override.per_task) - set(names))
        if unknown:
            raise R3Error(f"--{option.replace('_', '-')}: {', '.join(unknown)} not among --tasks ({args.tasks})")
    model_args = {}
    if args.model_args:
        from lm_eval.utils import simple_parse_args_string

        model_args = simple_parse_args_string(args.model_args)
    return ForgettingConfig(
        base=args.base,
        trained=args.trained,
        out_dir=args.out,
        benchmarks=tuple(settings_for(name, **overrides) for name in names),
        model=ModelOptions(
            backend=args.backend,
            device=args.device,
            dtype=args.dtype,
            batch_size=args.batch_size,
            trust_remote_code=args.trust_remote_code,
            model_args=model_args,
        ),
        include_paths=tuple(args.include_path),
        include_builtin=not args.no_builtin_tasks,
        limit=args.limit,
        bootstrap_iters=args.bootstrap_iters,
        seed=args.seed,
        log_samples=args.log_samples,
        overwrite=args.overwrite,
    )


def run(args: argparse.Namespace) -> int:
    from r3.forgetting import run_forgetting

    result = run_forgetting(build_config(args))
    print(result.table, end="")
    names = ("table.md", "table.json", "forgetting.png", "base/results.json", "trained/results.json")
    print(f"\nwritten in {args.out}: {', '.join(name for name in names if (args.out / name).exists())}")
    return 1 if result.failures else 0
