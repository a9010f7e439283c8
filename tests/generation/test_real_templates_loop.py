"""The whole loop on each of the four real chat templates (slow): eval, mine, train 2 steps offline and online, eval.

Tiny random models of the real architectures (tests/generation/real_models.py) run r3's public API end to end;
the offline training step is watched: the loss counts exactly the reflection ids, TRL's prompts are r3's ids, and
every retry prompt holds the trained reflection ids unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from real_models import MODELS, build_real_tiny

import r3
from r3.training.trainer import build_trainer

pytestmark = pytest.mark.slow

SMALL = {"attempt_max_new_tokens": 12, "progress": False}
TRAIN = {"num_generations": 2, "per_device_train_batch_size": 2, "max_steps": 2, "save_strategy": "no",
         "report_to": "none", "use_cpu": True, "logging_steps": 1, "learning_rate": 1e-3, "disable_tqdm": True,
         "attempt_max_new_tokens": 12, "reflection_max_new_tokens": 8, "beta": 0.0}


def watched_offline_training(config, training) -> tuple[dict, object]:
    """Train with spies on the loss inputs and the reward calls."""
    trainer = build_trainer(config, training)
    seen: dict = {"loss": [], "reward": []}
    real_loss, reward = trainer._compute_loss, trainer.reward_funcs[0]

    def compute_loss(model, inputs):
        seen["loss"].append(inputs)
        return real_loss(model, inputs)

    def call(**kwargs):
        seen["reward"].append(kwargs)
        return reward(**kwargs)

    call.__name__ = reward.__name__
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "_compute_loss", compute_loss)
        patch.setattr(trainer, "reward_funcs", [call])
        trainer.train()
    trainer.save_model(training.output_dir)
    trainer.processing_class.save_pretrained(training.output_dir)
    return seen, (trainer, reward)


@pytest.mark.parametrize("name", MODELS)
def test_whole_loop(name: str, tmp_path: Path) -> None:
    model = str(build_real_tiny(name, tmp_path / "model"))
    common = {"model": model, "task": "countdown", "data": "sample:countdown", "limit": 3, **SMALL}
    before = r3.evaluate(r3.load_config("eval", {**common, "out": str(tmp_path / "eval-before"),
                                                 "reflection_max_new_tokens": 8}))
    assert before.record["summary"]
    r3.mine(r3.load_config("mine", {**common, "out": str(tmp_path / "mine"), "max_samples": 2}))
    failures = [json.loads(line) for line in (tmp_path / "mine" / "failures.jsonl").read_text().splitlines()]
    assert failures and all(f["failed_attempts"][0]["token_ids"] for f in failures)

    config, training = r3.load_config("train", {"task": "countdown", "model": model, "data": str(tmp_path / "mine"),
                                                "output_dir": str(tmp_path / "offline"), **TRAIN})
    seen, (trainer, reward) = watched_offline_training(config, training)
    batch, kwargs = seen["loss"][0], seen["reward"][0]
    mask = batch["completion_mask"] * batch["tool_mask"] if "tool_mask" in batch else batch["completion_mask"]
    entered = sorted(ids[m.bool()].tolist() for ids, m in zip(batch["completion_ids"], mask))
    assert entered == sorted(list(ids) for ids in kwargs["completion_ids"])  # the loss counts the reflections only
    prompts = sorted(ids[m.bool()].tolist() for ids, m in zip(batch["prompt_ids"], batch["prompt_mask"]))
    assert prompts == sorted(list(ids) for ids in kwargs["r3_prompt_ids"])
    mismatches = 0
    for i, reflection in enumerate(kwargs["completion_ids"]):
        prompt, reflection = list(kwargs["r3_prompt_ids"][i]), list(reflection)
        body = reflection[:-1] if reflection and reflection[-1] in trainer.eos_token_ids else reflection
        retry = reward.retry_prompt(kwargs["r3_task_prompt"][i], prompt, kwargs["r3_attempt"][i], reflection,
                                    kwargs["r3_reason"][i])
        mismatches += retry[len(prompt): len(prompt) + len(body)] != body
    assert mismatches == 0

    config, training = r3.load_config("train", {"task": "countdown", "model": model, "mode": "online",
                                                "data": "sample:countdown", "limit": 4,
                                                "output_dir": str(tmp_path / "online"), **TRAIN})
    assert (r3.train(config, training) / "config.json").is_file()
    after = r3.evaluate(r3.load_config("eval", {**common, "model": str(tmp_path / "offline"),
                                                "out": str(tmp_path / "eval-after"), "reflection_max_new_tokens": 8}))
    assert after.record["summary"]
