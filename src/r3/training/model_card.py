"""The model card (OUTPUT_DIR/README.md) of a model trained by r3, in place of TRL's generic one.

TRL writes its card at every checkpoint and on `push_to_hub` through `trainer.create_model_card`; `install` binds
r3's writer there, so the card that reaches the hub names the base model, r3 and the paper, the task, the data,
the recipe, the steps and the final training metrics (not "fine-tuned version of [None]").

    install(trainer, r3_config_as_dict)        # every card TRL writes is r3's
    write_model_card(output_dir, config)       # or write one by hand
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from r3.training.callbacks import METRICS_FILE, read_jsonl
from r3.training.summary import read_summary

logger = logging.getLogger(__name__)

CARD_FILE = "README.md"
PAPER = "https://arxiv.org/abs/2505.24726"
RECIPE_KEYS = ("mode", "max_steps", "learning_rate", "lr_scheduler_type", "num_generations",
               "per_device_train_batch_size", "gradient_accumulation_steps", "beta", "loss_type",
               "reflection_max_new_tokens", "attempt_max_new_tokens", "temperature", "use_lora", "seed")
CITATION = """@article{bensal2025reflect,
  title   = {Reflect, Retry, Reward: Self-Improving LLMs via Reinforcement Learning},
  author  = {Bensal, Shelly and others},
  journal = {arXiv preprint arXiv:2505.24726},
  year    = {2025}
}"""


def _hub_id(value: Any) -> str | None:
    """A hub id ("org/name") that is not a local path, else None."""
    text = str(value or "")
    return text if text.count("/") == 1 and not Path(text).exists() and not text.startswith((".", "/")) else None


def _pct(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}] ({p['correct']}/{p['n']})"


def card_text(config: dict[str, Any], summary: dict[str, Any] | None, last: dict[str, Any] | None,
              name: str) -> str:
    """The card's markdown: front matter for the hub, then what the model is and how it was made."""
    base, data = config.get("model"), config.get("data")
    meta: dict[str, Any] = {"library_name": "transformers",
                            "tags": ["r3", "reflect-retry-reward", "self-reflection", "grpo", "trl"]}
    if _hub_id(base):
        meta["base_model"] = _hub_id(base)
    if _hub_id(data):
        meta["datasets"] = [_hub_id(data)]
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", "", f"# {name}", "",
             (f"`{base}` trained to reflect on its failed attempts with **r3**, an implementation of Reflect, Retry, "
              f"Reward ([Bensal et al., arXiv 2505.24726]({PAPER})): when an attempt at the task fails, the model "
              "writes a short self-reflection and retries; GRPO rewards only the reflection tokens when the retry "
              "succeeds, so the model learns to reflect better rather than to memorise answers."), "",
             "## Training", "",
             f"- base model: `{base}`",
             f"- task: `{config.get('task')}` (binary verifier)",
             f"- data: `{data}`" + (f" (split {config['split']})" if config.get("split") else ""),
             "- recipe: " + ", ".join(f"{k} {config[k]}" for k in RECIPE_KEYS if config.get(k) is not None)]
    if summary:
        lines.append(f"- steps: {summary.get('steps')} ({summary.get('seconds', 0) / 60:.1f} minutes)")
        lines += ["", "## Metrics during training", "",
                  "Measured on the training prompts while training ran: a sign of learning, not an evaluation.", "",
                  (f"- retry success: {_pct(summary.get('retry_success_start'))} at the start -> "
                   f"{_pct(summary.get('retry_success_end'))} at the end (95% Wilson intervals)")]
        a, b = summary.get("reflection_tokens_start"), summary.get("reflection_tokens_end")
        if a is not None and b is not None:
            lines.append(f"- reflection length: {a:.1f} -> {b:.1f} tokens")
        if summary.get("model_changed") is False:
            lines.append("- WARNING: the weights did not change during training (no learning signal)")
    if last:
        shown = {k: v for k, v in last.items() if k in ("r3/retry_success", "kl", "frac_reward_zero_std", "loss")}
        if shown:
            lines.append("- last logged step: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    lines += ["", "## Evaluate", "", "```bash",
              (summary or {}).get("eval_command") or f"r3 eval --model {name} --task {config.get('task')} "
              "--data TASK_DATA --split HELD_OUT_SPLIT --out eval", "```", "",
              "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def write_model_card(output_dir: str | Path, config: dict[str, Any], name: str | None = None) -> Path:
    """Write OUTPUT_DIR/README.md from the config and what the run recorded there so far."""
    output_dir = Path(output_dir)
    summary = read_summary(output_dir)
    steps = [r for r in read_jsonl(output_dir / METRICS_FILE) if "loss" in r]
    path = output_dir / CARD_FILE
    output_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(card_text(config, summary, steps[-1] if steps else None, name or output_dir.name),
                    encoding="utf-8")
    return path


def install(trainer: Any, config: dict[str, Any]) -> None:
    """Make TRL's `create_model_card` (checkpoints, push_to_hub) write r3's card instead."""

    def create_model_card(model_name: str | None = None, dataset_name: str | None = None, tags: Any = None,
                          **_: Any) -> None:
        if trainer.is_world_process_zero():
            write_model_card(trainer.args.output_dir, config, model_name)

    trainer.create_model_card = create_model_card


__all__ = ["CARD_FILE", "card_text", "install", "write_model_card"]
