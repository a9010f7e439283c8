"""Only reflection tokens get gradient: what enters TRL's loss is exactly the reflections, and the retry can change
the gradient only through the reward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_fakes import write_config, write_failures
from transformers import TrainerCallback

from r3.training import trl_adapter
from r3.training.config import load_train_config as load_config
from r3.training.trainer import build_trainer


class GradientRecorder(TrainerCallback):
    """Keeps the gradients of the first optimizer step."""

    def __init__(self) -> None:
        self.grads: dict[str, torch.Tensor] = {}

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if not self.grads:
            self.grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def one_step(base: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch, retry_text=None) -> dict:
    """One training step; `retry_text(real_text) -> text` replaces each retry after the real generation ran (so the
    random state is the same in every run). Returns the loss inputs, the reward calls and the gradients."""
    data = write_failures(base / "mine" / "failures.jsonl", count=2)
    config_path = write_config(base / "config.yaml", model_dir, data, base / "out", per_device_train_batch_size=8,
                               max_steps=1, beta=0.0)
    config, training = load_config(config_path)
    recorder = GradientRecorder()
    trainer = build_trainer(config, training, callbacks=[recorder])
    seen: dict = {"loss_inputs": [], "rewards": [], "retries": []}

    real_decode = trl_adapter.decode

    def decode(trainer_, ids):
        texts = real_decode(trainer_, ids)
        texts = [retry_text(t) for t in texts] if retry_text else texts
        seen["retries"].extend(texts)
        return texts

    monkeypatch.setattr(trl_adapter, "decode", decode)
    real_loss = trainer._compute_loss

    def compute_loss(model, inputs):
        seen["loss_inputs"].append({k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)})
        return real_loss(model, inputs)

    monkeypatch.setattr(trainer, "_compute_loss", compute_loss)
    reward = trainer.reward_funcs[0]
    seen["reward"] = reward
    real_call = reward.__call__

    def call(**kwargs):
        rewards = real_call(**kwargs)
        seen["rewards"].append((kwargs, rewards))
        return rewards

    monkeypatch.setattr(trainer, "reward_funcs", [call])
    trainer.train()
    seen["grads"], seen["trainer"] = recorder.grads, trainer
    return seen


@pytest.fixture(scope="module")
def monkeymodule():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def runs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeymodule: pytest.MonkeyPatch) -> dict:
    out = {}
    variants = {"real": None, "same_parity": lambda t: "Z" * len(t), "flipped": lambda t: "Z" * (len(t) + 1)}
    for name, fn in variants.items():
        with pytest.MonkeyPatch.context() as patch:
            out[name] = one_step(tmp_path_factory.mktemp(name), tiny_model_dir, patch, fn)
    return out


def test_loss_sees_exactly_the_reflections(runs: dict) -> None:
    run = runs["real"]
    trainer = run["trainer"]
    tokenizer = trainer.processing_class
    kwargs, _ = run["rewards"][0]
    reflections = [list(ids) for ids in kwargs["completion_ids"]]
    batch = run["loss_inputs"][0]
    entered = []
    for ids, mask in zip(batch["completion_ids"], batch["completion_mask"]):  # [B, C] each
        mask = mask.bool() if "tool_mask" not in batch else (mask * batch["tool_mask"]).bool()
        entered.append(ids[mask].tolist())
    assert sorted(entered) == sorted(reflections)  # TRL shuffles rows within the generation batch
    # TRL trained on r3's prompt ids, and each retry prompt holds the trained reflection ids unchanged
    trained_prompts = [ids[mask.bool()].tolist() for ids, mask in zip(batch["prompt_ids"], batch["prompt_mask"])]
    assert sorted(trained_prompts) == sorted(list(p) for p in kwargs["r3_prompt_ids"])
    for i, reflection in enumerate(reflections):
        prompt = list(kwargs["r3_prompt_ids"][i])
        retry = run["reward"].retry_prompt(kwargs["r3_task_prompt"][i], prompt, kwargs["r3_attempt"][i],
                                           reflection, kwargs["r3_reason"][i])
        body = reflection[:-1] if reflection[-1] in trainer.eos_token_ids else reflection
        assert retry[: len(prompt) + len(body)] == prompt + body
    for ids, mask in zip(batch["prompt_ids"], batch["prompt_mask"]):
        text = tokenizer.decode(ids[mask.bool()])
        assert "Say the word" in text and "Reflect on what went wrong" in text  # task, attempt, instruction
        assert "Now try the problem again" not in text  # the retry instruction never enters the batch


def test_retry_text_changes_gradient_only_through_the_reward(runs: dict) -> None:
    real, same, flipped = runs["real"], runs["same_parity"], runs["flipped"]
    assert real["retries"] != same["retries"]
    assert real["rewards"][0][1] == same["rewards"][0][1]
    assert real["grads"].keys() == same["grads"].keys() and real["grads"]
    for name in real["grads"]:
        assert torch.equal(real["grads"][name], same["grads"][name]), name
    # the control: other rewards, other gradients (so the comparison above can fail)
    assert real["rewards"][0][1] != flipped["rewards"][0][1]
    assert any(not torch.equal(real["grads"][n], flipped["grads"][n]) for n in real["grads"])
