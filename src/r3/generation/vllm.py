"""Generation with vLLM (optional extra, CUDA GPU only): one `vllm.LLM` with prefix caching, `n` samples per prompt.

    pip install 'r3-reflect[vllm]'
    from r3.generation import load_generator
    generator = load_generator("Qwen/Qwen2.5-1.5B-Instruct", backend="vllm", gpu_memory_utilization=0.85)

Prefix caching matters here: reflect-retry prompts repeat the first prompt and attempt, and `n` samples share one
prompt, so most prompt tokens are computed once. Prompts go to vLLM as token ids (`LLM.generate` with
`{"prompt_token_ids": ...}`), rendered by r3's `ChatTemplate` exactly as the HF backend renders them (template
options, pinned Llama date), so the episode engine can feed back the exact ids of earlier turns. Generation stops at
every end-of-turn id r3 knows for the model (`stop_token_ids`: Phi-3.5's `<|end|>` is not its tokenizer's eos) and
reports `finish_reason` "stop" or "length".

Seeds: each prompt gets its own seed, `seeds[index]` when the caller gives one per prompt (the episode engine and
mining do), else `seed + index * n`; vLLM gives the k-th of the n samples `seed + k`. So the same call gives the same
samples and prompts in a batch do not share random draws (the HF backend follows the same rule).

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
from r3.generation.templates import ChatTemplate
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
        self.use_tqdm = use_tqdm
        self.template = ChatTemplate(llm.get_tokenizer(), chat_template_kwargs)
        self.chat_template_kwargs = self.template.kwargs

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
            raise R3Error("backend 'vllm' needs vLLM: pip install 'r3-reflect[vllm]' (CUDA GPU only)") from None
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

    def render(self, messages: Sequence[Message]) -> str:
        """The chat-template text of `messages`, ending with the assistant generation prompt."""
        return self.template.render(messages)

    def generate(self, prompts: Sequence[Sequence[Message]], params: SamplingParams, *,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in prompt order, through one `LLM.generate` call; `seeds`: one
        per prompt (see the module docstring)."""
        return self.generate_ids([self.template.encode(messages) for messages in prompts], params, seeds=seeds)

    def generate_ids(self, prompt_ids: Sequence[Sequence[int]], params: SamplingParams, *,
                     seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        """`generate` for prompts given as token ids (e.g. from `r3.conversation.retry_prompt_ids`)."""
        if not prompt_ids:
            return []
        if params.n < 1 or params.max_new_tokens < 1:
            raise R3Error(
                f"need n >= 1 and max_new_tokens >= 1, got n={params.n}, max_new_tokens={params.max_new_tokens}"
            )
        if seeds is not None and len(seeds) != len(prompt_ids):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompt_ids)} prompts")
        sampling = [self._sampling_params(params, index, None if seeds is None else seeds[index])
                    for index in range(len(prompt_ids))]
        try:
            outputs = self.llm.generate(
                [{"prompt_token_ids": list(ids)} for ids in prompt_ids], sampling_params=sampling,
                use_tqdm=self.use_tqdm,
            )
        except ValueError as error:
            if "longer than the maximum model length" in str(error):
                raise R3Error(f"a prompt does not fit the model's context: {error}") from None
            raise
        if len(outputs) != len(prompt_ids):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompt_ids)} prompts")
        return [[self._completion(output) for output in request.outputs] for request in outputs]

    def _sampling_params(self, params: SamplingParams, index: int, seed: int | None) -> Any:
        from vllm import SamplingParams as VLLMSamplingParams

        if seed is None and params.seed is not None:
            seed = params.seed + index * params.n

        return VLLMSamplingParams(
            n=params.n,
            temperature=params.temperature,  # 0 is greedy in vLLM
            top_p=params.top_p,
            top_k=params.top_k,  # 0 (or -1) is "off" in the vLLM versions TRL 1.16 supports
            max_tokens=params.max_new_tokens,
            seed=seed,
            stop_token_ids=list(self.template.stop_ids),
        )

    def _completion(self, output: Any) -> Completion:
        """vLLM's CompletionOutput -> Completion. Its token_ids include the stop token, its text excludes it."""
        finish = "length" if output.finish_reason == "length" else "stop"
        return Completion(text=output.text, num_tokens=len(output.token_ids), finish_reason=finish,
                          token_ids=tuple(self.template.turn_ids(output.token_ids)))
