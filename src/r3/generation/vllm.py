"""Generation with vLLM (optional extra, CUDA GPU only): one `vllm.LLM` with prefix caching, `n` samples per prompt.

    pip install 'r3[vllm]'
    from r3.generation import load_generator
    generator = load_generator("Qwen/Qwen2.5-1.5B-Instruct", backend="vllm", gpu_memory_utilization=0.85)

Prefix caching matters here: reflect-retry prompts repeat the first prompt and attempt, and `n` samples share one
prompt, so most prompt tokens are computed once. vLLM applies the chat template itself (`LLM.chat`, with the
generation prompt), stops at the model's eos / end of turn and reports `finish_reason` "stop" or "length".

Seeds: each prompt gets its own seed (`seed + index * n`; vLLM gives the k-th of the n samples `seed + k`), so the
same call gives the same samples and prompts in a batch do not share random draws.

This module imports vLLM only when a generator is built, so r3 imports without it. It cannot be exercised on a
CPU-only machine; tests/generation/test_vllm_adapter.py checks the calls it makes against a stand-in module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.generation import check_model_source, model_load_error
from r3.types import Completion, Message, SamplingParams

logger = logging.getLogger(__name__)


class VLLMGenerator:
    """A `r3.types.Generator` over a `vllm.LLM`.

    Args:
        llm: a `vllm.LLM` (build one with `from_pretrained`, or pass the engine TRL already holds).
        chat_template_kwargs: extra variables for the chat template (e.g. {"enable_thinking": False}).
        use_tqdm: show vLLM's own progress bar for each call.
    """

    def __init__(self, llm: Any, *, chat_template_kwargs: dict[str, Any] | None = None, use_tqdm: bool = False):
        self.llm = llm
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.use_tqdm = use_tqdm

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        chat_template_kwargs: dict[str, Any] | None = None,
        use_tqdm: bool = False,
        **llm_kwargs: Any,
    ) -> VLLMGenerator:
        """Start a vLLM engine for a hub id or local directory; `llm_kwargs` go to `vllm.LLM` unchanged."""
        try:
            import vllm
        except ImportError:
            raise R3Error("backend 'vllm' needs vLLM: pip install 'r3[vllm]' (CUDA GPU only)") from None
        check_model_source(name_or_path)
        try:
            llm = vllm.LLM(
                model=str(name_or_path),
                dtype=dtype,
                trust_remote_code=trust_remote_code,
                seed=seed,
                gpu_memory_utilization=gpu_memory_utilization,
                max_model_len=max_model_len,
                tensor_parallel_size=tensor_parallel_size,
                enable_prefix_caching=enable_prefix_caching,
                **llm_kwargs,
            )
        except OSError as error:
            raise model_load_error(name_or_path, error) from None
        return cls(llm, chat_template_kwargs=chat_template_kwargs, use_tqdm=use_tqdm)

    @property
    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[Sequence[Message]], params: SamplingParams) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in prompt order, through one `LLM.chat` call."""
        if not prompts:
            return []
        if params.n < 1 or params.max_new_tokens < 1:
            raise R3Error(
                f"need n >= 1 and max_new_tokens >= 1, got n={params.n}, max_new_tokens={params.max_new_tokens}"
            )
        sampling = [self._sampling_params(params, index) for index in range(len(prompts))]
        try:
            outputs = self.llm.chat(
                [[dict(m) for m in messages] for messages in prompts],
                sampling_params=sampling,
                use_tqdm=self.use_tqdm,
                add_generation_prompt=True,
                chat_template_kwargs=self.chat_template_kwargs or None,
            )
        except ValueError as error:
            if "longer than the maximum model length" in str(error):
                raise R3Error(f"a prompt does not fit the model's context: {error}") from None
            raise
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [[_completion(output) for output in request.outputs] for request in outputs]

    @staticmethod
    def _sampling_params(params: SamplingParams, index: int) -> Any:
        from vllm import SamplingParams as VLLMSamplingParams

        return VLLMSamplingParams(
            n=params.n,
            temperature=params.temperature,  # 0 is greedy in vLLM
            top_p=params.top_p,
            top_k=params.top_k,  # 0 (or -1) is "off" in the vLLM versions TRL 1.16 supports
            max_tokens=params.max_new_tokens,
            seed=None if params.seed is None else params.seed + index * params.n,
        )


def _completion(output: Any) -> Completion:
    """vLLM's CompletionOutput -> Completion. Its token_ids include the stop token, its text excludes it."""
    finish = "length" if output.finish_reason == "length" else "stop"
    return Completion(text=output.text, num_tokens=len(output.token_ids), finish_reason=finish)
