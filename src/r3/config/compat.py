"""TRL's and open-r1's names for r3's settings: one table, read by every command's parser (`ConfigParser`).

    r3 train --config recipe.yaml         # a recipe written for `trl grpo` or open-r1's grpo.py

A researcher's recipe for `trl grpo` (TRL's `ScriptArguments` + `ModelConfig` + `GRPOConfig`) or for open-r1 keeps
its names: each name below either is another name of an r3 setting (`ALIASES`: `dataset_name` is `data`,
`torch_dtype` is `model_init_kwargs.dtype`), or asks for something reflection training does not do (`UNUSED`:
`reward_funcs`, `max_completion_length`, ...), refused with the reason and what to use instead. A value that asks
for nothing r3 would not do anyway (`load_in_4bit: false`, TRL's default) is accepted and has no effect.

r3's documentation and `--help` use r3's name; `--help` notes the aliases (`ConfigParser` adds them to the help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# foreign name -> r3's name: a field, or FIELD.KEY inside a mapping field (TRL's ModelConfig names end up as
# `from_pretrained` arguments, which r3 train passes through GRPOConfig.model_init_kwargs, as `trl grpo` does)
ALIASES: dict[str, str] = {
    "model_name_or_path": "model",  # TRL ModelConfig
    "model_revision": "model_init_kwargs.revision",
    "dtype": "model_init_kwargs.dtype",
    "torch_dtype": "model_init_kwargs.dtype",  # TRL < 0.20, transformers < 4.56: open-r1's recipes
    "attn_implementation": "model_init_kwargs.attn_implementation",
    "use_peft": "use_lora",
    "dataset_name": "data",  # TRL ScriptArguments
    "dataset_config": "data_config",
    "dataset_train_split": "split",
    "gradient_checkpointing": "activation_checkpointing",  # transformers < 5; so it wins over r3's CPU default
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
    "warmup_ratio": "warmup_steps",  # transformers < 5 (open-r1's recipes); 5 reads warmup_steps < 1 as a ratio
    "evaluation_strategy": "eval_strategy",  # transformers < 4.46
    "hub_model_revision": "hub_revision",  # open-r1's GRPOConfig
    "wandb_log_unique_prompts": "log_unique_prompts",
}

ANY = object()  # `harmless`: every value is accepted (the setting has no effect in r3)


@dataclass(frozen=True)
class Unused:
    """A TRL or open-r1 setting r3 has no use for: `reason` says why and what to use instead; a value in
    `harmless` (or any value, with `ANY`) asks for nothing r3 would not do anyway and is accepted."""

    reason: str
    harmless: tuple | object = ()

    def accepts(self, value: Any) -> bool:
        return self.harmless is ANY or any(value == ok and type(value) is type(ok) for ok in self.harmless)


_REWARD = ("r3's reward is the task's verifier applied to the retry after the reflection; choose the task with "
           "`task:` (r3 tasks lists them; a verifier of your own is a Task class: docs/tasks.md)")
_NO_QUANTIZATION = Unused("r3 trains full or LoRA weights, not quantized (QLoRA) ones; use use_lora: true", (False,))
_LORA_DEFAULT = Unused("r3's LoRA sets r, alpha, dropout and target modules only (lora_r, lora_alpha, lora_dropout, "
                       "lora_target_modules)", (False, None, []))
_WANDB = Unused("set WANDB_ENTITY / WANDB_PROJECT / WANDB_RUN_GROUP in the environment (wandb reads them) and "
                "run_name for the run", (None,))
_OPEN_R1_HUB = Unused("r3 pushes with TRL's hub settings: push_to_hub, hub_model_id, hub_revision, hub_strategy",
                      (False,))

UNUSED: dict[str, Unused] = {
    # TRL's GRPOScriptArguments and GRPOConfig
    "reward_funcs": Unused(_REWARD, (None, [])),
    "reward_model_name_or_path": Unused(_REWARD, (None,)),
    "reward_weights": Unused("r3 trains on one reward (the retry's verifier score), so there is nothing to weigh; "
                             "remove reward_weights", (None, [1.0], [1])),
    "max_completion_length": Unused("r3 sets it from reflection_max_new_tokens (the reflection's token budget, the "
                                    "same name in every r3 command); set that instead"),
    "dataset_test_split": Unused("r3 train evaluates nothing while it trains; evaluate with `r3 eval --split`",
                                 ANY),
    "dataset_streaming": Unused("r3 reads every row before training (to check them and their lengths)", (False,)),
    "ignore_bias_buffers": Unused("a DDP workaround r3 does not need", (False,)),
    # TRL's DatasetMixtureConfig
    "datasets": Unused("r3 train reads one data source: data (TRL's dataset_name) with data_config and split",
                       (None, [])),
    "streaming": Unused("r3 reads every row before training (to check them and their lengths)", (False,)),
    "test_split_size": Unused("r3 train evaluates nothing while it trains; hold out rows with split: "
                              "train[:90%] and evaluate train[90%:] with r3 eval", (None,)),
    # TRL's ModelConfig beyond LoRA's basics
    "load_in_4bit": _NO_QUANTIZATION, "load_in_8bit": _NO_QUANTIZATION,
    "bnb_4bit_quant_type": Unused(_NO_QUANTIZATION.reason, ("nf4",)),
    "use_bnb_nested_quant": _NO_QUANTIZATION,
    "bnb_4bit_quant_storage": Unused(_NO_QUANTIZATION.reason, (None,)),
    "use_dora": _LORA_DEFAULT, "use_rslora": _LORA_DEFAULT, "lora_target_parameters": _LORA_DEFAULT,
    "lora_modules_to_save": _LORA_DEFAULT,
    "lora_task_type": Unused("r3 trains causal language models", ("CAUSAL_LM",)),
    # open-r1's GRPOScriptArguments and GRPOConfig
    "dataset_prompt_column": Unused("r3 builds prompts from the task's fields; map dataset columns onto them with "
                                    "columns: {FIELD: COLUMN}"),
    "chat_template": Unused("r3 reads a chat template from a Jinja file: write the template to one and set "
                            "chat_template_path (options: chat_template_kwargs)", (None,)),
    "benchmarks": Unused("evaluate the trained model with `r3 eval` (and `r3 forgetting` for general benchmarks)",
                         (None, [])),
    "callbacks": Unused("r3 installs its own training callbacks (console, alarms, checkpoints, model card)",
                        (None, [])),
    "overwrite_output_dir": Unused("r3 train resumes from output_dir's newest checkpoint when the settings match "
                                   "and refuses to train over a finished run; to start again choose another "
                                   "output_dir or delete it", (False,)),
    "vllm_device": Unused("removed from TRL; vLLM runs in the training processes (vllm_mode: colocate) or as a "
                          "server (vllm_mode: server)", ("auto",)),
    "wandb_entity": _WANDB, "wandb_project": _WANDB, "wandb_run_group": _WANDB,
    "push_to_hub_revision": _OPEN_R1_HUB, "overwrite_hub_revision": _OPEN_R1_HUB,
    "system_prompt_column": Unused("r3 builds prompts from the task's fields (system_prompt sets the system turn)"),
}

def aliases_of(name: str) -> list[str]:
    """The foreign names of r3's setting `name` (a field, or FIELD.KEY): for `--help` and the docs."""
    return [alias for alias, target in ALIASES.items() if target == name or target.split(".", 1)[0] == name]


__all__ = ["ALIASES", "ANY", "UNUSED", "Unused", "aliases_of"]
