"""Checks that run before anything slow: optional packages a setting needs, and writable output paths.

A setting that needs an extra (`report_to: [tensorboard]`, `use_vllm: true`, `backend: vllm`, a DeepSpeed config,
`r3 forgetting`) is refused at once with the `pip install 'r3-reflect[EXTRA]'` line, instead of a traceback after the model
has loaded. Output directories are checked for writability the same way (`r3.rundir.check_writable`), a local model
path that does not exist is named as such (not as a failed hub download), and `push_to_hub: true` needs a token with
write access, found before hours of training rather than after.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r3.errors import R3Error

# module to import (or report_to backend) -> the r3 extra that installs it (pyproject's optional-dependencies)
EXTRAS = {"vllm": "vllm", "deepspeed": "deepspeed", "lm_eval": "eval", "tensorboard": "tensorboard",
          "wandb": "wandb", "trackio": "trackio"}


def require(module: str, what: str) -> None:
    """An R3Error naming the pip line unless `module` can be imported."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRAS.get(module)
        line = f"pip install 'r3-reflect[{extra}]'" if extra else f"pip install {module}"
        raise R3Error(f"{what} needs {module}, which is not installed: {line}")


def report_to_names(report_to: str | Sequence[str] | None) -> list[str]:
    """`report_to` as a list of backend names: None, "none" and [] mean none; "all" means whatever is installed."""
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return [name for name in names if name not in ("none", "all")]


def check_report_to(report_to: str | Sequence[str] | None) -> None:
    """Every log backend in `report_to` is one transformers knows and is installed; else one line naming the
    install command (transformers itself fails deep in `Trainer.__init__`, after the model has loaded)."""
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    available = set(get_available_reporting_integrations())
    for name in report_to_names(report_to):
        if name not in INTEGRATION_TO_CALLBACK:
            known = ", ".join(sorted(INTEGRATION_TO_CALLBACK))
            raise R3Error(f"report_to: unknown log backend '{name}'; known: {known} (or none)")
        if name not in available:
            package = f"r3-reflect[{EXTRAS[name]}]" if name in EXTRAS else name
            raise R3Error(f"report_to: {name} is not installed: pip install '{package}' (or set report_to: none; "
                          "every metric is also written to OUTPUT_DIR/metrics.jsonl)")


def check_out(path: str | Path | None, what: str = "--out") -> None:
    from r3.rundir import check_writable

    if path is not None:
        check_writable(path, what)


def check_generation(config: Any) -> None:
    """eval / mine: the output folder and the generation backend."""
    check_out(getattr(config, "out", None))
    if getattr(config, "backend", "hf") == "vllm":
        require("vllm", "backend: vllm")


def check_model(model: str | None) -> None:
    """A model path that is clearly local must be a model directory (or a GGUF file); a hub id is left to the
    loader. One line, instead of a hub error about a repository id."""
    from r3.generation import check_model_source

    if model is not None:
        check_model_source(model)


HUB_FIX = "log in with `hf auth login` (or set HF_TOKEN) with a write token, or set push_to_hub: false"


def check_hub(push_to_hub: bool, token: str | None = None) -> None:
    """`push_to_hub: true` needs the hub and a token with write access; checked before the model loads (TRL would
    create the repository only once training starts, and push only after it)."""
    if not push_to_hub:
        return
    from huggingface_hub import HfApi, constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise R3Error("push_to_hub: true, but the hub is switched off (HF_HUB_OFFLINE is set): unset it, or set "
                      "push_to_hub: false")
    token = token or get_token()
    if not token:
        raise R3Error(f"push_to_hub: true needs a Hugging Face token, and none is set: {HUB_FIX}")
    try:
        info = HfApi().whoami(token=token)
    except Exception as error:  # noqa: BLE001 - no network, a revoked token, a hub outage: all mean "cannot push"
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise R3Error(f"push_to_hub: true, but the hub did not accept the token ({detail}): {HUB_FIX}") from None
    role = (info.get("auth") or {}).get("accessToken", {}).get("role")
    if role == "read":
        raise R3Error(f"push_to_hub: true, but the token of {info.get('name')} is read-only: {HUB_FIX}")


def check_training(config: Any, training: Any) -> None:
    """train: the model path, the output folder, logging backends, vLLM, DeepSpeed, Liger kernels, hub access."""
    check_model(config.model)
    check_out(training.output_dir, "output_dir")
    check_report_to(training.report_to)
    if training.use_vllm:
        require("vllm", "use_vllm: true")
    if training.deepspeed:
        require("deepspeed", "deepspeed")
    if training.use_liger_kernel:
        require("liger_kernel", "use_liger_kernel: true")
    check_hub(training.push_to_hub, training.hub_token)


def check_forgetting(config: Any) -> None:
    check_out(config.out)
    require("lm_eval", "r3 forgetting")
    if config.backend == "vllm":
        require("vllm", "backend: vllm")


__all__ = ["EXTRAS", "check_forgetting", "check_generation", "check_hub", "check_model", "check_out",
           "check_report_to", "check_training", "report_to_names", "require"]
