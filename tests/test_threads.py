"""`threads`: eval, mine, train and forgetting run with torch's thread count set to it (and restore it after);
unset, torch's own count stays; it is not part of a run's identity (a rerun with other threads resumes)."""

from __future__ import annotations

import pytest
import torch

import r3
from r3.errors import R3Error
from r3.evaluation.config import EvalConfig
from r3.forgetting.config import ForgettingConfig
from r3.mining.config import MineConfig
from r3.training.config import TrainConfig
from r3.types import Completion


class ThreadRecorder:
    """A generator that answers "x" and records torch's thread count at every call."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def generate(self, prompts, params):
        self.threads.append(torch.get_num_threads())
        return [[Completion("x", 1)] for _ in prompts]


@pytest.mark.parametrize("command", ["eval", "mine"])
def test_threads_apply_while_the_command_runs_and_are_restored(command, tmp_path):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    fields = {"task": "countdown", "data": "sample:countdown", "limit": 2, "model": "unused", "progress": False,
              "threads": wanted, "attempt_max_new_tokens": 4}
    generator = ThreadRecorder()
    if command == "eval":
        r3.evaluate(EvalConfig(**fields, out=str(tmp_path / "eval")), generator=generator)
    else:
        r3.mine(MineConfig(**fields, out=str(tmp_path / "mine"), max_samples=1), generator=generator)
    assert generator.threads and set(generator.threads) == {wanted}
    assert torch.get_num_threads() == before


def test_threads_default_unset_and_not_identity():
    for config_class in (EvalConfig, MineConfig, TrainConfig, ForgettingConfig):
        config = config_class()
        assert config.threads is None
        assert "threads" not in config.identity()
    before = torch.get_num_threads()
    with EvalConfig().torch_threads():
        assert torch.get_num_threads() == before
    with pytest.raises(R3Error, match="field 'threads' must be at least 1"):
        EvalConfig(threads=0)
