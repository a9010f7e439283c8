"""`r3 mine` settings: one dataclass, parsed from YAML and the command line by `r3.config.parser`.

    r3 mine --model runs/tiny --task countdown --data sample:countdown --max-samples 8 --out runs/mine-tiny
    config = r3.load_config("mine", {"model": "runs/tiny", "task": "countdown", "out": "runs/m", "max_samples": 8})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from r3.config import (
    AttemptBudgetArgs,
    BackendArgs,
    CommandConfig,
    ModelArgs,
    RunArgs,
    SamplingArgs,
    ShardArgs,
    TaskArgs,
    TemplateArgs,
    ThreadArgs,
    VllmArgs,
    option,
)
from r3.errors import R3Error
from r3.mining.schedule import RoundSchedule
from r3.types import SamplingParams


@dataclass
class MineConfig(CommandConfig, ThreadArgs, ShardArgs, RunArgs, AttemptBudgetArgs, SamplingArgs, VllmArgs, TemplateArgs,
                 BackendArgs, ModelArgs, TaskArgs):
    """Everything `r3 mine` takes; the miner reads the sampling and schedule fields."""

    max_samples: int = option(64, "sample budget per query (the paper: 64)")
    keep: int = option(1, "failures to find and keep per query before it stops")
    schedule: Literal["adaptive", "fixed"] = option(
        "adaptive", "adaptive: rounds of 1, 1, 2, 4, ... samples until a failure; fixed: all max_samples at once")

    required: ClassVar[tuple[str, ...]] = ("model", "task", "out")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.keep <= self.max_samples:
            raise R3Error(f"field 'keep' must be between 1 and max_samples ({self.max_samples}), got {self.keep}")
        if self.schedule not in ("adaptive", "fixed"):
            raise R3Error(f"field 'schedule' must be 'adaptive' or 'fixed', got {self.schedule!r}")

    def round_schedule(self) -> RoundSchedule:
        if self.schedule == "fixed":
            return RoundSchedule.fixed(self.max_samples)
        return RoundSchedule(max_samples=self.max_samples)

    def sampling(self) -> SamplingParams:
        return SamplingParams(n=1, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              max_new_tokens=self.attempt_max_new_tokens, seed=self.seed)
