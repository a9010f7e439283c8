"""Tasks: what to ask the model and how to check its answer.

`get_task("countdown")` returns a built-in task; `get_task("my_pkg.my_module:MyTask")` imports a user's own.
"""

from __future__ import annotations

import difflib
import importlib

from r3.errors import R3Error
from r3.tasks.base import Task

# name -> "module:Class", imported on first use so that `r3 tasks` stays fast.
TASKS: dict[str, str] = {
    "countdown": "r3.tasks.countdown:CountdownTask",
    "function_calling": "r3.tasks.function_calling:FunctionCallingTask",
    "math": "r3.tasks.math:MathTask",
}


def _import(spec: str) -> type[Task]:
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise R3Error(f"cannot import task module '{module_name}': {error}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise R3Error(f"'{spec}' is not a subclass of r3.tasks.Task")
    return cls


def get_task(name: str) -> Task:
    """A task instance by registry name or by `package.module:ClassName`."""
    if name in TASKS:
        return _import(TASKS[name])()
    if ":" in name:
        return _import(name)()
    close = difflib.get_close_matches(name, TASKS, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise R3Error(f"unknown task '{name}'. Available: {', '.join(sorted(TASKS))}.{hint}")


def task_names() -> list[str]:
    return sorted(TASKS)


__all__ = ["TASKS", "Task", "get_task", "task_names"]
