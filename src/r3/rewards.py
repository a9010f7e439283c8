"""r3's verifiers as TRL reward functions, and TRL-style reward functions as r3 tasks.

    from trl import GRPOTrainer
    import r3.rewards
    trainer = GRPOTrainer(model=..., reward_funcs=[r3.rewards.reward_func("countdown")], train_dataset=dataset)

    from r3.tasks import Task
    MyTask = Task.from_reward_func(my_reward, threshold=1.0)   # then `--task my_module:MyTask` in any r3 command

Why both ways: a researcher coming from TRL has reward functions (`def reward(completions, **kwargs) -> list[float]`)
and datasets with a `prompt` column and answer columns; r3 has binary verifiers that never raise and are bounded in
time. `reward_func` lets plain `GRPOTrainer` train on an r3 verifier (the dataset's columns are the task's fields,
`columns` maps other names onto them); `task_from_reward_func` lets r3's reflect-retry loop use an existing reward:
the retry counts as solved when the (weighted sum of the) reward reaches `threshold`. The reward function runs inside
`Task.verify`, so one that raises, hangs or returns nonsense gives an incorrect verdict marked as a verifier error,
never a crashed run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from r3.errors import DataError, R3Error, shorten
from r3.tasks import Task, get_task
from r3.tasks.base import require
from r3.types import Message, Verdict

logger = logging.getLogger(__name__)

# keyword arguments GRPOTrainer passes that are not dataset columns
TRL_ARGUMENTS = frozenset({"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric",
                           "environments"})


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string as it is; a conversational one (a list of messages) as the content of its
    assistant turns, joined."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "".join(str(m.get("content") or "") for m in completion
                       if isinstance(m, Mapping) and m.get("role", "assistant") == "assistant")
    return str(completion)


class TaskReward:
    """A task's verifier as a TRL reward function: 1.0 when `Task.verify` says correct, else 0.0.

    Called by TRL as `reward(prompts=..., completions=..., **columns)`: each dataset column comes as a list, one
    value per completion; the row of a completion is normalized by the task (its `columns` mapping applied) and its
    text verified. A row the task cannot read is an R3Error naming the row and field (bad data should stop a run
    at its first step, not train it on zeros).
    """

    def __init__(self, task: Task, name: str | None = None):
        self.task = task
        self.__name__ = name or f"r3_{task.name}"  # TRL logs rewards/<__name__>/mean
        self.verifier_errors = 0

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        completions = list(completions or [])
        columns = {key: value for key, value in kwargs.items()
                   if key not in TRL_ARGUMENTS and isinstance(value, Sequence) and not isinstance(value, str)
                   and len(value) == len(completions)}
        rewards = []
        for index, completion in enumerate(completions):
            row = {key: values[index] for key, values in columns.items()}
            if prompts is not None and "prompt" not in row:
                row["prompt"] = prompts[index]
            try:
                example = self.task.normalize(self.task.map_columns(row))
            except DataError as error:
                raise R3Error(f"reward {self.__name__}: row {index} of the batch: {error} (dataset columns: "
                              f"{shorten(sorted(columns), 120)}; map others with columns={{field: column}})") from None
            verdict = self.task.verify(example, completion_text(completion))
            self.verifier_errors += verdict.error
            rewards.append(1.0 if verdict.correct else 0.0)
        return rewards


def reward_func(task: str | Task, *, columns: Mapping[str, str] | None = None, name: str | None = None,
                **options: Any) -> TaskReward:
    """An r3 task's verifier as a TRL reward function (`GRPOTrainer(reward_funcs=[reward_func("countdown")])`).

    `task`: a task name, `package.module:ClassName` or a Task instance. `columns`: task field -> dataset column,
    for datasets whose columns have other names. `**options`: the task's options (`r3 tasks` lists them), e.g.
    `reward_func("function_calling", match="bfcl")`. `name`: the reward's name in TRL's logs (default r3_TASK).
    """
    if isinstance(task, Task):
        if columns or options:
            raise R3Error("reward_func: give columns and options to the task itself when passing a Task instance")
        return TaskReward(task, name)
    return TaskReward(get_task(task, options or None, columns=columns), name)


RewardFunction = Callable[..., Sequence[float | None]]


class RewardFunctionTask(Task):
    """Base of the tasks `task_from_reward_func` makes: a TRL-style dataset row (a `prompt` column, standard or
    conversational, plus whatever columns the reward reads) judged by reward functions."""

    name = "reward_function"
    fields: tuple[str, ...] = ("prompt",)
    reward_funcs: tuple[RewardFunction, ...] = ()
    reward_weights: tuple[float, ...] = ()
    threshold: float = 1.0
    check_cpu_seconds = 60.0

    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        for field in self.fields:
            require(row, field)
        prompt = row.get("prompt")
        if prompt is not None and not isinstance(prompt, str | list):
            raise DataError(f"expected a string or a list of chat messages, got {type(prompt).__name__}",
                            field="prompt")
        return dict(row)

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        if self.prompt_template is not None:
            return super().prompt(example)
        prompt = example["prompt"]
        return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)

    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        prompt = example.get("prompt")
        conversational = isinstance(prompt, list)
        shown = [{"role": "assistant", "content": completion}] if conversational else completion
        columns = {key: [value] for key, value in example.items() if key not in ("prompt", "completion")}
        total = 0.0
        for function, weight in zip(self.reward_funcs, self.reward_weights, strict=True):
            scores = function(prompts=[prompt], completions=[shown], **columns)
            score = scores[0] if isinstance(scores, Sequence) and len(scores) == 1 else "?"
            if score is None:
                return Verdict(False, f"{_name(function)} returned None (not applicable)")
            if not isinstance(score, int | float) or math.isnan(score):
                raise ValueError(f"{_name(function)} returned {shorten(scores, 60)}, expected one number per "
                                 "completion")
            total += weight * float(score)
        return Verdict(total >= self.threshold, f"reward {total:.4g} (threshold {self.threshold:g})")

    def __reduce__(self):
        """Pickle by the reward functions (module-level functions pickle by name), not by this generated class."""
        return (_rebuild, (self.reward_funcs, self.reward_weights, self.threshold, self.fields, self.name,
                           type(self).system_prompt, type(self).prompt_template),
                {"task_options": self.task_options, "columns": self.columns, "_templates": self._templates,
                 "_errors_seen": 0})


def task_from_reward_func(funcs: RewardFunction | Sequence[RewardFunction], *, threshold: float = 1.0,
                          weights: Sequence[float] | None = None, fields: Sequence[str] = (),
                          name: str | None = None, system_prompt: str | None = None,
                          prompt_template: str | None = None) -> type[Task]:
    """A Task class whose verifier is a TRL-style reward function, or several combined as a weighted sum (TRL's
    `reward_weights`): an answer is correct when the reward reaches `threshold`.

    `fields`: the columns the reward reads, required in every row besides `prompt` (a missing one is a data error
    naming it, before anything runs). The first prompt is the row's `prompt` column (a string or chat messages, as in
    TRL datasets) unless `prompt_template` (and `system_prompt`) give it from the row's fields. Use the class where
    r3 takes a task: `MyTask = Task.from_reward_func(fn)` in `my_module`, then `--task my_module:MyTask`.
    """
    functions = (funcs,) if callable(funcs) else tuple(funcs)
    if not functions or not all(callable(f) for f in functions):
        raise R3Error(f"from_reward_func: expected a reward function or a list of them, got {shorten(funcs, 80)}")
    weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(functions)
    if len(weights) != len(functions):
        raise R3Error(f"from_reward_func: {len(weights)} weights for {len(functions)} reward functions")
    required = () if prompt_template is not None else ("prompt",)
    task_name = name or "+".join(_name(f) for f in functions)
    attributes = {"name": task_name, "fields": (*required, *(f for f in fields if f not in required)),
                  "reward_funcs": functions, "reward_weights": weights, "threshold": float(threshold),
                  "system_prompt": system_prompt, "prompt_template": prompt_template,
                  "template_fields": ("id", "prompt"), "__module__": functions[0].__module__,
                  "__doc__": f"r3 task judged by the reward function(s) {task_name} (threshold {threshold:g})."}
    return type(f"RewardTask_{task_name.replace('+', '_')}", (RewardFunctionTask,), attributes)


def _rebuild(funcs, weights, threshold, fields, name, system_prompt, prompt_template) -> Task:
    cls = task_from_reward_func(funcs, threshold=threshold, weights=weights, fields=fields, name=name,
                                system_prompt=system_prompt, prompt_template=prompt_template)
    return cls.__new__(cls)


def _name(function: Any) -> str:
    return getattr(function, "__name__", type(function).__name__)


__all__ = ["RewardFunctionTask", "TaskReward", "completion_text", "reward_func", "task_from_reward_func"]
