"""The rollout functions: what TRL's GRPOTrainer samples, as token ids r3 builds (offline and online modes).

Both modes hand TRL a `rollout_func`, so the prompt ids TRL trains on are r3's (`r3.conversation`): the attempt
as the model generated it, reasoning included, and the template's options (GRPOConfig's `chat_template_kwargs`).
Each returns the reflection prompt ids as `r3_prompt_ids`, which the reward extends with the trained reflection ids
(never decoded and re-encoded) to make the retry prompt.

Offline (`OfflineRollout`): each row's reflection prompt ids come from its mined attempt; TRL's G rows of a prompt
get G reflections, as TRL would sample them itself.

Online (`OnlineRollout`): the first attempt is made during training, and only failed attempts go on to reflection.

Design (TRL's `rollout_func`, the documented hook for custom generation): TRL hands the rollout the prompts of this
process's generation batch, each task prompt repeated `num_generations` (G) times in a row. Per group of G rows the
rollout

1. samples ONE first attempt from the current policy (one per group, so all G reflections of a group follow the
   same attempt and GRPO compares like with like), and verifies it;
2. for each failed group, samples G reflections of the prompt
   [*task prompt, assistant: attempt ids, user: reflection instruction] - these are the completions TRL trains on;
3. for each solved group, returns a one-token placeholder completion with `env_mask` 0: TRL multiplies its loss
   mask by `env_mask` (grpo_trainer.py:2497), so a solved first attempt adds no gradient, neither policy nor KL.

The attempt, the verifier's reason and whether it was solved travel to the reward as extra fields (`r3_attempt`,
`r3_reason`, `r3_first_correct`); the reward then retries after each reflection exactly as in offline mode.
Why not generate reflections for solved groups too and mask them: the work would scale with the success rate, and
strong models solve most first attempts. Each step makes the same number of generation calls on every process (a
placeholder group when a process has no failure) because vLLM server mode and ZeRO-3 gathering are collective.
Groups must not straddle processes (checked in `r3.training.config`), or two halves would get two attempts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from r3.conversation import reflection_prompt_ids
from r3.errors import R3Error
from r3.tasks.base import Task
from r3.training import trl_adapter
from r3.training.data import example_instructions, prompt_key, row_prompt_ids, training_template

logger = logging.getLogger(__name__)


def group_size(trainer: Any) -> int:
    """Completions per prompt in this generation batch (TRL's eval batches may use another G)."""
    return trainer.num_generations if trainer.model.training else trainer.num_generations_eval


class OfflineRollout:
    """`rollout_func` for offline mode: each row's reflection prompt as r3's token ids, G reflections of each."""

    __name__ = "r3_offline_rollout"

    def __init__(self, reflection_instruction: str, retry_instruction: str, rows: list[dict[str, Any]], *,
                 strip_reasoning: bool = False, empty_reflection: bool = False):
        self.reflection_instruction = reflection_instruction
        self.retry_instruction = retry_instruction
        self.strip_reasoning = strip_reasoning
        self.empty_reflection = empty_reflection  # the control arm: completions are retries after no reflection
        self.rows: dict[str, dict[str, Any]] = {}
        for row in rows:
            self.rows.setdefault(prompt_key(row["prompt"]), row)
        self._ids: dict[str, list[int]] = {}
        self._template: Any = None

    def prompt_ids(self, trainer: Any, prompt: list) -> list[int]:
        """The reflection prompt ids of the row whose (text) prompt is `prompt`; built once per row."""
        key = prompt_key(prompt)
        if key not in self._ids:
            if self._template is None:
                self._template = training_template(trainer)
            self._ids[key] = row_prompt_ids(self._template, self.rows[key], self.reflection_instruction,
                                            self.retry_instruction, strip_reasoning=self.strip_reasoning,
                                            empty_reflection=self.empty_reflection)
        return self._ids[key]

    def __call__(self, prompts: list, trainer: Any) -> dict[str, list]:
        prompt_ids = [self.prompt_ids(trainer, prompt) for prompt in prompts]  # G consecutive rows per prompt
        completion_ids, logprobs = trl_adapter.generate(trainer, prompt_ids, num_generations=group_size(trainer))
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": logprobs,
                "r3_prompt_ids": prompt_ids}


class OnlineRollout:
    """`rollout_func` for GRPOTrainer: first attempt, verify, reflections of the failed ones."""

    __name__ = "r3_online_rollout"

    def __init__(self, task: Task, reflection_instruction: str, retry_instruction: str, rows: list[dict[str, Any]],
                 *, max_new_tokens: int, temperature: float | None, strip_reasoning: bool = False):
        self.task = task
        self.reflection_instruction = reflection_instruction
        self.retry_instruction = retry_instruction
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.strip_reasoning = strip_reasoning
        self.examples = {prompt_key(row["prompt"]): json.loads(row["r3_example"]) for row in rows}
        self._template: Any = None

    def __call__(self, prompts: list, trainer: Any) -> dict[str, list]:
        if self._template is None:
            self._template = training_template(trainer)
        size = group_size(trainer)
        firsts = self._group_heads(prompts, size)
        first_ids = [self._template.encode(prompt) for prompt in firsts]
        attempt_ids, _ = trl_adapter.generate(trainer, first_ids, num_generations=1,
                                              max_new_tokens=self.max_new_tokens, temperature=self.temperature)
        attempts = trl_adapter.decode(trainer, attempt_ids)
        verdicts = [self.task.verify(self.examples[prompt_key(p)], a) for p, a in zip(firsts, attempts)]
        failed = [k for k, verdict in enumerate(verdicts) if not verdict.correct]

        reflection_prompts = [
            reflection_prompt_ids(self._template, firsts[k], [attempt_ids[k]], [], [verdicts[k].reason],
                                  *example_instructions(self.task, self.examples[prompt_key(firsts[k])],
                                                        self.reflection_instruction, self.retry_instruction),
                                  strip_reasoning=self.strip_reasoning)
            for k in (failed or [0])  # a placeholder group keeps processes in step
        ]
        repeated = [ids for ids in reflection_prompts for _ in range(size)]
        completion_ids, logprobs = trl_adapter.generate(trainer, repeated, num_generations=size)
        return self._assemble(trainer, size, first_ids, attempts, verdicts, failed, reflection_prompts,
                              completion_ids, logprobs)

    @staticmethod
    def _group_heads(prompts: list, size: int) -> list:
        """The task prompt of each group of `size` consecutive identical rows."""
        if len(prompts) % size:
            raise R3Error(f"online mode got {len(prompts)} prompts on this process, not whole groups of {size}: "
                          "make per_device_train_batch_size x steps_per_generation a multiple of num_generations")
        heads = prompts[::size]
        for k, head in enumerate(heads):
            key = prompt_key(head)
            if any(prompt_key(p) != key for p in prompts[k * size:(k + 1) * size]):
                raise R3Error("online mode needs each group's rows together on one process; check the batch sizes")
        return heads

    def _assemble(self, trainer, size, first_ids, attempts, verdicts, failed, reflection_prompt_ids,
                  completion_ids, logprobs) -> dict[str, list]:
        out: dict[str, list] = {key: [] for key in (
            "prompt_ids", "completion_ids", "env_mask", "r3_attempt", "r3_reason", "r3_first_correct",
            "r3_prompt_ids")}
        out_logprobs: list | None = [] if logprobs is not None else None
        position = {k: j for j, k in enumerate(failed)}
        placeholder = trl_adapter.placeholder_completion(trainer)
        for k, verdict in enumerate(verdicts):
            for g in range(size):
                if k in position:
                    row = position[k] * size + g
                    ids = completion_ids[row]
                    out["prompt_ids"].append(reflection_prompt_ids[position[k]])
                    out["completion_ids"].append(ids)
                    out["env_mask"].append([1] * len(ids))
                    if out_logprobs is not None:
                        out_logprobs.append(logprobs[row])
                else:
                    out["prompt_ids"].append(first_ids[k])
                    out["completion_ids"].append(list(placeholder))
                    out["env_mask"].append([0] * len(placeholder))
                    if out_logprobs is not None:
                        out_logprobs.append([0.0] * len(placeholder))
                out["r3_prompt_ids"].append(out["prompt_ids"][-1])
                out["r3_attempt"].append(attempts[k])
                out["r3_reason"].append(verdict.reason)
                out["r3_first_correct"].append(verdict.correct)
        out["logprobs"] = out_logprobs
        return out
