"""The GRPO training set: one row per reflection prompt (offline) or per task prompt (online).

Offline (the paper's setup) reads `r3 mine` output. Each kept failed attempt becomes a row whose `prompt` is

    [*task prompt, assistant: failed attempt, user: reflection instruction]

so TRL's completions *are* the reflections, and TRL's completion mask already means "only reflection tokens get
gradient". Online rows hold the plain task prompt; the first attempt is made during training (`r3.training.online`).

Columns besides `prompt` travel to the reward function as keyword arguments (TRL keeps unused columns):
    problem_id      the task's id of the problem
    r3_example      the normalized task example as JSON; JSON because Arrow would unify the struct types of
                    differing rows (adding null keys to nested arguments, say) and change what the verifier sees
    r3_task_prompt  the first-attempt messages (what the retry conversation starts from)
    r3_attempt      the failed attempt (offline; online: filled in by the rollout)
    r3_reason       the verifier's reason for that failure

What the model is given is token ids, not this text: a rollout function (`r3.training.online`) builds each
reflection prompt with `r3.conversation.reflection_prompt_ids` from the attempt's generated ids (`r3 mine` keeps
them; `r3_attempt_ids`, kept out of the dataset) and hands TRL those ids, so a template that drops reasoning from
earlier turns cannot hide it, and eval, mining and training give the model the same ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r3.conversation import (
    reflection_messages,
    reflection_prompt_ids,
    retry_after_reflection_ids,
    retry_prompt_ids,
)
from r3.data import load_rows
from r3.errors import DataError, R3Error, shorten
from r3.generation.templates import ChatTemplate, end_of_turn_ids
from r3.tasks.base import Task
from r3.training.config import TrainConfig
from r3.types import Message

logger = logging.getLogger(__name__)

MINING_FIELDS = ("task", "problem_id", "prompt_messages", "failed_attempts", "mining")
FAILURES_FILE = "failures.jsonl"


def instructions(task: Task, config: TrainConfig) -> tuple[str, str]:
    """The reflection and retry instructions: the config's overrides, else the task's own."""
    return (config.reflection_instruction or task.reflection_instruction,
            config.retry_instruction or task.retry_instruction)


def prompt_key(prompt: Sequence[Message]) -> str:
    """A canonical string of chat messages, to find a row's example from its prompt (online rollout)."""
    return json.dumps([{"role": m["role"], "content": m["content"]} for m in prompt], ensure_ascii=False)


def build_rows(task: Task, config: TrainConfig) -> list[dict[str, Any]]:
    """Training rows for `config.mode`, validated; every problem is a DataError naming source, row and field."""
    return offline_rows(task, config) if config.mode == "offline" else online_rows(task, config)


def online_rows(task: Task, config: TrainConfig) -> list[dict[str, Any]]:
    examples = task.load(config.data, config.split, config.limit, skip_bad=config.skip_bad_lines,
                         config=config.data_config)
    if not examples:
        raise R3Error(f"no examples in {config.data or task.default_source}")
    rows = []
    for index, example in enumerate(examples):
        prompt = task.prompt(example)
        own = example_instructions(task, example, *instructions(task, config))
        rows.append(_row(prompt, task.problem_id(example, index), example, prompt, "", "", own))
    return rows


def check_mining_finished(directory: Path, allow_incomplete: bool) -> None:
    """An `r3 mine` run directory (it has run.json) that stopped part-way (stats.json says complete: false, or it has
    none) would train on a biased subset of the problems: refused unless `allow_incomplete_data`, then logged."""
    import json

    stats_path = directory / "stats.json"
    try:
        complete = json.loads(stats_path.read_text(encoding="utf-8")).get("complete") is True
    except (OSError, ValueError, AttributeError):
        complete = False
    if complete:
        return
    message = (f"{directory} holds an r3 mine run that has not finished ({stats_path.name} "
               f"{'says complete: false' if stats_path.exists() else 'is missing'})")
    if not allow_incomplete:
        raise R3Error(f"{message}: rerun the same r3 mine command to finish it, or set allow_incomplete_data: true "
                      "to train on what is there")
    logger.warning("%s: training on what is there (allow_incomplete_data)", message)


def offline_rows(task: Task, config: TrainConfig) -> list[dict[str, Any]]:
    if config.data is None:
        raise R3Error("offline mode needs 'data': the output directory of `r3 mine` (or its failures.jsonl)")
    source = config.data
    if Path(source).expanduser().is_dir() and (Path(source).expanduser() / FAILURES_FILE).is_file():
        source = str(Path(source).expanduser() / FAILURES_FILE)
    if Path(source).name == FAILURES_FILE and (Path(source).expanduser().parent / "run.json").is_file():
        check_mining_finished(Path(source).expanduser().parent, config.allow_incomplete_data)
    loaded = load_rows(source, config.split, config.limit, skip_bad=config.skip_bad_lines, config=config.data_config)
    if not loaded.rows:
        raise R3Error(f"{loaded.source}: no failures to train on")
    reflect, retry = instructions(task, config)
    rows = []
    for row, label in zip(loaded.rows, loaded.labels):
        try:
            rows.extend(_offline_row(task, row, config, reflect, retry))
        except DataError as error:
            raise error.at(source=loaded.source, row=label) from None
    logger.info("%d reflection prompts from %d mined problems in %s", len(rows), len(loaded.rows), loaded.source)
    return rows


def _offline_row(task: Task, row: dict[str, Any], config: TrainConfig, reflect: str, retry: str) -> list[dict]:
    mined_for = row.get("task")
    if mined_for is None:
        raise DataError("missing (is this the failures.jsonl written by `r3 mine`?)", field="task")
    if mined_for != task.name:
        raise DataError(f"these failures were mined for task '{mined_for}', but training is for '{task.name}'",
                        field="task")
    prompt = _messages(row.get("prompt_messages"))
    attempts = row.get("failed_attempts")
    if not isinstance(attempts, list) or not attempts:
        raise DataError(f"expected a non-empty list of failed attempts, got {shorten(attempts)}",
                        field="failed_attempts")
    example = task.normalize({k: v for k, v in row.items() if k not in MINING_FIELDS})
    problem_id = str(row.get("problem_id") or task.problem_id(example, 0))
    own = example_instructions(task, example, reflect, retry)
    out = []
    for number, attempt in enumerate(attempts[: config.failures_per_problem]):
        if not (isinstance(attempt, dict) and isinstance(attempt.get("text"), str)
                and isinstance(attempt.get("reason"), str)):
            raise DataError(f"attempt {number} needs 'text' and 'reason' strings, got {shorten(attempt)}",
                            field="failed_attempts")
        messages = reflection_messages(prompt, [attempt["text"]], [], [attempt["reason"]], *own,
                                       strip_reasoning=config.strip_reasoning)
        out.append(_row(messages, problem_id, example, prompt, attempt["text"], attempt["reason"], own))
        out[-1]["r3_attempt_ids"] = _token_ids(attempt.get("token_ids"), number)
    return out


def _token_ids(value: Any, number: int) -> list[int] | None:
    """The mined attempt's generated ids (absent in data not written by `r3 mine`: the text is encoded then)."""
    if value is None:
        return None
    if not (isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                            for i in value)):
        raise DataError(f"attempt {number}: 'token_ids' must be a list of token ids, got {shorten(value)}",
                        field="failed_attempts")
    return value


def _messages(value: Any) -> list[Message]:
    ok = isinstance(value, list) and value and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value)
    if not ok:
        raise DataError(f"expected a list of {{role, content}} chat messages, got {shorten(value)}",
                        field="prompt_messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def example_instructions(task: Task, example: dict[str, Any], reflect: str, retry: str) -> tuple[str, str]:
    """One example's reflection and retry instructions: the task's templates with its fields filled in (as the
    episode engine does in eval and mining), else the run's."""
    return task.instructions(example) if hasattr(task, "instructions") else (reflect, retry)


def _row(prompt, problem_id, example, task_prompt, attempt, reason, instructions: tuple[str, str]) -> dict[str, Any]:
    try:
        example_json = json.dumps(example, ensure_ascii=False)
    except TypeError as error:
        raise DataError(f"the normalized example is not JSON-serializable: {error}") from None
    return {"prompt": prompt, "problem_id": str(problem_id), "r3_example": example_json,
            "r3_task_prompt": task_prompt, "r3_attempt": attempt, "r3_reason": reason,
            "r3_reflection_instruction": instructions[0], "r3_retry_instruction": instructions[1]}


def to_dataset(rows: list[dict[str, Any]]):
    """The rows as a `datasets.Dataset` (what GRPOTrainer takes); token ids stay with the rollout (`rows`)."""
    import datasets

    return datasets.Dataset.from_list([{k: v for k, v in row.items() if k != "r3_attempt_ids"} for row in rows])


def training_template(trainer: Any) -> ChatTemplate:
    """The policy's chat template with GRPOConfig's `chat_template_kwargs`, ending turns at TRL's eos ids.

    TRL stops generating only at the model's generation-config eos ids and the tokenizer's eos; an end-of-turn token
    missing there (Phi-3.5's `<|end|>` in a checkpoint without its generation_config.json) is said in the log."""
    tokenizer = trainer.processing_class
    stop_ids = end_of_turn_ids(tokenizer, trainer.eos_token_ids)
    missing = [tokenizer.convert_ids_to_tokens(i) for i in stop_ids if i not in trainer.eos_token_ids]
    if missing:
        logger.warning("TRL will not stop generating at %s: the model's generation_config.json does not list it as "
                       "an eos token id; add it there so reflections and retries end with their turn",
                       ", ".join(missing))
    return ChatTemplate(tokenizer, trainer.chat_template_kwargs, stop_ids=stop_ids)


def attempt_ids(template: ChatTemplate, row: dict[str, Any]) -> list[int]:
    """A row's failed attempt as the model generated it: the mined ids where they decode to the mined text (the
    same tokenizer), else the text encoded."""
    ids = row.get("r3_attempt_ids")
    if ids and template.decode(ids) == row["r3_attempt"]:
        return list(ids)
    return template.encode_text(row["r3_attempt"])


def row_prompt_ids(template: ChatTemplate, row: dict[str, Any], reflect: str, retry: str, *,
                   strip_reasoning: bool, empty_reflection: bool = False) -> list[int]:
    """The reflection prompt of an offline row, as token ids (`r3.conversation.reflection_prompt_ids`); with
    `empty_reflection`, the retry prompt after an empty reflection turn instead (the demo's control arm)."""
    reflect = row.get("r3_reflection_instruction", reflect)
    retry = row.get("r3_retry_instruction", retry)
    if empty_reflection:
        return retry_prompt_ids(template, row["r3_task_prompt"], [attempt_ids(template, row)], [[]],
                                [row["r3_reason"]], reflect, retry, strip_reasoning=strip_reasoning)
    return reflection_prompt_ids(template, row["r3_task_prompt"], [attempt_ids(template, row)], [],
                                 [row["r3_reason"]], reflect, retry, strip_reasoning=strip_reasoning)


def check_lengths(rows: list[dict[str, Any]], tokenizer: Any, task: Task, config: TrainConfig, training: Any,
                  limit: int | None, limit_name: str) -> list[dict[str, Any]]:
    """Rows whose whole reflect-retry conversation fits the token budget; the others stop training (or are dropped).

    Offline, a row needs its reflection prompt + `max_completion_length` (the reflection) + the retry turn's
    template tokens + `attempt_max_new_tokens` (the retry) to fit `limit` (the model's context, or
    vllm_max_model_length). Online, the first attempt (`attempt_max_new_tokens`) comes on top. `max_prompt_length`
    bounds the prompt alone. Counted on the token ids the model is given (`r3.conversation`).
    """
    reflect, retry = instructions(task, config)
    template = ChatTemplate(tokenizer, training.chat_template_kwargs)
    kept, problems = [], []
    strip = config.strip_reasoning
    for index, row in enumerate(rows):
        prompt, reason = row["r3_task_prompt"], row["r3_reason"] or "(reason)"
        if config.mode == "offline":
            reflection_prompt = row_prompt_ids(template, row, reflect, retry, strip_reasoning=strip)
            prompt_tokens = len(reflection_prompt)
        else:
            reflection_prompt = reflection_prompt_ids(template, prompt, [[]], [], [reason], reflect, retry,
                                                      strip_reasoning=strip)
            prompt_tokens = len(template.encode(prompt))
        ids = retry_after_reflection_ids(template, prompt, reflection_prompt, [], reason, retry, strip_reasoning=strip)
        parts = {"conversation": len(ids), "max_completion_length": training.max_completion_length,
                 "attempt_max_new_tokens (retry)": config.attempt_max_new_tokens}
        if config.mode == "online":
            parts["attempt_max_new_tokens (first attempt)"] = config.attempt_max_new_tokens
        need = sum(parts.values())
        problem = None
        if config.max_prompt_length is not None and prompt_tokens > config.max_prompt_length:
            problem = f"the prompt has {prompt_tokens} tokens, over max_prompt_length ({config.max_prompt_length})"
        elif limit is not None and need > limit:
            detail = " + ".join(f"{name} {value}" for name, value in parts.items())
            problem = f"reflect and retry need {need} tokens ({detail}), over {limit_name} ({limit})"
        if problem is None:
            kept.append(row)
        elif not config.drop_long_prompts:
            raise R3Error(f"row {index} (problem {row['problem_id']}): {problem}; raise the limit, lower the "
                          f"budgets, or set drop_long_prompts: true")
        else:
            problems.append(problem)
    if problems:
        logger.warning("dropped %d of %d prompts that do not fit the token budget (first: %s)",
                       len(problems), len(rows), problems[0])
    if not kept:
        raise R3Error(f"no prompt fits the token budget ({limit_name} {limit})")
    return kept
