"""The episode engine: attempt, verify; on failure reflect, retry, verify - batched by phase.

One generation call per phase and per batch, never one episode at a time:

    batch of B problems
      phase 1   all B first attempts                      -> one generator.generate call, then verify each
      round r = 1 .. max_attempts-1 (only while some episode of the batch is still unsolved):
      phase 2r  reflections of the F failed ones          -> one call
      phase 2r+1 retries of the same F                    -> one call, then verify each

A solved episode leaves the batch at once: it gets no reflection and no further attempt. Each sample draws with its
own seed, `episode_seed(run seed, problem id, index, phase)`, when the generator takes per-prompt seeds (the HF and
vLLM backends do): an episode is then the same whatever the batch size, and a run resumed after a kill samples what
the uninterrupted run sampled. Other generators get one seed per batch and phase. The prompts of every
phase come from `r3.conversation`, so evaluation, mining and training show the model the same conversation. With a
generator that takes token ids (`generate_ids` and a `template`: the HF and vLLM backends), reflection and retry
prompts are built from the ids the model generated (`r3.conversation.reflection_prompt_ids`), so the model sees its
attempt and reflection exactly as it wrote them, reasoning included; other generators get the same layout as
messages.

    for batch in run_episodes(task, generator, examples, EpisodeConfig(max_attempts=2)):
        ...  # a list of finished Episodes, in example order
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from r3.conversation import reflection_messages, reflection_prompt_ids, retry_messages, retry_prompt_ids
from r3.episodes.progress import PhaseHooks
from r3.errors import R3Error
from r3.tasks.base import Task
from r3.types import Attempt, Completion, Episode, Generator, Message, SamplingParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeConfig:
    """How episodes are run.

    Attributes:
        max_attempts: attempts per episode; `max_attempts - 1` reflect-and-retry rounds (the paper used 2).
        attempt_params: sampling of first attempts.
        reflection_params: sampling of reflections.
        retry_params: sampling of retries; None means the same as `attempt_params`.
        reflection_instruction / retry_instruction: override the task's own; None keeps the task's.
        batch_size: episodes per batch: each phase of a batch is one generate call, and finished batches are what
            `run_episodes` yields (and what callers write to disk).
        strip_reasoning: show earlier turns without their reasoning (`...</think>`); default: in full.
    """

    max_attempts: int = 2
    attempt_params: SamplingParams = field(default_factory=SamplingParams)
    reflection_params: SamplingParams = field(default_factory=SamplingParams)
    retry_params: SamplingParams | None = None
    reflection_instruction: str | None = None
    retry_instruction: str | None = None
    batch_size: int = 32
    strip_reasoning: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise R3Error(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.batch_size < 1:
            raise R3Error(f"batch_size must be at least 1, got {self.batch_size}")
        for name in ("attempt_params", "reflection_params", "retry_params"):
            params = getattr(self, name)
            if params is not None and params.n != 1:
                raise R3Error(f"{name}.n must be 1 (an episode follows one sample), got {params.n}")


@dataclass
class _Draft:
    """A mutable episode under construction; frozen into an `Episode` when its batch is done."""

    index: int
    problem_id: str
    example: dict[str, Any]
    prompt: tuple[Message, ...]
    instructions: tuple[str, str] = ("", "")  # (reflection, retry), the example's fields filled in
    attempts: list[Attempt] = field(default_factory=list)
    reflections: list[Completion] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    attempt_ids: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def solved(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].verdict.correct

    def history(self) -> tuple[list[str], list[str], list[str]]:
        """Attempt texts, reflection texts and failure reasons, as r3.conversation takes them."""
        return (
            [a.text for a in self.attempts],
            [r.text for r in self.reflections],
            [a.verdict.reason for a in self.attempts],
        )

    def id_history(self) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], list[str]]:
        """The same with the generated token ids of attempts and reflections."""
        return self.attempt_ids, [r.token_ids for r in self.reflections], [a.verdict.reason for a in self.attempts]

    def freeze(self) -> Episode:
        return Episode(
            index=self.index,
            problem_id=self.problem_id,
            example=self.example,
            prompt=self.prompt,
            attempts=tuple(self.attempts),
            reflections=tuple(self.reflections),
            extra={"attempt_finish_reasons": list(self.finish_reasons)},
        )


def run_episodes(
    task: Task,
    generator: Generator,
    examples: Sequence[dict[str, Any]],
    config: EpisodeConfig,
    *,
    start_index: int = 0,
    problem_ids: Sequence[str] | None = None,
    hooks: PhaseHooks | None = None,
) -> Iterator[list[Episode]]:
    """Run one episode per example of `examples[start_index:]`, yielding finished episodes batch by batch.

    `examples` are normalized task examples. An episode's `index` is its example's position in `examples`, so a
    caller that resumes after k finished episodes passes the same list with `start_index=k` and gets the indices
    (and problem ids) an uninterrupted run would have given. `problem_ids`, aligned with `examples`, overrides
    `task.problem_id(example, index)`. Episodes come out in example order. `hooks` (an `r3.episodes.progress`
    `PhaseHooks`) hears of each batch, of each generate call ("first attempt", "reflection 1", "retry 1", ...) and,
    from generators that report them, of its decoding steps, so a progress bar can move within a batch; phases
    skipped because every episode is solved are not reported.
    """
    if problem_ids is not None and len(problem_ids) != len(examples):
        raise ValueError(f"got {len(problem_ids)} problem ids for {len(examples)} examples")
    for batch_start in range(start_index, len(examples), config.batch_size):
        indices = range(batch_start, min(batch_start + config.batch_size, len(examples)))
        drafts = [
            _Draft(
                index=i,
                problem_id=str(problem_ids[i]) if problem_ids is not None else task.problem_id(examples[i], i),
                example=examples[i],
                prompt=tuple(task.prompt(examples[i])),
                instructions=_instructions(task, config, examples[i]),
            )
            for i in indices
        ]
        _run_batch(task, generator, drafts, config, batch_start, hooks or PhaseHooks())
        yield [draft.freeze() for draft in drafts]


def _run_batch(
    task: Task,
    generator: Generator,
    drafts: list[_Draft],
    config: EpisodeConfig,
    batch_start: int,
    hooks: PhaseHooks,
) -> None:
    """Fill `drafts` in place: phase 1 for all, then reflect/retry rounds for those still unsolved."""
    retry_params = config.retry_params or config.attempt_params
    layout = _Layout(generator, config.strip_reasoning, hooks, batch_start)
    rounds = config.max_attempts - 1
    hooks.batch_started(len(drafts), [config.attempt_params.max_new_tokens]
                        + [config.reflection_params.max_new_tokens, retry_params.max_new_tokens] * rounds)
    _attempt_phase(task, layout, drafts, layout.first(drafts), config.attempt_params, "first attempt", 0)
    for round_number in range(1, config.max_attempts):
        open_drafts = [d for d in drafts if not d.solved]
        if not open_drafts:
            break
        logger.debug("batch at %d, round %d: %d of %d unsolved", batch_start, round_number, len(open_drafts),
                     len(drafts))
        reflections = layout.generate(open_drafts, layout.reflection(open_drafts), config.reflection_params,
                                      f"reflection {round_number}", 2 * round_number - 1)
        for draft, reflection in zip(open_drafts, reflections):
            draft.reflections.append(reflection)
        hooks.phase_done(f"reflection {round_number}", len(open_drafts))
        _attempt_phase(task, layout, open_drafts, layout.retry(open_drafts), retry_params,
                       f"retry {round_number}", 2 * round_number)


def _instructions(task: Task, config: EpisodeConfig, example: dict[str, Any]) -> tuple[str, str]:
    """The reflection and retry instructions of one example: the config's overrides, else the task's with the
    example's fields filled in (`{reason}` stays for `r3.conversation`)."""
    reflect, retry = task.instructions(example) if hasattr(task, "instructions") else (
        task.reflection_instruction, task.retry_instruction)
    return config.reflection_instruction or reflect, config.retry_instruction or retry


@dataclass(frozen=True)
class _Layout:
    """Prompts of each phase from `r3.conversation`: token ids when the generator takes them, else messages."""

    generator: Generator
    strip_reasoning: bool
    hooks: PhaseHooks
    batch_start: int

    @property
    def by_ids(self) -> bool:
        return hasattr(self.generator, "generate_ids") and hasattr(self.generator, "template")

    def first(self, drafts: list[_Draft]) -> list:
        if self.by_ids:
            return [self.generator.template.encode(d.prompt) for d in drafts]
        return [list(d.prompt) for d in drafts]

    def reflection(self, drafts: list[_Draft]) -> list:
        return [self._build(d, reflection_prompt_ids, reflection_messages) for d in drafts]

    def retry(self, drafts: list[_Draft]) -> list:
        return [self._build(d, retry_prompt_ids, retry_messages) for d in drafts]

    def _build(self, draft: _Draft, by_ids, by_messages):
        instructions = draft.instructions
        if self.by_ids:
            return by_ids(self.generator.template, draft.prompt, *draft.id_history(), *instructions,
                          strip_reasoning=self.strip_reasoning)
        return by_messages(draft.prompt, *draft.history(), *instructions, strip_reasoning=self.strip_reasoning)

    def generate(self, drafts: list[_Draft], prompts: list, params: SamplingParams, name: str,
                 phase: int) -> list[Completion]:
        """One sample per prompt (with each draft's own seed where the backend takes them), checking that the
        backend kept its side of the protocol."""
        call = self.generator.generate_ids if self.by_ids else self.generator.generate
        options: dict[str, Any] = {}
        if _takes(call, "seeds") and params.seed is not None:
            options["seeds"] = [episode_seed(params.seed, d.problem_id, d.index, phase) for d in drafts]
        elif params.seed is not None:
            params = _phase_params(params, self.batch_start, phase)
        if _takes(call, "on_tokens"):
            options["on_tokens"] = self.hooks.on_tokens
        self.hooks.phase_started(name, len(prompts), params.max_new_tokens)
        outputs = call(prompts, params, **options)
        if len(outputs) != len(prompts) or any(len(samples) != 1 for samples in outputs):
            raise RuntimeError(
                f"generator returned {[len(s) for s in outputs]} samples for {len(prompts)} prompts with n=1"
            )
        return [samples[0] for samples in outputs]


def _attempt_phase(task: Task, layout: _Layout, drafts: list[_Draft], prompts: list, params: SamplingParams,
                   name: str, phase: int) -> None:
    """One generate call for an attempt of every draft, then verify each."""
    for draft, completion in zip(drafts, layout.generate(drafts, prompts, params, name, phase)):
        verdict = task.verify(draft.example, completion.text)
        draft.attempts.append(Attempt(completion.text, completion.num_tokens, verdict))
        draft.attempt_ids.append(completion.token_ids)
        draft.finish_reasons.append(completion.finish_reason)
    layout.hooks.phase_done(name, len(drafts))


def episode_seed(run_seed: int, problem_id: str, index: int, phase: int) -> int:
    """The seed of one sample: episode `index` (problem `problem_id`), phase 0 = first attempt, 2r-1 = reflection r,
    2r = retry r. A hash, so neighbouring episodes and phases get unrelated streams; 63 bits fit int64."""
    digest = hashlib.sha256(f"r3-episode/{run_seed}/{problem_id}/{index}/{phase}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _takes(method: Callable[..., Any], name: str) -> bool:
    """Whether a generator's `generate`/`generate_ids` accepts the keyword `name` (`seeds`, `on_tokens`)."""
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _phase_params(params: SamplingParams, batch_start: int, phase: int) -> SamplingParams:
    """For generators without per-prompt seeds: each (batch, phase) gets its own seed derived from the user's, so
    that phases do not replay the same random stream and a run resumed at a batch boundary (with the same batch
    size) samples what the uninterrupted run would have sampled."""
    if params.seed is None:
        return params
    return dataclasses.replace(params, seed=(params.seed + 1_000_003 * batch_start + 7_919 * phase) % 2**31)
