"""Generation backends: chat messages in, `params.n` completions per prompt out (see `r3.types.Generator`).

    from r3.generation import load_generator
    from r3.types import SamplingParams
    generator = load_generator("Qwen/Qwen2.5-1.5B-Instruct")                 # Hugging Face transformers
    generator = load_generator("Qwen/Qwen2.5-1.5B-Instruct", backend="vllm")  # vLLM: pip install 'r3-reflect[vllm]'
    completions = generator.generate([[{"role": "user", "content": "2 + 2?"}]], SamplingParams(n=4))

Both backends apply the model's chat template with the generation prompt, stop at the end of the assistant turn and
count generated tokens up to and including the stop token. See docs/generation.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.types import Generator

BACKENDS = ("hf", "vllm")


def load_generator(model: str, backend: str = "hf", **options: Any) -> Generator:
    """Load `model` (a hub id or a local directory) with a generation backend.

    `options` go to `HFGenerator.from_pretrained` (device, dtype, trust_remote_code, batch_size, ...) or to
    `VLLMGenerator.from_pretrained` (dtype, gpu_memory_utilization, max_model_len, seed, ...).
    """
    if backend == "hf":
        from r3.generation.hf import HFGenerator

        return HFGenerator.from_pretrained(model, **options)
    if backend == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise R3Error("backend 'vllm' needs vLLM, which is not installed: pip install 'r3-reflect[vllm]' (CUDA GPU only)")
        from r3.generation.vllm import VLLMGenerator

        return VLLMGenerator.from_pretrained(model, **options)
    raise R3Error(f"unknown generation backend '{backend}': choose one of {', '.join(BACKENDS)}")


def check_model_source(name_or_path: str | Path) -> None:
    """Fail early, in one line, for a model that is clearly a local path but is not a model directory.

    A name like `org/model` may be a hub id, so it is left to the loader; a path that exists, starts with `.`, `/`
    or `~`, has more than one `/`, or whose first part is a local directory (`runs/model` beside a `runs/` folder),
    is a local path. Checking this first spares the user a minute of hub retries for a typo in a local path.
    """
    from r3.models import is_gguf

    name = str(name_or_path)
    path = Path(name).expanduser()
    if is_gguf(path):  # a .gguf file, or a folder holding one: r3.models.resolve_model converts it
        return
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise R3Error(f"model directory '{name}' has no config.json: is it a Hugging Face model directory?")
        from r3.rundir.model_files import check_model_files

        check_model_files(path)  # weights, config, tokenizer files and chat template named before anything loads
        return
    if path.exists():
        raise R3Error(f"model '{name}' is a file; expected a model directory, a .gguf file or a Hugging Face hub id")
    first_part_is_local_dir = "/" in name and Path(name.split("/", 1)[0]).is_dir()
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name or first_part_is_local_dir:
        raise R3Error(f"model directory '{name}' does not exist")


def model_load_error(name_or_path: str | Path, error: BaseException) -> R3Error:
    """One line for a model that could not be loaded (unknown hub id, no network, gated repo, bad files)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = lines[0] if lines else type(error).__name__
    return R3Error(
        f"cannot load model '{name_or_path}': not a local model directory, and loading it as a Hugging Face hub id "
        f"failed ({detail[:200]})"
    )
