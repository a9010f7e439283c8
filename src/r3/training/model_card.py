"""The model card (OUTPUT_DIR/README.md) of a model trained by r3, built with huggingface_hub's `ModelCard`.

TRL writes its card at every checkpoint and on `push_to_hub` through `trainer.create_model_card`; `install` binds
r3's writer there. The card has TRL's sections (quick start, training procedure with the tracker link, framework
versions, citations) and r3's: base model, task, data, recipe, the training summary, the before/after evaluation
table when evaluations of the model are found, and the paper. The text is `model_card.md` beside this module (a Jinja
template, as TRL's `lm_model_card.md`); the front matter is a `ModelCardData`.

    install(trainer, r3_config_as_dict)        # every card TRL writes is r3's
    write_model_card(output_dir, config)       # or write one by hand; `r3 report OUTPUT_DIR` rewrites it too
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from r3.provenance import provenance
from r3.training.callbacks import METRICS_FILE, read_jsonl
from r3.training.summary import read_summary

logger = logging.getLogger(__name__)

CARD_FILE = "README.md"
TEMPLATE = Path(__file__).with_name("model_card.md")
PAPER_ID = "2505.24726"
PAPER = f"https://arxiv.org/abs/{PAPER_ID}"
RECIPE_KEYS = ("mode", "max_steps", "learning_rate", "lr_scheduler_type", "num_generations",
               "per_device_train_batch_size", "gradient_accumulation_steps", "beta", "loss_type",
               "reflection_max_new_tokens", "attempt_max_new_tokens", "temperature", "use_lora", "seed")
CITATION = """@article{bensal2025reflect,
  title   = {Reflect, Retry, Reward: Self-Improving LLMs via Reinforcement Learning},
  author  = {Bensal, Shelly and others},
  journal = {arXiv preprint arXiv:2505.24726},
  year    = {2025}
}"""
QUESTION = ("If you had a time machine, but could only go to the past or the future once and never return, which "
            "would you choose and why?")  # TRL's quick-start question
EVAL_METRICS = ("first_attempt", "within_two", "reflection_success_rate")
VERSION_NAMES = {"trl": "TRL", "transformers": "Transformers", "torch": "Pytorch", "datasets": "Datasets",
                 "tokenizers": "Tokenizers"}  # TRL's card names these first, in this order
MAX_EVAL_DIRS = 200  # folders looked at for evaluations: the run's own and its siblings


def _hub_id(value: Any) -> str | None:
    """A hub id ("org/name") that is not a local path, else None."""
    text = str(value or "")
    return text if text.count("/") == 1 and not Path(text).exists() and not text.startswith((".", "/")) else None


def _pct(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}] ({p['correct']}/{p['n']})"


def _same_path(a: Any, b: Any) -> bool:
    try:
        return a is not None and b is not None and (str(a) == str(b) or Path(a).resolve() == Path(b).resolve())
    except OSError:
        return False


def find_evaluations(output_dir: Path, config: dict[str, Any]) -> list[tuple[str, Path, dict[str, Any]]]:
    """[("trained model", dir, summary), ("base model", dir, summary)]: the newest finished `r3 eval` of the trained
    model (in OUTPUT_DIR or beside it) and an evaluation of the base model on the same task, data and split."""
    folders = [p.parent for p in output_dir.glob("*/summary.json")]
    folders += [p.parent for p in output_dir.parent.glob("*/summary.json") if p.parent != output_dir]
    records = []
    for folder in folders[:MAX_EVAL_DIRS]:
        try:
            record = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            if isinstance(record, dict) and isinstance(record.get("summary"), dict):
                records.append((folder.stat().st_mtime, folder, record))
        except (OSError, ValueError):
            continue
    records.sort(key=lambda item: item[0], reverse=True)
    task = config.get("task")  # as given (a name or package.module:Class), which the eval's settings also hold
    after = next(((f, r) for _, f, r in records
                  if task in (r.get("task"), (r.get("settings") or {}).get("task"))
                  and _same_path(r.get("model"), output_dir)), None)
    if after is None:
        return []
    found = [("trained model", *after)]

    def problems(record: dict[str, Any]) -> tuple[Any, ...]:
        settings = record.get("settings") or {}
        return record.get("task"), settings.get("data"), settings.get("split"), settings.get("limit"), settings.get(
            "task_options"), settings.get("columns")

    before = next(((f, r) for _, f, r in records
                   if problems(r) == problems(after[1]) and _same_path(r.get("model"), config.get("model"))), None)
    return [("base model", *before), *found] if before else found


def tracker_lines(config: dict[str, Any]) -> list[str]:
    """TRL's tracker badges for the backends `report_to` names, when their run is live in this process (never
    imports a tracker), and where TensorBoard's logs are."""
    report_to = config.get("report_to") or []
    names = {report_to} if isinstance(report_to, str) else set(report_to)
    lines = []
    wandb = sys.modules.get("wandb")
    if names & {"wandb", "all"} and getattr(wandb, "run", None) is not None:
        lines.append("[<img src=\"https://raw.githubusercontent.com/wandb/assets/main/wandb-github-badge-28.svg\" "
                     f"alt=\"Visualize in Weights & Biases\" width=\"150\" height=\"24\"/>]({wandb.run.url})")
    if names & {"trackio", "all"} and "trackio" in sys.modules:
        try:
            from trl.trainer.utils import get_trackio_space_url

            url = get_trackio_space_url()
        except Exception:  # noqa: BLE001 - a tracker's state never stops a card
            url = None
        if url:
            lines.append("[<img src=\"https://raw.githubusercontent.com/gradio-app/trackio/refs/heads/main/trackio/"
                         f"assets/badge.png\" alt=\"Visualize in Trackio\" width=\"150\" height=\"24\"/>]({url})")
    if names & {"tensorboard", "all"}:
        lines.append(f"TensorBoard logs: `tensorboard --logdir {config.get('logging_dir') or 'OUTPUT_DIR/runs'}`")
    return lines


def _training_lines(summary: dict[str, Any] | None, last: dict[str, Any] | None) -> list[str]:
    lines = []
    if summary:
        lines.append(f"retry success: {_pct(summary.get('retry_success_start'))} at the start -> "
                     f"{_pct(summary.get('retry_success_end'))} at the end (95% Wilson intervals)")
        a, b = summary.get("reflection_tokens_start"), summary.get("reflection_tokens_end")
        if a is not None and b is not None:
            lines.append(f"reflection length: {a:.1f} -> {b:.1f} tokens")
        if summary.get("model_changed") is False:
            lines.append("WARNING: the weights did not change during training (no learning signal)")
    shown = {k: v for k, v in (last or {}).items() if k in ("r3/retry_success", "kl", "frac_reward_zero_std", "loss")}
    if shown:
        lines.append("last logged step: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    return lines


def _versions(summary: dict[str, Any] | None) -> list[tuple[str, str]]:
    """TRL's framework versions first, then r3 (with its commit), Python and the other libraries: those the run
    recorded (train_summary.json) when it has, else this process's."""
    record = (summary or {}).get("provenance") or provenance()
    packages = dict(record.get("packages") or {})
    versions = [(label, packages.pop(name)) for name, label in VERSION_NAMES.items() if name in packages]
    git = record.get("git") or {}
    r3 = str(record.get("r3", "?")) + (f" (git {git['commit'][:12]})" if git.get("commit") else "")
    return [*versions, ("r3", r3), ("Python", str(record.get("python", "?"))), *packages.items()]


def _card_data(config: dict[str, Any], name: str, evals: list[tuple[str, Path, dict[str, Any]]]) -> ModelCardData:
    base, data = _hub_id(config.get("model")), _hub_id(config.get("data"))
    results = []
    for label, _, record in evals:
        if label != "trained model":
            continue
        settings = record.get("settings") or {}
        source = str(settings.get("data") or "task default")
        for metric in EVAL_METRICS:
            value = (record["summary"].get(metric) or {}).get("accuracy")
            if value is not None:
                results.append(EvalResult(task_type="text-generation", task_name=str(record.get("task")),
                                          dataset_type=source, dataset_name=source,
                                          dataset_split=settings.get("split"), metric_type="accuracy",
                                          metric_name=metric.replace("_", " "), metric_value=round(value, 4)))
    return ModelCardData(base_model=base, datasets=[data] if data else None, library_name="transformers",
                         model_name=name, eval_results=results or None,
                         tags=["r3", "reflect-retry-reward", "self-reflection", "grpo", "trl", "generated_from_trainer"])


def build_card(output_dir: str | Path, config: dict[str, Any], name: str | None = None,
               hub_model_id: str | None = None) -> ModelCard:
    """The card of the run in OUTPUT_DIR from its config and what it recorded there so far."""
    output_dir = Path(output_dir)
    name = name or output_dir.name
    summary = read_summary(output_dir)
    steps = [r for r in read_jsonl(output_dir / METRICS_FILE) if "loss" in r]
    evals = find_evaluations(output_dir, config)
    rows = [{"label": f"{label} `{record.get('model')}`", "path": str(folder),
             **{metric: _pct(record["summary"].get(metric)) for metric in EVAL_METRICS}}
            for label, folder, record in evals]
    steps_line = None
    if summary:
        steps_line = f"steps: {summary.get('steps')} ({summary.get('seconds', 0) / 60:.1f} minutes)"
    command = (summary or {}).get("eval_command") or (
        f"r3 eval --model {output_dir} --task {config.get('task')} --data TASK_DATA --split HELD_OUT_SPLIT "
        f"--out {output_dir}/eval")
    return ModelCard.from_template(
        _card_data(config, name, evals), template_path=str(TEMPLATE),
        model_name=name, base_model_shown=config.get("model"), paper_url=PAPER, paper_id=PAPER_ID,
        question=QUESTION, model_id=hub_model_id or config.get("hub_model_id") or str(output_dir),
        max_new_tokens=config.get("attempt_max_new_tokens") or 512, eval_command=command,
        trackers=tracker_lines(config), task=config.get("task"), data=config.get("data"), split=config.get("split"),
        recipe=", ".join(f"{k} {config[k]}" for k in RECIPE_KEYS if config.get(k) is not None),
        steps_line=steps_line, training_lines=_training_lines(summary, steps[-1] if steps else None),
        eval_rows=rows, output_dir=str(output_dir), versions=_versions(summary), paper_citation=CITATION)


def write_model_card(output_dir: str | Path, config: dict[str, Any], name: str | None = None,
                     hub_model_id: str | None = None) -> Path:
    """Write OUTPUT_DIR/README.md (see `build_card`)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / CARD_FILE
    build_card(output_dir, config, name, hub_model_id).save(path)
    return path


def install(trainer: Any, config: dict[str, Any]) -> None:
    """Make TRL's `create_model_card` (checkpoints, push_to_hub) write r3's card instead."""

    def create_model_card(model_name: str | None = None, dataset_name: str | None = None, tags: Any = None,
                          **_: Any) -> None:
        if trainer.is_world_process_zero():
            write_model_card(trainer.args.output_dir, config, model_name,
                             getattr(trainer, "hub_model_id", None))

    trainer.create_model_card = create_model_card


__all__ = ["CARD_FILE", "build_card", "find_evaluations", "install", "tracker_lines", "write_model_card"]
