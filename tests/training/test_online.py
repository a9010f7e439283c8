"""Online mode: the first attempt is made during training; a solved one gets a placeholder with no gradient."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_fakes import write_config, write_words

from r3.training.config import load_train_config as load_config
from r3.training.trainer import build_trainer


@pytest.fixture(scope="module")
def online_step(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("online")
    data = write_words(base / "words.jsonl", ["apple", "river"])
    config_path = write_config(base / "c.yaml", tiny_model_dir, data, base / "out", mode="online",
                               task="train_fakes:AppleTask", max_steps=1)
    config, training = load_config(config_path)
    trainer = build_trainer(config, training)
    seen: dict = {"loss_inputs": [], "rewards": []}
    real_loss, reward = trainer._compute_loss, trainer.reward_funcs[0]

    def compute_loss(model, inputs):
        seen["loss_inputs"].append(inputs)
        return real_loss(model, inputs)

    def call(**kwargs):
        rewards = reward(**kwargs)
        seen["rewards"].append((kwargs, rewards))
        return rewards

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "_compute_loss", compute_loss)
        patch.setattr(trainer, "reward_funcs", [call])
        trainer.train()
    seen["trainer"] = trainer
    return seen


def test_solved_first_attempts_skip_reflection_and_get_no_gradient(online_step: dict) -> None:
    kwargs, rewards = online_step["rewards"][0]
    first_correct = kwargs["r3_first_correct"]
    assert sorted(first_correct) == [False] * 4 + [True] * 4  # apple solved, river failed: one group each
    assert all(r == 0.0 for r, solved in zip(rewards, first_correct) if solved)
    tokenizer = online_step["trainer"].processing_class
    batch = online_step["loss_inputs"][0]
    mask = batch["completion_mask"] * batch["tool_mask"]  # [B, C]: what the loss counts
    assert sorted(mask.sum(dim=1).tolist())[:4] == [0, 0, 0, 0]
    reflected = [i for i in range(mask.size(0)) if mask[i].sum() > 0]
    assert len(reflected) == 4
    attempts = {a for a, solved in zip(kwargs["r3_attempt"], first_correct) if not solved}
    assert len(attempts) == 1  # one first attempt per group: all four reflections follow the same attempt
    for i in reflected:
        prompt = tokenizer.decode(batch["prompt_ids"][i][batch["prompt_mask"][i].bool()])
        assert "Say the word river" in prompt and "Reflect on what went wrong" in prompt
    reflections = sorted(list(ids) for ids, solved in zip(kwargs["completion_ids"], first_correct) if not solved)
    entered = sorted(batch["completion_ids"][i][mask[i].bool()].tolist() for i in reflected)
    assert entered == reflections


def test_first_attempt_success_is_logged(online_step: dict) -> None:
    logged = online_step["trainer"].state.log_history[0]
    assert logged["r3/first_attempt_success"] == pytest.approx(0.5)
    assert logged["r3/retry_success"] == 0.0  # river's retries always fail


def test_groups_must_not_straddle_processes() -> None:
    """With 2 processes x 2 rows and groups of 4, each process would hold half a group (and make its own attempt)."""
    from dataclasses import dataclass

    from r3.errors import R3Error
    from r3.training.config import TrainConfig, check_combination

    @dataclass
    class PerProcess:  # what one of the two processes holds (GRPOConfig's own check sees all processes together)
        per_device_train_batch_size: int = 2
        steps_per_generation: int = 1
        num_generations: int = 4
        use_vllm: bool = False
        vllm_max_model_length: int | None = None
        eval_strategy: str = "no"

    with pytest.raises(R3Error, match="multiple of num_generations"):
        check_combination(TrainConfig(task="t", model="m", mode="online"), PerProcess())
    check_combination(TrainConfig(task="t", model="m", mode="offline"), PerProcess())  # offline: fine
