"""Online mode: the first attempt is made during training, and only failed attempts go on to reflection.

Design (TRL's `rollout_func`, the documented hook for custom generation): TRL hands the rollout the prompts of this
process's generation batch, each task prompt repeated `num_generations` (G) times in a row. Per group of G rows the
rollout

1. samples ONE first attempt from the current policy (one per group, so all G reflections of a group follow the
   same attempt and GRPO compares like with like), and verifies it;
2. for each failed group, samples G reflections of the prompt
   [*task prompt, assistant: attempt, user: reflection instruction] - these are the completions TRL trains on;
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

from r3.conversation import reflection_messages
from r3.errors import R3Error
from r3.tasks.base import Task
from r3.training import trl_adapter
from r3.training.data import prompt_key

logger = logging.getLogger(__name__)


class OnlineRollout:
    """`rollout_func` for GRPOTrainer: first attempt, verify, reflections of the failed ones."""

    __name__ = "r3_online_rollout"

    def __init__(self, task: Task, reflection_instruction: str, retry_instruction: str, rows: list[dict[str, Any]],
                 *, max_new_tokens: int, temperature: float | None):
        self.task = task
        self.reflection_instruction = reflection_instruction
        self.retry_instruction = retry_instruction
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.examples = {prompt_key(row["prompt"]): json.loads(row["r3_example"]) for row in rows}

    def __call__(self, prompts: list, trainer: Any) -> dict[str, list]:
        size = trainer.num_generations if trainer.model.training else trainer.num_generations_eval
        firsts = self._group_heads(prompts, size)
        first_ids = trl_adapter.tokenize(trainer, firsts)
        attempt_ids, _ = trl_adapter.generate(trainer, first_ids, num_generations=1,
                                              max_new_tokens=self.max_new_tokens, temperature=self.temperature)
        attempts = trl_adapter.decode(trainer, attempt_ids)
        verdicts = [self.task.verify(self.examples[prompt_key(p)], a) for p, a in zip(firsts, attempts)]
        failed = [k for k, verdict in enumerate(verdicts) if not verdict.correct]

        conversations = [
            reflection_messages(firsts[k], [attempts[k]], [], [verdicts[k].reason],
                                self.reflection_instruction, self.retry_instruction)
            for k in (failed or [0])  # a placeholder group keeps processes in step
        ]
        reflection_prompt_ids = trl_adapter.tokenize(trainer, conversations)
        repeated = [ids for ids in reflection_prompt_ids for _ in range(size)]
        completion_ids, logprobs = trl_adapter.generate(trainer, repeated, num_generations=size)
        return self._assemble(trainer, size, first_ids, attempts, verdicts, failed, reflection_prompt_ids,
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
            "prompt_ids", "completion_ids", "env_mask", "r3_attempt", "r3_reason", "r3_first_correct")}
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
                out["r3_attempt"].append(attempts[k])
                out["r3_reason"].append(verdict.reason)
                out["r3_first_correct"].append(verdict.correct)
        out["logprobs"] = out_logprobs
        return out
