"""Tasks: what to ask the model and how to check its answer.

`get_task("countdown")` returns a built-in task; `get_task("my_pkg.my_module:MyTask")` imports a user's own.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping

from r3.errors import R3Error
from r3.tasks.base import Task, VerifierTimeout, verifier_errors
from r3.tasks.options import FreeOption
from r3.tasks.verify_file import verify_file
from r3.types import PromptTemplates

# name -> "module:Class", imported on first use so that `r3 tasks` stays fast.
TASKS: dict[str, str] = {
    "arithmetic": "r3.tasks.arithmetic:ArithmeticTask",
    "countdown": "r3.tasks.countdown:CountdownTask",
    "function_calling": "r3.tasks.function_calling:FunctionCallingTask",
    "gsm8k": "r3.tasks.gsm8k:GSM8KTask",
    "math": "r3.tasks.math:MathTask",
}


def _import(spec: str) -> type[Task]:
    """The Task class named by `package.module:ClassName`; whatever goes wrong is one R3Error naming the spec."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or module_name.startswith(".") or not class_name:
        raise R3Error(f"task '{spec}': expected package.module:ClassName (an absolute module path)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise R3Error(f"cannot import task module '{module_name}': {error}") from None
    except Exception as error:  # noqa: BLE001 - a user's module may raise anything at import, SyntaxError included
        raise R3Error(f"task module '{module_name}' failed to import: {type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise R3Error(f"'{spec}' is not a subclass of r3.tasks.Task")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise R3Error(f"task '{spec}' does not implement {missing} (see docs/tasks.md)")
    return cls


def _instantiate(cls: type[Task], spec: str, *args, **kwargs) -> Task:
    try:
        return cls(*args, **kwargs)
    except R3Error:
        raise
    except Exception as error:  # noqa: BLE001 - a user's constructor may raise anything
        raise R3Error(f"task '{spec}' could not be created: {type(error).__name__}: {error}") from None


def get_task(name: str, options: Mapping[str, object] | None = None, *, columns: Mapping[str, str] | None = None,
             prompts: PromptTemplates | None = None) -> Task:
    """A task instance by registry name or by `package.module:ClassName`, with its options, column mapping and
    prompt templates applied (each checked here: an unknown option, value, field or template variable is an R3Error).
    """
    if name in TASKS or ":" in name:
        cls = _import(TASKS.get(name, name))
        if options is None and columns is None and prompts is None:
            return _instantiate(cls, name)  # a user task whose __init__ takes no arguments keeps working
        return _instantiate(cls, name, options, columns=columns, prompts=prompts)
    close = difflib.get_close_matches(name, TASKS, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise R3Error(f"unknown task '{name}'. Available: {', '.join(sorted(TASKS))}.{hint}")


def task_names() -> list[str]:
    return sorted(TASKS)


__all__ = ["TASKS", "FreeOption", "PromptTemplates", "Task", "VerifierTimeout", "get_task", "task_names",
           "verifier_errors", "verify_file"]
