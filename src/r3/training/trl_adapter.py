"""Every use of a private TRL method or undocumented trainer attribute in r3 lives here, behind a few functions.

r3 retries inside a reward function and makes first attempts inside a rollout function, and both must sample from
the *current* policy exactly as TRL samples its completions: the same backend (transformers generate, vLLM colocate
or server), the same DeepSpeed ZeRO-3 / FSDP parameter gathering, the same chat templating. TRL has one method that
does all of that, `GRPOTrainer._generate_single_turn`, and it is private: its signature changed in TRL 1.0, 1.10 and
1.16. So TRL is pinned to 1.16.x (pyproject.toml), `check_trl` checks the signatures before a trainer is built,
`check_trainer` checks the attributes below on the built trainer, and tests/training/test_trl_adapter.py checks both
and makes real calls, so an upgrade that breaks them fails there, loudly, instead of silently training on wrong data.

Private TRL names used (trl 1.16.0, trl/trainer/grpo_trainer.py):
- `_tokenize_prompts(prompts)` -> (prompt_ids, images, multimodal_fields)                              (line 1684)
- `_generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False)`
  -> (completion_ids, logprobs)                                                                        (line 1763)
- `_get_train_sampler(dataset)` -> its `RepeatSampler`, wrapped so that a resumed run shuffles each epoch as the
  uninterrupted run did (`resumable_shuffle`)                                                          (line 1280)
- the GRPOTrainer attributes in `TRAINER_ATTRIBUTES` (set in `GRPOTrainer.__init__`, documented nowhere), and
  `vllm_generation.temperature` / `vllm_generation.max_completion_length` (`VLLM_ATTRIBUTES`), which r3 reads and
  writes. Found with `grep -rnoE "trainer[.][a-z_]+" src/r3/training/`; the other attributes used there (`model`,
  `args`, `state`, `accelerator`, `processing_class`, `train`, `save_model`) are transformers' public Trainer API.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from r3.errors import R3Error
from r3.types import Message

logger = logging.getLogger(__name__)

PINNED_TRL_VERSION = "1.16.0"
"""The TRL release this module was written and tested against; pyproject.toml accepts any 1.16.x."""
SUPPORTED_TRL_SERIES = "1.16"

# name -> parameter names (without self) that r3 calls it with
EXPECTED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "_tokenize_prompts": ("prompts",),
    "_generate_single_turn": ("prompt_ids", "images", "multimodal_fields", "num_generations", "has_tool_images"),
    "_get_train_sampler": ("dataset",),
}


@dataclass(frozen=True)
class TrainerAttribute:
    """A GRPOTrainer attribute r3 relies on: what for, its type, and on which generation path TRL sets it."""

    use: str
    type_name: str  # checked by class name, so that this module imports nothing heavy
    path: str = "any"  # "any", "transformers" (use_vllm False) or "vllm"


TRAINER_ATTRIBUTES: dict[str, TrainerAttribute] = {
    "use_vllm": TrainerAttribute("read: which sampling settings `generate` overrides", "bool"),
    "generation_config": TrainerAttribute(
        "read, replaced for one call: the settings `_generate_single_turn` samples with", "GenerationConfig",
        "transformers"),
    "generation_kwargs": TrainerAttribute(
        "read, replaced for one call: the kwargs that override the model's generation config", "dict", "transformers"),
    "vllm_generation": TrainerAttribute("read: the vLLM backend holding VLLM_ATTRIBUTES", "VLLMGeneration", "vllm"),
    "eos_token_ids": TrainerAttribute("read: the end-of-turn token of a placeholder completion", "list"),
    "num_generations": TrainerAttribute("read: the group size of reflections (reward, online rollout)", "int"),
    "num_generations_eval": TrainerAttribute("read: the group size during evaluation (online rollout)", "int"),
}
VLLM_ATTRIBUTES = ("temperature", "max_completion_length")
"""Attributes of `trainer.vllm_generation` (trl.generation.vllm_generation.VLLMGeneration) read and replaced."""


def check_trl() -> None:
    """Raise R3Error if the installed TRL's private methods are not the ones this module was written against."""
    import trl
    from trl import GRPOTrainer

    for name, expected in EXPECTED_SIGNATURES.items():
        method = getattr(GRPOTrainer, name, None)
        found = tuple(inspect.signature(method).parameters)[1:] if method is not None else None
        if found != expected:
            raise R3Error(
                f"trl {trl.__version__} is not supported: r3 needs GRPOTrainer.{name}{expected} (trl "
                f"{SUPPORTED_TRL_SERIES}.x), found {found}. Install 'trl>={SUPPORTED_TRL_SERIES},<1.17'."
            )
    if trl.__version__ != PINNED_TRL_VERSION:
        logger.warning("trl %s is installed; r3 is tested with trl==%s", trl.__version__, PINNED_TRL_VERSION)


def check_trainer(trainer: Any) -> None:
    """Raise R3Error unless a built GRPOTrainer has every attribute in `TRAINER_ATTRIBUTES` with the expected type.

    Method signatures say nothing about instance attributes: a TRL release that renamed `generation_kwargs` would
    let r3's per-call overrides silently stop applying. Call it once, right after the trainer is built.
    """
    import trl

    def fail(what: str) -> None:
        raise R3Error(f"trl {trl.__version__} is not supported: r3 needs GRPOTrainer.{what} (trl "
                      f"{SUPPORTED_TRL_SERIES}.x). Install 'trl>={SUPPORTED_TRL_SERIES},<1.17'.")

    use_vllm = getattr(trainer, "use_vllm", None)
    path = "vllm" if use_vllm else "transformers"
    for name, attribute in TRAINER_ATTRIBUTES.items():
        if attribute.path not in ("any", path):
            continue
        if not hasattr(trainer, name):
            fail(f"{name} ({attribute.use})")
        found = type(getattr(trainer, name)).__name__
        if found != attribute.type_name:
            fail(f"{name} to be a {attribute.type_name}, found {found}")
    if use_vllm:
        for name in VLLM_ATTRIBUTES:
            if not hasattr(trainer.vllm_generation, name):
                fail(f"vllm_generation.{name}")


def resumable_shuffle(trainer: Any) -> None:
    """Make the order of prompts in each epoch independent of where the run was resumed (`r3.training.resume`).

    TRL's `RepeatSampler` draws every epoch's shuffle from one generator seeded once, and has no `set_epoch`: a run
    resumed in its second epoch starts a fresh generator and sees the first epoch's order again, so it does not end
    where the uninterrupted run ends. The wrapped sampler replays the generator to the epoch the trainer is in."""
    from r3.training.resume import EpochShuffle

    make = trainer._get_train_sampler

    def sampler(dataset: Any = None) -> Any:
        return EpochShuffle(make(dataset), lambda: int(trainer.state.epoch or 0))

    trainer._get_train_sampler = sampler


def tokenize(trainer: Any, conversations: Sequence[Sequence[Message]]) -> list[list[int]]:
    """Token ids of chat prompts, templated exactly as TRL templates its own prompts (generation prompt added)."""
    prompt_ids, _images, _fields = trainer._tokenize_prompts([list(c) for c in conversations])
    return [list(ids) for ids in prompt_ids]


def generate(
    trainer: Any,
    prompt_ids: Sequence[Sequence[int]],
    *,
    num_generations: int,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
) -> tuple[list[list[int]], list[list[float]] | None]:
    """Sample from the current policy through TRL's own generation path.

    `prompt_ids` holds one row per sample wanted, each prompt repeated `num_generations` times in a row (TRL's own
    layout: the vLLM server path generates `num_generations` samples for every `num_generations`-th row). Returns
    the completion ids (cut after the first end-of-turn token) and, on vLLM, their sampling log-probs. A collective
    operation under vLLM server mode and ZeRO-3: every process must call it the same number of times.
    `max_new_tokens` / `temperature` override the trainer's sampling for this call only (None keeps it).
    """
    if not prompt_ids:
        raise ValueError("generate needs at least one prompt: call it with a placeholder to keep processes in step")
    with _sampling(trainer, max_new_tokens, temperature):
        completion_ids, logprobs = trainer._generate_single_turn(
            [list(ids) for ids in prompt_ids], None, {}, num_generations
        )
    return [list(ids) for ids in completion_ids], logprobs


@contextmanager
def _sampling(trainer: Any, max_new_tokens: int | None, temperature: float | None) -> Iterator[None]:
    """Temporarily change the sampling settings `_generate_single_turn` reads."""
    if max_new_tokens is None and temperature is None:
        yield
        return
    if trainer.use_vllm:
        backend = trainer.vllm_generation
        saved = backend.max_completion_length, backend.temperature
        if max_new_tokens is not None:
            backend.max_completion_length = max_new_tokens
        if temperature is not None:
            backend.temperature = temperature
        try:
            yield
        finally:
            backend.max_completion_length, backend.temperature = saved
        return
    saved_config, saved_kwargs = trainer.generation_config, trainer.generation_kwargs
    config, kwargs = copy.deepcopy(saved_config), dict(saved_kwargs)
    if max_new_tokens is not None:
        config.max_new_tokens = kwargs["max_new_tokens"] = max_new_tokens
    if temperature is not None:
        greedy = temperature == 0
        config.do_sample = kwargs["do_sample"] = not greedy
        config.temperature = kwargs["temperature"] = 1.0 if greedy else temperature
    trainer.generation_config, trainer.generation_kwargs = config, kwargs
    try:
        yield
    finally:
        trainer.generation_config, trainer.generation_kwargs = saved_config, saved_kwargs


def decode(trainer: Any, completion_ids: Sequence[Sequence[int]]) -> list[str]:
    """Texts of completions, special tokens (end of turn) removed, as TRL decodes its own."""
    return trainer.processing_class.batch_decode([list(ids) for ids in completion_ids], skip_special_tokens=True)


def placeholder_completion(trainer: Any) -> list[int]:
    """A one-token completion (end of turn) for a row that must exist but must carry no gradient."""
    return [trainer.eos_token_ids[0]]


__all__ = ["PINNED_TRL_VERSION", "check_trainer", "check_trl", "decode", "generate", "placeholder_completion",
           "tokenize"]
