"""Generation with Hugging Face transformers: r3's decoding loop over left-padded, length-sorted batches.

    from r3.generation.hf import HFGenerator
    generator = HFGenerator.from_pretrained("runs/tiny")            # or a hub id; CUDA -> bf16, CPU -> float32
    generator.generate([[{"role": "user", "content": "hi"}]], SamplingParams(n=2, max_new_tokens=32, seed=0))

Why it is written the way it is:
- Sampling settings are explicit: exactly what `SamplingParams` says - temperature, top-k (0 = off), top-p, as TRL
  does. The checkpoint's `generation_config.json` (Qwen2.5-Instruct ships top_k=20 and repetition_penalty=1.05) is
  never read, because r3 runs its own loop (`r3.generation.decode`) instead of `model.generate`.
- Each sample draws from its own seeded random stream (`r3.generation.sampling.RowSampler`), never from one stream
  shared by the batch: what a prompt samples does not depend on the prompts beside it, so batch size and
  interruptions do not change a run's episodes. `generate(..., seeds=[...])` takes one seed per prompt.
- Prompts are sorted by length and left-padded, so a batch wastes little compute on padding and every row's last
  prompt token sits at the same position; position ids come from the attention mask, which makes greedy batched
  output equal to unbatched output. Rows that have stopped leave the batch (`r3.generation.decode`).
- A completion ends at the first stop token (the tokenizer's eos, the generation config's eos ids, `<|im_end|>`,
  Phi-3.5's `<|end|>`). `num_tokens` counts generated tokens up to and including it; the text and `token_ids`
  exclude it.
- Prompts are rendered by `r3.generation.templates.ChatTemplate` (template options, pinned Llama date, system
  prompts on templates without a system role); `generate_ids` takes token ids directly, which is how the episode
  engine feeds back the exact ids of earlier turns (see `r3.conversation`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.generation import check_model_source, model_load_error
from r3.generation.templates import END_OF_TURN_TOKENS, ChatTemplate, end_of_turn_ids
from r3.types import Completion, Message, SamplingParams

logger = logging.getLogger(__name__)

__all__ = ["END_OF_TURN_TOKENS", "HFGenerator", "load_model_and_tokenizer", "stop_token_ids"]


class HFGenerator:
    """A `r3.types.Generator` over a transformers causal LM and its tokenizer.

    Args:
        model: a loaded `PreTrainedModel` (for example the policy during training).
        tokenizer: its tokenizer; it must have a chat template.
        batch_size: sequences per `generate` call (prompts x samples); lower it if memory runs out.
        chat_template_kwargs: extra variables for the chat template (e.g. {"enable_thinking": False} for Qwen3).
        reuse_prefix: keep each row's KV cache for the next call, whose prompts extend them (reflections extend
            attempts, retries extend reflections: `r3.generation.prefix`); None: on for a model on CPU, where it
            made whole episodes 1.5x cheaper (docs/benchmarks/real_model.md), off on GPUs, whose memory it would use.
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, batch_size: int = 64, chat_template_kwargs: dict[str, Any] | None = None,
        reuse_prefix: bool | None = None,
    ):
        if getattr(tokenizer, "chat_template", None) is None:
            raise R3Error(
                f"the tokenizer of '{getattr(model, 'name_or_path', 'the model')}' has no chat template: "
                "use an instruct/chat model"
            )
        if batch_size < 1:
            raise R3Error(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.stop_token_ids = stop_token_ids(tokenizer, model.generation_config)
        if not self.stop_token_ids:
            raise R3Error("the model has no end-of-turn token: neither the tokenizer nor generation_config sets eos")
        self.template = ChatTemplate(tokenizer, chat_template_kwargs, stop_ids=self.stop_token_ids)
        self.chat_template_kwargs = self.template.kwargs
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.stop_token_ids[0]
        self.context_length = context_length(model, tokenizer)
        self.prefix = None
        if reuse_prefix or (reuse_prefix is None and getattr(model.device, "type", "cpu") == "cpu"):
            from r3.generation.prefix import PrefixCache

            self.prefix = PrefixCache()

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        device: str | None = None,
        dtype: str | Any | None = None,
        trust_remote_code: bool = False,
        batch_size: int = 64,
        revision: str | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        reuse_prefix: bool | None = None,
    ) -> HFGenerator:
        """Load a hub id or local directory.

        device: "cuda", "cpu", "cuda:1", "auto" (spread over GPUs with accelerate) or None (CUDA if available).
        dtype: a torch dtype or its name ("bfloat16", "float32", "auto"); None means bf16 on CUDA, float32 on CPU.
        """
        model, tokenizer = load_model_and_tokenizer(
            name_or_path, device=device, dtype=dtype, trust_remote_code=trust_remote_code, revision=revision
        )
        return cls(model, tokenizer, batch_size=batch_size, chat_template_kwargs=chat_template_kwargs,
                   reuse_prefix=reuse_prefix)

    def render(self, messages: Sequence[Message]) -> str:
        """The chat-template text of `messages`, ending with the assistant generation prompt."""
        return self.template.render(messages)

    def encode(self, prompts: Sequence[Sequence[Message]]) -> list[list[int]]:
        """Token ids of each templated prompt (the template already holds any special tokens, so none are added)."""
        return [self.template.encode(messages) for messages in prompts]

    def generate(
        self, prompts: Sequence[Sequence[Message]], params: SamplingParams, *, seeds: Sequence[int] | None = None,
        on_tokens: Callable[[int, int], None] | None = None,
    ) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in prompt order.

        `seeds` (one per prompt) makes each prompt's samples depend on its seed alone, never on the batch it shares:
        sample k of a prompt seeded s draws from a generator seeded s + k. Without `seeds`, prompt i gets
        `params.seed + i * n` (the vLLM backend's rule); with neither, seeds come from torch's global generator.
        `on_tokens(step, count)` is called at every decoding step with the rows still generating (progress).
        """
        return self.generate_ids(self.encode(prompts), params, seeds=seeds, on_tokens=on_tokens)

    def generate_ids(
        self, prompt_ids: Sequence[Sequence[int]], params: SamplingParams, *, seeds: Sequence[int] | None = None,
        on_tokens: Callable[[int, int], None] | None = None,
    ) -> list[list[Completion]]:
        """`generate` for prompts given as token ids (e.g. from `r3.conversation.retry_prompt_ids`)."""
        if params.n < 1 or params.max_new_tokens < 1:
            raise R3Error(
                f"need n >= 1 and max_new_tokens >= 1, got n={params.n}, max_new_tokens={params.max_new_tokens}"
            )
        from r3.generation.sampling import prompt_seeds, row_seeds  # torch: imported when generating

        token_lists = [list(ids) for ids in prompt_ids]
        self._check_context(token_lists)
        greedy = params.temperature == 0
        # Greedy samples are identical: generate one and repeat it, so a batch holds more prompts.
        per_prompt = 1 if greedy else params.n
        own_seeds = [] if greedy else prompt_seeds(len(token_lists), params.seed, seeds, params.n)
        prompts_per_batch = max(1, self.batch_size // per_prompt)
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
        results: list[list[Completion]] = [[] for _ in token_lists]
        with self._generation_mode():
            for start in range(0, len(order), prompts_per_batch):
                batch = order[start : start + prompts_per_batch]
                batch_seeds = None if greedy else row_seeds([own_seeds[i] for i in batch], per_prompt)
                completions = self._generate_batch([token_lists[i] for i in batch], params, batch_seeds, on_tokens)
                for row, index in enumerate(batch):
                    samples = completions[row * per_prompt : (row + 1) * per_prompt]
                    results[index] = samples * params.n if greedy else samples
        if self.prefix is not None:
            self.prefix.turn()
        return results

    def _generate_batch(
        self, token_lists: list[list[int]], params: SamplingParams, seeds: list[int] | None,
        on_tokens: Callable[[int, int], None] | None,
    ) -> list[Completion]:
        """One decoding loop over `len(seeds)` rows (prompt-major), or one greedy row per prompt without seeds."""
        import torch

        from r3.generation.decode import decode
        from r3.generation.sampling import RowSampler

        per_prompt = 1 if seeds is None else len(seeds) // len(token_lists)
        rows = [ids for ids in token_lists for _ in range(per_prompt)]
        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, ids in enumerate(rows):  # left padding
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids) :] = 1
        budget = min(params.max_new_tokens, self.context_length - width)
        if budget < params.max_new_tokens:
            logger.warning("prompts of %d tokens leave room for only %d new tokens in the context", width, budget)
        device = self.model.device
        cache, on_leave = None, None
        if self.prefix is not None:
            prefilled = self.prefix.build(self.model, rows, self.pad_token_id)
            if prefilled is not None:
                input_ids, attention_mask, cache = prefilled

            def on_leave(row: int, tokens: list[int], kv: Any, mask: Any, index: int) -> None:
                self.prefix.keep(rows[row], tokens, kv, mask, index)
        if seeds is None:
            choose = _greedy
        else:  # each row draws from its own generator (r3.generation.sampling)
            choose = RowSampler(seeds, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k,
                                device=device).draw
        generated = decode(self.model, input_ids.to(device), attention_mask.to(device), budget=budget,
                           stop_ids=self.stop_token_ids, choose=choose, on_tokens=on_tokens, cache=cache,
                           on_leave=on_leave)
        return [self._completion(tokens, budget) for tokens in generated]

    def _completion(self, tokens: list[int], budget: int) -> Completion:
        stops = set(self.stop_token_ids)
        for position, token in enumerate(tokens):
            if token in stops:
                text = self.tokenizer.decode(tokens[:position], skip_special_tokens=True)
                return Completion(text=text, num_tokens=position + 1, finish_reason="stop",
                                  token_ids=tuple(tokens[:position]))
        # No stop token: the row ran until the budget.
        text = self.tokenizer.decode(tokens[:budget], skip_special_tokens=True)
        return Completion(text=text, num_tokens=min(len(tokens), budget), finish_reason="length",
                          token_ids=tuple(tokens[:budget]))

    def _check_context(self, token_lists: list[list[int]]) -> None:
        for index, ids in enumerate(token_lists):
            if len(ids) >= self.context_length:
                raise R3Error(
                    f"prompt {index} has {len(ids)} tokens, which leaves no room in the model's context of "
                    f"{self.context_length} tokens"
                )

    @contextlib.contextmanager
    def _generation_mode(self) -> Iterator[None]:
        """Eval mode and no autograd for the block; the model's train/eval mode is restored afterwards."""
        import torch

        model, was_training = self.model, self.model.training
        model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            model.train(was_training)


def _greedy(scores: Any, rows: list[int]) -> Any:
    """The most likely token of each row (ties: the lowest id, as `generate` picks)."""
    return scores.argmax(dim=-1)


def load_model_and_tokenizer(
    name_or_path: str | Path,
    *,
    device: str | None = None,
    dtype: str | Any | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer the way every part of r3 does (generation, forgetting check).

    device: "cuda", "cpu", "cuda:1", "auto" (spread over GPUs with accelerate) or None (CUDA if available).
    dtype: a torch dtype or its name ("bfloat16", "float32", "auto"); None means bf16 on CUDA, float32 on CPU.
    The model comes back in eval mode; a model that cannot be read is one R3Error line.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r3.models import resolve_model

    check_model_source(name_or_path)
    name_or_path = resolve_model(name_or_path)  # a GGUF file -> its converted folder
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = resolve_dtype(dtype, device)
    source = str(Path(name_or_path).expanduser()) if Path(name_or_path).expanduser().is_dir() else str(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=torch_dtype,
            trust_remote_code=trust_remote_code,
            revision=revision,
            device_map="auto" if device == "auto" else None,
        )
    except (OSError, ValueError) as error:
        raise model_load_error(name_or_path, error) from None
    if device != "auto":
        model.to(device)
    model.eval()
    logger.info("loaded %s on %s (%s)", name_or_path, model.device, model.dtype)
    return model, tokenizer


def stop_token_ids(tokenizer: Any, generation_config: Any) -> list[int]:
    """Token ids that end an assistant turn: the tokenizer's eos, the generation config's eos ids and any known
    end-of-turn token (ChatML's `<|im_end|>`, Llama 3's `<|eot_id|>`, Phi-3.5's `<|end|>`) the vocabulary holds."""
    eos = getattr(generation_config, "eos_token_id", None)
    return end_of_turn_ids(tokenizer, eos if isinstance(eos, (list, tuple)) else [eos])


def context_length(model: Any, tokenizer: Any) -> int:
    """The longest sequence (prompt + completion) the model handles."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    length = getattr(config, "max_position_embeddings", None)
    if length is None:
        length = tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else 2048
    return int(length)


def resolve_dtype(dtype: str | Any | None, device: str) -> Any:
    """None -> bf16 on CUDA (fp16 where bf16 is unsupported), float32 elsewhere; names map to torch dtypes."""
    import torch

    if dtype is None:
        if str(device).startswith(("cuda", "auto")) and torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, str):
        if dtype == "auto":
            return "auto"
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise R3Error(f"unknown dtype '{dtype}': use bfloat16, float16, float32 or auto")
        return resolved
    return dtype
