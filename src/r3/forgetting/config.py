"""`r3 forgetting` settings: one dataclass, parsed from YAML and the command line by `r3.config.parser`.

    r3 forgetting --base Qwen/Qwen2.5-1.5B-Instruct --trained runs/train --tasks gsm8k,hellaswag --limit 200 --out DIR

Per-benchmark options take one value for every benchmark ("5") or values per benchmark ("gsm8k=8,hellaswag=10").
`plan()` turns the settings into the `ForgettingPlan` that `run_forgetting` executes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from r3.config import CommandConfig, TemplateArgs, ThreadArgs, VllmArgs, option
from r3.errors import R3Error


@dataclass
class ForgettingConfig(CommandConfig, ThreadArgs, VllmArgs, TemplateArgs):
    """Everything `r3 forgetting` takes."""

    base: str | None = option(None, "the model before training: hub id or local directory")
    trained: str | None = option(None, "the model after training: hub id or local directory")
    out: str | None = option(None, "output directory (finished benchmarks are reused on a rerun)")
    tasks: str = option("mmlu_pro,gsm8k,hellaswag,minerva_math", "comma-separated lm-eval task or group names")
    limit: float | None = option(None, "documents per task (N, or a fraction < 1); for quick checks")
    backend: Literal["hf", "vllm"] = option("hf", "model backend: hf (transformers) or vllm")
    include_path: list[str] = option([], "folders of your own lm-eval task YAMLs")
    builtin_tasks: bool = option(True, "index lm-eval's built-in tasks (--no-builtin-tasks starts faster)")
    num_fewshot: str | None = option(None, "few-shot examples: N or TASK=N,... (default: per benchmark)")
    apply_chat_template: str | None = option(
        None, "wrap prompts in the chat template: true, false, auto or TASK=...,... (default: per benchmark)")
    max_gen_toks: str | None = option(None, "new tokens for generative benchmarks: N or TASK=N,...")
    metric: str | None = option(None, "the metric to report: METRIC,FILTER or TASK=METRIC,FILTER,...")
    batch_size: str = option("32", "harness batch size, or 'auto'")
    device: str | None = option(None, "e.g. cuda:0 or cpu (default: cuda when available)")
    dtype: str | None = option(None, "e.g. bfloat16 (default: bfloat16 on GPU, float32 on CPU)")
    trust_remote_code: bool = option(False, "allow model code from the hub")
    model_args: str | None = option(None, "extra K=V,... for the harness's HFLM/VLLM wrapper")
    bootstrap_iters: int = option(100_000, "harness bootstrap iterations for standard errors")
    seed: int = option(42, "seed for sampling and few-shot selection")
    log_samples: bool = option(False, "also save every prompt and response")
    overwrite: bool = option(False, "rerun benchmarks already finished in --out")

    required: ClassVar[tuple[str, ...]] = ("base", "trained", "out")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.limit is not None and not self.limit > 0:
            raise R3Error(f"field 'limit' must be positive, got {self.limit}")
        if self.batch_size != "auto" and not self.batch_size.startswith("auto:"):
            if not self.batch_size.isdigit() or int(self.batch_size) < 1:
                raise R3Error(f"field 'batch_size' must be a positive integer or 'auto', got {self.batch_size!r}")

    def benchmark_names(self) -> list[str]:
        names = [name.strip() for name in self.tasks.split(",") if name.strip()]
        if not names:
            raise R3Error("field 'tasks': no benchmark named")
        return names

    def plan(self):
        """The `ForgettingPlan` these settings describe (per-benchmark defaults with the overrides applied)."""
        from r3.forgetting import ForgettingPlan, ModelOptions, settings_for
        from r3.forgetting.benchmarks import parse_bool, parse_override

        self.check_required()
        names = self.benchmark_names()
        overrides = {
            "num_fewshot": parse_override(self.num_fewshot, int, "--num-fewshot"),
            "apply_chat_template": parse_override(self.apply_chat_template, parse_bool, "--apply-chat-template"),
            "max_gen_toks": parse_override(self.max_gen_toks, int, "--max-gen-toks"),
            "metric": parse_override(self.metric, str, "--metric"),
        }
        for name, override in overrides.items():
            unknown = sorted(set(override.per_task) - set(names))
            if unknown:
                raise R3Error(f"field '{name}': {', '.join(unknown)} not among tasks ({self.tasks})")
        limit = self.limit
        if limit is not None and limit >= 1 and float(limit).is_integer():
            limit = int(limit)
        return ForgettingPlan(
            base=self.base, trained=self.trained, out_dir=Path(self.out),
            benchmarks=tuple(settings_for(name, **overrides) for name in names),
            model=ModelOptions(backend=self.backend, device=self.device, dtype=self.dtype,
                               batch_size=self.batch_size if self.batch_size.startswith("auto")
                               else int(self.batch_size),
                               trust_remote_code=self.trust_remote_code, model_args=self.wrapper_args()),
            include_paths=tuple(self.include_path), include_builtin=self.builtin_tasks, limit=limit,
            bootstrap_iters=self.bootstrap_iters, seed=self.seed, log_samples=self.log_samples,
            overwrite=self.overwrite,
        )

    def wrapper_args(self) -> dict:
        """Keyword arguments for lm-eval's HFLM / VLLM wrapper: vLLM settings, then `model_args` over them."""
        args: dict = {}
        if self.backend == "vllm":
            args.update(tensor_parallel_size=self.vllm_tensor_parallel_size,
                        gpu_memory_utilization=self.vllm_gpu_memory_utilization,
                        data_parallel_size=self.vllm_data_parallel_size)
            if self.vllm_max_model_length is not None:
                args["max_model_len"] = self.vllm_max_model_length
        if self.chat_template_kwargs:
            args["chat_template_args"] = dict(self.chat_template_kwargs)
        if self.model_args:
            from lm_eval.utils import simple_parse_args_string

            args.update(simple_parse_args_string(self.model_args))
        return args
