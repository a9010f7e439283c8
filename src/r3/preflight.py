"""Checks that run before anything slow: optional packages a setting needs, and writable output paths.

A setting that needs an extra (`report_to: [tensorboard]`, `use_vllm: true`, `backend: vllm`, a DeepSpeed config,
`r3 forgetting`) is refused at once with the `pip install 'r3[EXTRA]'` line, instead of a traceback after the model
has loaded. Output directories are checked for writability the same way (`r3.rundir.check_writable`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from r3.errors import R3Error

# module to import -> the r3 extra that installs it
EXTRAS = {"vllm": "vllm", "deepspeed": "deepspeed", "lm_eval": "eval", "peft": "peft"}


def require(module: str, what: str) -> None:
    """An R3Error naming the pip line unless `module` can be imported."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRAS.get(module)
        line = f"pip install 'r3[{extra}]'" if extra else f"pip install {module}"
        raise R3Error(f"{what} needs {module}, which is not installed: {line}")


def check_out(path: str | Path | None, what: str = "--out") -> None:
    from r3.rundir import check_writable

    if path is not None:
        check_writable(path, what)


def check_generation(config: Any) -> None:
    """eval / mine: the output folder and the generation backend."""
    check_out(getattr(config, "out", None))
    if getattr(config, "backend", "hf") == "vllm":
        require("vllm", "backend: vllm")


def check_training(config: Any, training: Any) -> None:
    """train: the output folder, logging backends, vLLM, DeepSpeed and LoRA."""
    from r3.training.backends import check_report_to

    check_out(training.output_dir, "output_dir")
    check_report_to(training.report_to)
    if training.use_vllm:
        require("vllm", "use_vllm: true")
    if training.deepspeed:
        require("deepspeed", "deepspeed")
    if config.use_lora:
        require("peft", "use_lora: true")


def check_forgetting(config: Any) -> None:
    check_out(config.out)
    require("lm_eval", "r3 forgetting")
    if config.backend == "vllm":
        require("vllm", "backend: vllm")


__all__ = ["check_forgetting", "check_generation", "check_out", "check_training", "require"]
