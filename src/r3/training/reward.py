"""The retry reward: a reflection earns 1.0 when the retry it leads to succeeds, else 0.0.

TRL calls this once per generation batch with its completions (the reflections) and every dataset column. For
each reflection it builds the retry prompt with `r3.conversation.retry_after_reflection_ids`

    [*task prompt, assistant: failed attempt, user: reflection instruction, assistant: reflection, user: retry]

as token ids: the reflection prompt ids the rollout gave TRL (`r3_prompt_ids`), then the reflection's ids exactly as
TRL trains them (its end-of-turn token replaced by the template's joint), then the retry turn; then it samples ONE
retry from the current policy through TRL's own generation path (`r3.training.trl_adapter`), and
verifies it with the task. The retry tokens never enter the training batch: they only decide the reward, so the
only tokens that get gradient are the reflection's (TRL's completion mask).

Multi-process: each process makes exactly one generation call per batch (a placeholder one when it has nothing to
retry), because vLLM server mode and ZeRO-3 gathering are collective operations; TRL gathers the rewards across
processes before normalising them per group, so groups split over processes are fine.

Logged per step (through TRL's `log_metric`, averaged over processes, reported to TensorBoard / W&B):
    r3/retry_success          share of retries that succeeded (= mean reward over reflections that were rewarded)
    r3/zero_spread_groups     share of this process's complete groups whose rewards are all equal (no learning
                              signal; TRL's own `frac_reward_zero_std` is the same over all processes)
    r3/reflection_tokens      mean reflection length in tokens;  r3/retry_tokens: mean retry length
    r3/retry_truncated        share of retries that stopped at attempt_max_new_tokens
    r3/verifier_errors        share of retries whose verifier raised or timed out (judged incorrect, see Task.verify)
    r3/first_attempt_success  online mode only: share of first attempts that were already correct
and per sample, in TRL's completions table (`log_completions: true`): retry, retry_correct, retry_reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from r3.conversation import reflection_prompt_ids, retry_after_reflection_ids
from r3.errors import shorten
from r3.tasks.base import Task
from r3.training import trl_adapter
from r3.training.data import training_template

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrySample:
    """One reflection, the retry it led to, and the verdict: what the log shows a researcher."""

    problem_id: str
    reflection: str
    retry: str
    correct: bool
    reason: str


class RetryReward:
    """Reward function for GRPOTrainer; call `bind(trainer)` after constructing the trainer."""

    __name__ = "retry_success"  # TRL names reward columns and metrics after it (rewards/retry_success/mean)

    def __init__(self, task: Task, reflection_instruction: str, retry_instruction: str, *,
                 max_new_tokens: int, temperature: float | None, log_samples: int = 2,
                 strip_reasoning: bool = False):
        self.task = task
        self.strip_reasoning = strip_reasoning
        self._template: Any = None
        self.reflection_instruction = reflection_instruction
        self.retry_instruction = retry_instruction
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.log_samples = log_samples
        self.trainer: Any = None
        self.last_samples: list[RetrySample] = []
        self._examples: dict[str, dict[str, Any]] = {}

    def bind(self, trainer: Any) -> None:
        """Give the reward the trainer whose policy makes the retries (TRL never passes it to rewards)."""
        self.trainer = trainer

    def __call__(self, prompts: list, completions: list, completion_ids: list, *, r3_example: list[str],
                 r3_task_prompt: list, r3_attempt: list[str], r3_reason: list[str],
                 log_extra: Callable | None = None, log_metric: Callable | None = None,
                 r3_first_correct: list[bool] | None = None, problem_id: list[str] | None = None,
                 r3_prompt_ids: list[list[int]] | None = None, r3_reflection_instruction: list[str] | None = None,
                 r3_retry_instruction: list[str] | None = None, **_: Any) -> list[float]:
        if self.trainer is None:
            raise RuntimeError("RetryReward is not bound to a trainer: call reward.bind(trainer) before training")
        reflections = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        skip = list(r3_first_correct) if r3_first_correct is not None else [False] * len(reflections)
        active = [i for i, skipped in enumerate(skip) if not skipped]
        reflects = r3_reflection_instruction or [self.reflection_instruction] * len(reflections)
        retries = r3_retry_instruction or [self.retry_instruction] * len(reflections)
        prompts_ids = [
            self.retry_prompt(r3_task_prompt[i], r3_prompt_ids[i] if r3_prompt_ids is not None else None,
                              r3_attempt[i], completion_ids[i], r3_reason[i], (reflects[i], retries[i]))
            for i in (active or [0])  # a placeholder keeps processes in step when nothing here needs a retry
        ]
        retry_ids, _ = trl_adapter.generate(self.trainer, prompts_ids, num_generations=1,
                                            max_new_tokens=self.max_new_tokens, temperature=self.temperature)
        texts = trl_adapter.decode(self.trainer, retry_ids) if active else []

        rewards = [0.0] * len(reflections)
        retry_col, correct_col, reason_col = [""] * len(reflections), [None] * len(reflections), [""] * len(reflections)
        samples = []
        for i, text, ids in zip(active, texts, retry_ids):
            verdict = self.task.verify(self._example(r3_example[i]), text)
            rewards[i] = 1.0 if verdict.correct else 0.0
            retry_col[i], correct_col[i], reason_col[i] = text, verdict.correct, verdict.reason
            pid = problem_id[i] if problem_id is not None else str(i)
            samples.append(RetrySample(pid, reflections[i], text, verdict.correct, verdict.reason))
            if log_metric is not None:
                log_metric("r3/retry_success", rewards[i])
                log_metric("r3/reflection_tokens", float(len(completion_ids[i])))
                log_metric("r3/retry_tokens", float(len(ids)))
                log_metric("r3/retry_truncated", float(len(ids) >= self.max_new_tokens))  # hit its token limit
                log_metric("r3/verifier_errors", float(verdict.error))  # the verifier raised or timed out
        self.last_samples = samples
        if log_metric is not None:
            self._log_groups(rewards, skip, r3_attempt, problem_id, r3_first_correct is not None, log_metric)
        if log_extra is not None:
            log_extra("retry", retry_col)
            log_extra("retry_correct", correct_col)
            log_extra("retry_reason", reason_col)
        self._log_samples(samples)
        return rewards

    def retry_prompt(self, task_prompt: list, reflection_prompt: list[int] | None, attempt: str,
                     reflection: list[int], reason: str, instructions: tuple[str, str] | None = None) -> list[int]:
        """The retry prompt ids around the trained reflection ids. Without the rollout's reflection prompt ids
        (a trainer built without r3's rollout) the reflection prompt is rebuilt from the attempt's text.
        `instructions`: this row's (reflection, retry) instructions (default: the run's)."""
        reflect, retry = instructions or (self.reflection_instruction, self.retry_instruction)
        if self._template is None:
            self._template = training_template(self.trainer)
        if reflection_prompt is None:
            reflection_prompt = reflection_prompt_ids(
                self._template, task_prompt, [self._template.encode_text(attempt)], [], [reason],
                reflect, retry, strip_reasoning=self.strip_reasoning)
        return retry_after_reflection_ids(self._template, task_prompt, reflection_prompt, reflection, reason,
                                          retry, strip_reasoning=self.strip_reasoning)

    def _example(self, example_json: str) -> dict[str, Any]:
        if example_json not in self._examples:
            self._examples[example_json] = json.loads(example_json)
        return self._examples[example_json]

    def _log_groups(self, rewards, skip, attempts, problem_ids, online, log_metric) -> None:
        """Zero-spread share over this process's complete groups, and first-attempt success (online)."""
        size = self.trainer.num_generations
        keys = [(problem_ids[i] if problem_ids else None, attempts[i]) for i in range(len(rewards))]
        start = 0
        while start < len(rewards):
            end = start
            while end < len(rewards) and keys[end] == keys[start]:
                end += 1
            if end - start == size:  # a whole group on this process (its rows come in a run of num_generations)
                if online:
                    log_metric("r3/first_attempt_success", float(skip[start]))
                if not skip[start]:
                    log_metric("r3/zero_spread_groups", float(len(set(rewards[start:end])) == 1))
            start = end

    def _log_samples(self, samples: list[RetrySample]) -> None:
        trainer = self.trainer
        if not samples or self.log_samples <= 0 or not trainer.accelerator.is_main_process:
            return
        every = max(int(trainer.args.logging_steps), 1) if trainer.args.logging_steps >= 1 else 1
        if trainer.state.global_step % every:
            return
        for sample in samples[: self.log_samples]:
            logger.info("step %d, problem %s: reflection %s -> retry %s (%s: %s)", trainer.state.global_step,
                        sample.problem_id, shorten(sample.reflection, 300), shorten(sample.retry, 300),
                        "correct" if sample.correct else "wrong", shorten(sample.reason, 120))
