"""The interface every task implements: load examples, build the first prompt, hold instructions, check answers.

A task is a small class. To add one, subclass `Task`, set the class attributes, implement `normalize` and `check`
(and `prompt` or just a `prompt_template`), and either register it in `r3.tasks.TASKS` or name it as
`package.module:ClassName` wherever r3 accepts a task name (see docs/tasks.md).

Why `verify` is concrete: in RL the verifier is the whole reward, and a verifier that raises ends a training run.
`Task.verify` calls the task's `check` and turns any exception (and `sys.exit()`) into an incorrect verdict marked
`error=True`, so "verifiers never raise" is held by the base class, not by the habit of each task. It also hands
`check` only the reply the model committed to (`r3.tasks.reply`: what follows `</think>`), for every task, and runs a
`check` written outside r3 under a CPU-time bound (`r3.tasks.bounded`), since one that never returns would hang the
run. A user task written before this split (overriding `verify` itself) is wrapped the same way when its class is
created.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from r3.data import load_rows, normalize_rows
from r3.errors import DataError, R3Error, shorten
from r3.tasks.bounded import CheckTimeout, run_bounded
from r3.tasks.options import OptionSpec, resolve_options
from r3.tasks.reply import UNCLOSED, committed_reply
from r3.tasks.templates import REASON, check_template, render
from r3.types import Message, PromptTemplates, Verdict

logger = logging.getLogger(__name__)

DEFAULT_REFLECTION_INSTRUCTION = (
    "You tried solving the problem and got the wrong answer. Reflect on what went wrong and write a short "
    "explanation that will help you do better next time."
)
DEFAULT_RETRY_INSTRUCTION = "Now try the problem again, using your reflection."
LOGGED_ERRORS = 5  # verifier errors logged in full per task instance; the rest are only counted


class VerifierTimeout(Exception):
    """Raised by a task's `check` that gave up after its time bound; `verify` turns it into an error verdict."""


class Task(ABC):
    """A task whose answers a binary verifier can check.

    Class attributes:
        name: the task's registry name.
        fields: the columns an example must have.
        default_source: hub id used when the user gives no data source.
        default_split: split used with a hub id when the user gives none.
        default_config: the configuration (subset) of `default_source` to load when the user names none.
        system_prompt / prompt_template: the first attempt's turns, `{field}` = the example's fields.
        reflection_instruction / retry_instruction: the user turns that ask for a reflection and for a retry.
        options: each option's valid values, the first being the default (see `r3.tasks.options`).

    Constructor arguments (all optional, so `TaskClass()` keeps working):
        options: option name -> value, checked against `options`.
        columns: task field -> dataset column ("id" names the problem-id column), applied to each raw row.
        prompts: `PromptTemplates` replacing the class's wording (None entries keep it).
    """

    name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    default_source: ClassVar[str | None] = None
    default_split: ClassVar[str] = "train"
    default_config: ClassVar[str | None] = None
    system_prompt: str | None = None
    prompt_template: str | None = None
    reflection_instruction: str = DEFAULT_REFLECTION_INSTRUCTION
    retry_instruction: str = DEFAULT_RETRY_INSTRUCTION
    options: ClassVar[Mapping[str, OptionSpec]] = MappingProxyType({})
    template_fields: ClassVar[tuple[str, ...]] = ("id",)
    """Fields a template may name besides `fields` (optional columns the task knows)."""
    check_cpu_seconds: ClassVar[float] = 60.0
    """CPU-time bound on a `check` written outside r3 (`r3.tasks.bounded`); r3's own checks bound themselves."""

    task_options: Mapping[str, str] = MappingProxyType({})
    columns: Mapping[str, str] = MappingProxyType({})
    _templates: PromptTemplates = PromptTemplates()

    def __init__(self, options: Mapping[str, object] | None = None, *, columns: Mapping[str, str] | None = None,
                 prompts: PromptTemplates | None = None):
        # plain dicts (not read-only proxies): a task must pickle, to reach multiprocessing workers and datasets.map
        self.task_options = resolve_options(self.name, self.options, options)
        self.columns = _check_columns(self.name, columns)
        check_column_fields(type(self), self.columns)
        self._templates = prompts or PromptTemplates()
        self._errors_seen = 0
        known = {*self.fields, *self.template_fields, *self.columns}
        for what in ("system_prompt", "prompt_template", "reflection_instruction", "retry_instruction"):
            template = getattr(self._templates, what)
            if template is None:
                continue
            if what in ("system_prompt", "prompt_template") and type(self).prompt is not Task.prompt:
                raise R3Error(f"task '{self.name}' builds its own first prompt ({type(self).__qualname__}.prompt), so "
                              f"a {what} cannot apply; change the prompt in the class instead")
            allowed = known | {REASON} if what.endswith("instruction") else known
            check_template(what, template, allowed, self.name)
            setattr(self, what, template)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Protect a subclass that overrides `verify` (the interface before `check`): its verify becomes `check`."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("verify")
        if own is None:
            return
        if getattr(cls.check, "__isabstractmethod__", False):
            cls.check = own
            cls.verify = Task.verify
        else:
            cls.verify = _guarded(own)

    @classmethod
    def from_reward_func(cls, funcs: Any, *, threshold: float = 1.0, **kwargs: Any) -> type[Task]:
        """A task class judged by a TRL-style reward function (or a weighted list of them): correct when the reward
        reaches `threshold`. `MyTask = Task.from_reward_func(fn)`, then `--task my_module:MyTask`; see `r3.rewards`."""
        from r3.rewards import task_from_reward_func

        return task_from_reward_func(funcs, threshold=threshold, **kwargs)

    @abstractmethod
    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Check a raw row and return the example in canonical form.

        Raise `DataError(message, field=...)` for a missing or malformed field; the caller adds the source and row.
        Columns the task does not use are kept, so they travel into episodes and failure datasets.
        """

    @abstractmethod
    def check(self, example: dict[str, Any], completion: str) -> Verdict:
        """Judge a completion. Pure and bounded in time and memory; may raise (`verify` turns that into a verdict)."""

    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        """`check` on the committed reply (`r3.tasks.reply`: what follows the reasoning), with any exception,
        `sys.exit()` or time-out turned into an incorrect verdict (`error=True`) naming it."""
        return _judge(self, type(self).check, example, completion, "check")

    def _error_verdict(self, example: Any, reason: str) -> Verdict:
        seen = getattr(self, "_errors_seen", 0) + 1
        self._errors_seen = seen
        if seen <= LOGGED_ERRORS:
            logger.warning("task %s: %s on example %s%s", getattr(self, "name", "?"), reason, shorten(example, 200),
                           " (further verifier errors are only counted)" if seen == LOGGED_ERRORS else "")
        return Verdict(False, reason, error=True)

    def prompt(self, example: dict[str, Any]) -> list[Message]:
        """Chat messages of the first attempt: the system prompt (if any) and the rendered `prompt_template`."""
        if self.prompt_template is None:
            raise NotImplementedError(f"task '{self.name}' has neither a prompt_template nor its own prompt()")
        values = functools.partial(self.template_value, example)
        messages = [{"role": "system", "content": render(self.system_prompt, values)}] if self.system_prompt else []
        messages.append({"role": "user", "content": render(self.prompt_template, values)})
        return messages

    def template_value(self, example: dict[str, Any], field: str) -> str | None:
        """How `{field}` appears in a prompt: the example's value as text (None leaves the variable as written)."""
        if field == REASON or field not in example:
            return None
        value = example[field]
        return value if isinstance(value, str) else str(value)

    def instructions(self, example: dict[str, Any]) -> tuple[str, str]:
        """The reflection and retry instructions with the example's fields filled in (`{reason}` kept)."""
        values = functools.partial(self.template_value, example)
        return render(self.reflection_instruction, values), render(self.retry_instruction, values)

    def identity(self) -> dict[str, Any]:
        """What makes two runs use the same task: name, options, column mapping and templates (for run identity)."""
        templates = {key: value for key, value in vars(self._templates).items() if value is not None}
        return {"task": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "options": dict(self.task_options), "columns": dict(self.columns), "templates": templates}

    def problem_id(self, example: dict[str, Any], index: int) -> str:
        """A stable id for an example: its `id` column when it has one, else its position."""
        value = example.get("id")
        return str(value) if value is not None else str(index)

    def load(self, source: str | None = None, split: str | None = None, limit: int | None = None, *,
             skip_bad: bool = False, config: str | None = None) -> list[dict]:
        """Load and normalize examples from a hub id, a local file or `sample:NAME` (see `r3.data`); `config` names
        the dataset's configuration (subset), by default the task's own for its own dataset. With `skip_bad`
        (the `skip_bad_lines` setting), unreadable rows and rows `normalize` rejects are skipped and counted in the
        log instead of stopping the run."""
        source = source or self.default_source
        if source is None:
            raise R3Error(f"task '{self.name}' has no default dataset: pass a data source")
        if config is None and source == self.default_source:
            config = self.default_config
        loaded = load_rows(source, split or self.default_split, limit, skip_bad=skip_bad, config=config)
        examples, skipped = normalize_rows(loaded, lambda row: self.normalize(self.map_columns(row)),
                                           skip_bad=skip_bad)
        if skipped:
            logger.warning("%s: skipped %d bad row(s) (skip_bad_lines)", loaded.source, skipped)
        return examples

    def normalize_row(self, row: dict[str, Any], source: str, label: str) -> dict[str, Any]:
        """`normalize` of the row with the column mapping applied, the source and row label added to any error."""
        try:
            return self.normalize(self.map_columns(row))
        except DataError as error:
            raise error.at(source=source, row=label) from None

    def map_columns(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with each mapped column copied to its task field (the original column is kept)."""
        if not self.columns:
            return row
        mapped = dict(row)
        for field, column in self.columns.items():
            if column not in row:
                raise DataError(f"column '{column}' (mapped to field '{field}') is not in the row; its columns: "
                                f"{shorten(sorted(row), 120)}", field=column)
            mapped[field] = row[column]
        return mapped


def verifier_errors(verdicts: Iterable[Verdict]) -> int:
    """How many verdicts are verifier errors (raised or timed out), for "verifier errors: N" in summaries."""
    return sum(1 for verdict in verdicts if getattr(verdict, "error", False))


def _guarded(verify: Any) -> Any:
    """A legacy `verify` override wrapped like `Task.verify` wraps `check`."""

    @functools.wraps(verify)
    def guarded(self: Task, example: dict[str, Any], completion: str) -> Verdict:
        return _judge(self, verify, example, completion, "verify")

    return guarded


def _judge(task: Task, check: Any, example: dict[str, Any], completion: str, what: str) -> Verdict:
    """The verdict of `check` on the committed reply; r3's own checks run here, a user's under a CPU-time bound.
    (Hot: Countdown verdicts take microseconds, so the ownership of `check` is cached.)"""
    if type(completion) is str:
        completion = committed_reply(completion)
        if completion is None:
            return Verdict(False, UNCLOSED)
    own = _OWN_CHECKS.get(check)
    if own is None:
        own = _OWN_CHECKS[check] = getattr(check, "__module__", "").startswith("r3.tasks.")
    try:
        verdict = check(task, example, completion) if own else run_bounded(check, (task, example, completion),
                                                                         task.check_cpu_seconds)
    except (VerifierTimeout, CheckTimeout) as error:
        return task._error_verdict(example, f"verifier timed out ({error})")
    except SystemExit as error:
        return task._error_verdict(example, f"verifier error: {what} called sys.exit({error.code!r:.40})")
    except Exception as error:  # noqa: BLE001 - whatever a verifier does, the run gets a verdict
        return task._error_verdict(example, f"verifier error: {type(error).__name__}: {str(error)[:120]}")
    if type(verdict) is not Verdict and not isinstance(verdict, Verdict):
        return task._error_verdict(example, f"verifier error: {what} returned {type(verdict).__name__}")
    return verdict


_OWN_CHECKS: dict[Any, bool] = {}  # check function -> defined in r3.tasks (bounded by construction)


def _check_columns(task_name: str, columns: Mapping[str, str] | None) -> dict[str, str]:
    if columns is None:
        return {}
    if not isinstance(columns, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in columns.items()):
        raise R3Error(f"columns of task '{task_name}' must map field names to column names, got {columns!r:.80}")
    return dict(columns)


def check_column_fields(task: type[Task], columns: Mapping[str, str]) -> None:
    """R3Error for a mapping whose key is not a field of the task (a typo would otherwise be silently ignored)."""
    known = {*task.fields, *task.template_fields}
    for field in columns:
        if field not in known:
            raise R3Error(f"columns: task '{task.name}' has no field '{field}'; its fields: {', '.join(sorted(known))}")


def require(row: dict[str, Any], field: str) -> Any:
    """The value of `field`, or a DataError naming it."""
    if field not in row or row[field] is None:
        raise DataError("missing required field", field=field)
    return row[field]
