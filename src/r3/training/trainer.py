"""Reflection-only GRPO on TRL's GRPOTrainer, without forking it.

    trainer = build_trainer(r3_config, grpo_config)   # validates data and lengths before loading the model
    run_training(r3_config, grpo_config)              # build, train (or resume), save model + tokenizer

The GRPO prompt holds the task, the failed attempt and the reflection instruction (`r3.training.data`), so TRL's
completions are reflections and its completion mask gives gradient to reflection tokens only. The retry happens
inside the reward (`r3.training.reward`), which never adds tokens to the batch. Online mode adds a rollout function
(`r3.training.online`). The final model and tokenizer go to `output_dir`, where `r3 eval --model` loads them; with
LoRA the adapter is merged into a full model there and also kept alone in `output_dir/adapter`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from r3.errors import R3Error, shorten
from r3.models import resolve_model
from r3.training import model_card, resume, trl_adapter, watch
from r3.training.callbacks import METRICS_FILE, SAMPLES_FILE
from r3.training.config import TrainConfig, config_to_dict
from r3.training.data import build_rows, check_lengths, instructions, to_dataset
from r3.training.online import OfflineRollout, OnlineRollout
from r3.training.resume import RUN_CONFIG_FILE
from r3.training.reward import RetryReward
from r3.training.summary import SUMMARY_FILE

if TYPE_CHECKING:
    from r3.tasks.base import Task

logger = logging.getLogger(__name__)

__all__ = ["RUN_CONFIG_FILE", "build_trainer", "run_training", "save_final"]


def load_tokenizer(config: TrainConfig, training: Any):
    """The policy's tokenizer, left-padded (TRL requires it), with a pad token and a chat template."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model), padding_side="left",
                                                  trust_remote_code=training.trust_remote_code)
    except (OSError, ValueError) as error:
        raise R3Error(f"cannot load the tokenizer of model '{config.model}' (a hub id or a local model directory): "
                      f"{shorten(str(error), 200)}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise R3Error(f"model '{config.model}' has no chat template; r3 trains chat (instruct) models")
    return tokenizer


def context_limit(config: TrainConfig, training: Any) -> tuple[int | None, str]:
    """The longest sequence generation may reach, and the setting that sets it."""
    if training.use_vllm and training.vllm_max_model_length is not None:
        return training.vllm_max_model_length, "vllm_max_model_length"
    from transformers import AutoConfig

    try:
        model_config = AutoConfig.from_pretrained(resolve_model(config.model),
                                                  trust_remote_code=training.trust_remote_code)
    except (OSError, ValueError) as error:
        raise R3Error(f"cannot load the config of model '{config.model}': {shorten(str(error), 200)}") from None
    limit = getattr(model_config.get_text_config(), "max_position_embeddings", None)
    return limit, "the model's max_position_embeddings"


def lora_config(config: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=lora_targets(config.lora_target_modules), task_type="CAUSAL_LM")


def lora_targets(modules: list[str]) -> list[str] | str:
    """peft's `target_modules`: its keyword "all-linear" must be a string, not a one-element list."""
    return modules[0] if modules == ["all-linear"] else modules


def build_trainer(config: TrainConfig, training: Any, callbacks: list | None = None, *,
                  control_reward: Callable[[Task], Any] | None = None, tokenizer: Any = None,
                  rows: list[dict[str, Any]] | None = None):
    """A GRPOTrainer for reflection-only training, its reward bound. Data errors come before the model loads.
    `tokenizer` and `rows` (`build_rows`): already loaded ones, else they are loaded here.

    `control_reward` builds a control arm with everything else the same (data, checks, console, alarms, saving):
    each completion is then a retry after an empty reflection, rewarded by `control_reward(task)` (the demo's
    control, `r3.demo.control`), instead of a reflection rewarded by the retry it leads to.
    """
    from trl import GRPOTrainer

    trl_adapter.check_trl()
    if control_reward is not None and config.mode != "offline":
        raise R3Error("a control arm trains on mined failures: set mode: offline")
    task = config.build_task()
    rows = build_rows(task, config) if rows is None else rows
    tokenizer = tokenizer or load_tokenizer(config, training)
    limit, limit_name = context_limit(config, training)
    rows = check_lengths(rows, tokenizer, task, config, training, limit, limit_name)
    reflect, retry = instructions(task, config)
    reward = RetryReward(task, reflect, retry, max_new_tokens=config.attempt_max_new_tokens,
                         temperature=config.retry_temperature, log_samples=0,  # r3.training.watch shows them
                         strip_reasoning=config.strip_reasoning)
    if control_reward is not None:
        reward = control_reward(task)
    # r3 builds the prompt ids TRL trains on (r3.conversation), in both modes
    rollout = OfflineRollout(reflect, retry, rows, strip_reasoning=config.strip_reasoning,
                             empty_reflection=control_reward is not None)
    if config.mode == "online":
        rollout = OnlineRollout(task, reflect, retry, rows, max_new_tokens=config.attempt_max_new_tokens,
                                temperature=config.attempt_temperature, strip_reasoning=config.strip_reasoning)
    try:
        trainer = GRPOTrainer(
            model=resolve_model(config.model), reward_funcs=[reward], args=training, train_dataset=to_dataset(rows),
            processing_class=tokenizer, callbacks=callbacks, rollout_func=rollout,
            peft_config=lora_config(config) if config.use_lora else None,
        )
    except OSError as error:
        raise R3Error(f"cannot load model '{config.model}': {shorten(str(error), 200)}") from None
    trl_adapter.check_trainer(trainer)
    trl_adapter.resumable_shuffle(trainer)
    if hasattr(reward, "bind"):
        reward.bind(trainer)
    watch.attach(trainer, reward, output_dir=training.output_dir, task=config.task, data=config.data,
                 split=config.split, limit=config.limit, mode=config.mode, log_samples=config.log_samples,
                 alarm_steps=config.alarm_steps, attempt_max_new_tokens=config.attempt_max_new_tokens,
                 settings=config_to_dict(config, training))
    model_card.install(trainer, config_to_dict(config, training))
    return trainer


def save_final(trainer: Any, config: TrainConfig, output_dir: Path) -> None:
    """Model and tokenizer where `AutoModelForCausalLM.from_pretrained(output_dir)` (and `r3 eval`) load them."""
    if not config.use_lora:
        trainer.save_model(str(output_dir))
    else:
        trainer.save_model(str(output_dir / "adapter"))
        plugin = trainer.accelerator.state.deepspeed_plugin
        if plugin is not None and plugin.zero_stage == 3:  # the weights are sharded: no process can merge them alone
            logger.warning("LoRA under ZeRO-3: only the adapter was saved, in %s/adapter; merge it into the base "
                           "model with peft (PeftModel.from_pretrained(...).merge_and_unload()) before r3 eval",
                           output_dir)
        elif trainer.accelerator.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(output_dir))
    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(str(output_dir))
    trainer.accelerator.wait_for_everyone()


def run_training(config: TrainConfig, training: Any, *,
                 control_reward: Callable[[Task], Any] | None = None) -> Path:
    """Build, train (resuming if asked), save. Returns the directory holding the final model.

    A rerun follows `r3.training.resume`: other inputs or settings are refused, a finished run is left untouched,
    a run killed after its last checkpoint is finished from it without a step. `control_reward`: see
    `build_trainer`."""
    from r3.rundir import RunDir

    output_dir = Path(training.output_dir)
    resume.check_output_dir(config.model, output_dir)
    task = config.build_task()
    rows = build_rows(task, config)
    tokenizer = load_tokenizer(config, training)
    identity = resume.train_identity(config.model, rows, template_identity(tokenizer, training))
    settings = config_to_dict(config, training)
    allow_missing = config.allow_missing_optimizer_state
    step = resume.finished_run(output_dir, identity, training, settings, allow_missing_state=allow_missing)
    if step is not None:
        logger.info("%s holds this training run, finished at step %d: nothing to do (the model is there)",
                    output_dir, step)
        return output_dir
    # one training process group per output_dir: the main process locks it for the whole run (r3.rundir)
    run = None
    if training.process_index == 0:
        run = RunDir.open(output_dir, "train", identity, work_files=resume.work_files(output_dir))
    try:
        checkpoint = resume.resume_path(training, settings, allow_missing_state=allow_missing)
        trainer = build_trainer(config, training, control_reward=control_reward, tokenizer=tokenizer, rows=rows,
                                callbacks=[resume.StopAtMaxSteps()])
        if run is not None:
            run.claim(METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE)  # a foreign file of that name is refused
            run.write_atomic(resume.RUN_CONFIG_FILE, yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
            (run.claim(resume.DONE_FILE)[0]).unlink(missing_ok=True)  # the final model is about to change
        train(trainer, checkpoint)
        save_final(trainer, config, output_dir)
        if trainer.accelerator.is_main_process:
            write_record(output_dir, settings)
        if run is not None:  # written last: the final model is complete
            run.write_atomic(resume.DONE_FILE, resume.done_record(trainer.state.global_step, trainer.state.max_steps))
    finally:
        if run is not None:
            run.close()
    return output_dir


def train(trainer: Any, checkpoint: str | None) -> None:
    """`trainer.train`, except from a checkpoint already at max_steps (a kill after the last checkpoint): its weights
    are loaded and nothing is trained, so the final model saved next is that checkpoint's, bit for bit."""
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except resume.ReachedMaxSteps as reached:
        logger.info("%s is at max_steps (%d): training is done; saving the final model from it", checkpoint,
                    reached.step)


def template_identity(tokenizer: Any, training: Any) -> dict[str, Any]:
    """The chat template's fingerprint (template hash, resolved options, a rendered probe prompt's hash), part of
    the run's identity: checkpoints were trained on prompts rendered by it."""
    from r3.generation.templates import template_fingerprint

    probe = [{"role": "user", "content": "r3 chat template probe"}]
    return json.loads(json.dumps(template_fingerprint(tokenizer, training.chat_template_kwargs, probe), default=str))


def write_record(output_dir: Path, settings: dict) -> None:
    """r3's model card beside the model (report.md and the curves come from `r3.report`, a layer above: `r3.train`
    writes them once this returns)."""
    model_card.write_model_card(output_dir, settings)
