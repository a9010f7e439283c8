"""The one door into EleutherAI's lm-evaluation-harness: models loaded by r3, benchmarks run one at a time.

r3 loads the model itself (device and dtype picked as everywhere in r3, tokenizer object always passed so nothing is
fetched from the hub behind the user's back) and hands it to `lm_eval.simple_evaluate` wrapped in the harness's
`HFLM`; for vLLM it builds the harness's own `VLLM` wrapper, which takes a path and starts the engine itself. Each
benchmark is a separate `simple_evaluate` call so that its settings (shots, chat template, generation length) are its
own and a benchmark that fails - unreachable data, a missing extra - does not take the others down.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from r3.errors import R3Error
from r3.forgetting.benchmarks import BenchmarkSettings

if TYPE_CHECKING:
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

logger = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm")


class BenchmarkFailed(R3Error):
    """One benchmark could not run; its message says why. The other benchmarks go on."""


@dataclass(frozen=True)
class ModelOptions:
    """How a model is loaded and wrapped for the harness.

    device/dtype: None picks CUDA with bfloat16 when a GPU is present, else CPU with float32.
    batch_size: the harness's batch size (an int, or "auto" to let it probe the largest that fits).
    model_args: extra keyword arguments for the harness's wrapper (HFLM or VLLM), e.g. max_length,
        gpu_memory_utilization, tensor_parallel_size.
    """

    backend: str = "hf"
    device: str | None = None
    dtype: str | None = None
    batch_size: int | str = 8
    trust_remote_code: bool = False
    model_args: dict[str, Any] = field(default_factory=dict)


def load_lm(model: str, options: ModelOptions) -> LM:
    """Load `model` (hub id or local directory) and wrap it for the harness; a model that cannot load is an R3Error."""
    if options.backend == "hf":
        return _load_hf(model, options)
    if options.backend == "vllm":
        return _load_vllm(model, options)
    raise R3Error(f"unknown backend {options.backend!r}: choose one of {', '.join(BACKENDS)}")


def _load_hf(model: str, options: ModelOptions) -> LM:
    from lm_eval.models.huggingface import HFLM

    from r3.generation.hf import load_model_and_tokenizer

    network, tokenizer = load_model_and_tokenizer(
        model, device=options.device, dtype=options.dtype, trust_remote_code=options.trust_remote_code
    )
    return HFLM(pretrained=network, tokenizer=tokenizer, batch_size=options.batch_size, **options.model_args)


def _load_vllm(model: str, options: ModelOptions) -> LM:
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as error:
        raise R3Error(f"the vllm backend needs vLLM: pip install 'r3-reflect[vllm]' ({_first_line(error)})") from None
    args = {"dtype": options.dtype or "auto", "batch_size": options.batch_size, **options.model_args}
    try:
        return VLLM(pretrained=model, trust_remote_code=options.trust_remote_code, **args)
    except Exception as error:  # vLLM raises many kinds of errors for a model it cannot read
        logger.debug("loading %s with vLLM failed", model, exc_info=True)
        raise R3Error(f"cannot load model {model!r} with vLLM: {_first_line(error)}") from None


def free_lm(lm: LM) -> None:
    """Release a model's memory before the next one loads (two 8B models need not fit side by side)."""
    import gc

    import torch

    for attribute in ("_model", "model"):
        if hasattr(lm, attribute):
            try:
                delattr(lm, attribute)
            except AttributeError:  # a read-only property
                pass
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def build_task_manager(include_paths: Sequence[str | Path] = (), include_builtin: bool = True) -> TaskManager:
    """The harness's task index: its built-in tasks plus the user's task folders (later folders win on a name)."""
    from lm_eval.tasks import TaskManager

    for path in include_paths:
        if not Path(path).is_dir():
            raise R3Error(f"--include-path {str(path)!r}: not a directory of lm-eval task YAML files")
    paths = [str(path) for path in include_paths] or None
    return TaskManager(include_path=paths, include_defaults=include_builtin)


def check_benchmarks(names: Sequence[str], task_manager: TaskManager) -> None:
    """Refuse unknown benchmark names before any model loads, listing the closest known names."""
    known = task_manager.all_tasks
    for name in names:
        if name in known or (name.endswith((".yaml", ".yml")) and Path(name).is_file()):
            continue
        close = difflib.get_close_matches(name, known, n=6, cutoff=0.6)
        if not close:
            close = [task for task in known if name.lower() in task.lower()][:6]
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise R3Error(
            f"unknown benchmark {name!r}{hint} ({len(known)} lm-eval tasks are known: `lm-eval ls tasks` lists "
            "them; your own task folders go in --include-path)"
        )


def resolve_chat_template(lm: LM, settings: BenchmarkSettings) -> bool:
    """The chat-template switch for this model: "auto" (None) means on when the tokenizer has a chat template."""
    if settings.apply_chat_template is not None:
        return settings.apply_chat_template
    tokenizer = getattr(lm, "tokenizer", None)
    return bool(getattr(tokenizer, "chat_template", None))


def run_benchmark(
    lm: LM,
    settings: BenchmarkSettings,
    task_manager: TaskManager,
    *,
    limit: float | None = None,
    bootstrap_iters: int = 100_000,
    seed: int = 1234,
) -> dict[str, Any]:
    """Run one benchmark through `lm_eval.simple_evaluate`; returns the harness's results dict, samples included.

    Raises BenchmarkFailed (one line) when the benchmark cannot run: its data cannot be reached, the task needs a
    package that is missing, or the harness rejects the settings.
    """
    import lm_eval

    chat = resolve_chat_template(lm, settings)
    gen_kwargs = {"max_gen_toks": settings.max_gen_toks} if settings.max_gen_toks is not None else None
    try:
        results = lm_eval.simple_evaluate(
            model=lm,
            tasks=[settings.name],
            task_manager=task_manager,
            num_fewshot=settings.num_fewshot,
            apply_chat_template=chat,
            fewshot_as_multiturn=settings.fewshot_as_multiturn and chat,
            gen_kwargs=gen_kwargs,
            limit=limit,
            bootstrap_iters=bootstrap_iters,
            log_samples=True,
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
        )
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as error:  # the harness and datasets raise anything; each becomes one line per benchmark
        logger.debug("benchmark %s failed", settings.name, exc_info=True)
        raise BenchmarkFailed(describe_failure(settings.name, error)) from error
    if results is None:  # not rank 0 in a distributed run: nothing to report here
        raise BenchmarkFailed(f"{settings.name}: the harness returned no results on this rank")
    results.setdefault("r3", {})["apply_chat_template"] = chat
    return results


def describe_failure(name: str, error: BaseException) -> str:
    """One line saying why benchmark `name` could not run, with what to do about it."""
    text = _first_line(error)
    if _is_network_error(error):
        return (
            f"{name}: its data could not be reached ({text}). Download it on a machine with network access "
            "(the datasets cache is reused offline), or point the task at local files (docs/forgetting.md)"
        )
    if isinstance(error, (ImportError, AssertionError)) and "install" in text.lower():
        return f"{name}: the task needs packages that are missing: {text}"
    return f"{name}: {type(error).__name__}: {text}"


def _is_network_error(error: BaseException) -> bool:
    """ConnectionError/TimeoutError or a hub/HTTP client error, anywhere in the exception's chain."""
    seen: BaseException | None = error
    while seen is not None:
        module = type(seen).__module__ or ""
        if isinstance(seen, (ConnectionError, TimeoutError)) or module.startswith(
            ("huggingface_hub", "requests", "httpx", "urllib3")
        ):
            return True
        if type(seen).__name__ in ("DatasetNotFoundError", "OfflineModeIsEnabled"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."
