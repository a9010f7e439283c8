"""`r3 eval` settings: one dataclass, parsed from YAML and the command line by `r3.config.parser`.

    r3 eval --model runs/tiny --task countdown --data sample:countdown --limit 32 --out runs/eval-tiny
    config = r3.load_config("eval", {"model": "runs/tiny", "task": "countdown", "out": "runs/e"})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from r3.config import (
    AttemptBudgetArgs,
    BackendArgs,
    CommandConfig,
    ModelArgs,
    ReasoningArgs,
    ReflectionBudgetArgs,
    RunArgs,
    SamplingArgs,
    ShardArgs,
    TaskArgs,
    TemplateArgs,
    ThreadArgs,
    VllmArgs,
    option,
)


@dataclass
class EvalConfig(CommandConfig, ThreadArgs, ShardArgs, RunArgs, ReflectionBudgetArgs, AttemptBudgetArgs, SamplingArgs, VllmArgs,
                 ReasoningArgs, TemplateArgs, BackendArgs, ModelArgs, TaskArgs):
    """Everything `r3 eval` takes. Fields other than `NOT_IDENTITY` decide the result: a rerun must match them."""

    attempts: int = option(2, "attempts per problem: K-1 reflect-retry rounds (the paper: 2)")

    required: ClassVar[tuple[str, ...]] = ("model", "task", "out")

    def episode_config(self):
        """Sampling of attempts, reflections and retries as the episode engine takes it."""
        from r3.episodes import EpisodeConfig
        from r3.types import SamplingParams

        attempt = SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                                 max_new_tokens=self.attempt_max_new_tokens, seed=self.seed)
        reflection = dataclasses.replace(attempt, max_new_tokens=self.reflection_max_new_tokens)
        return EpisodeConfig(max_attempts=self.attempts, attempt_params=attempt, reflection_params=reflection,
                             retry_params=attempt, batch_size=self.batch_size, strip_reasoning=self.strip_reasoning)
