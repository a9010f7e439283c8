"""`r3 tasks`: list the built-in tasks."""

from __future__ import annotations

import argparse

HELP = "list the built-in tasks (a user's own task is named as package.module:ClassName)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from r3.tasks import get_task, task_names

    for name in task_names():
        task = get_task(name)
        doc = (type(task).__doc__ or "").strip().splitlines()[0]
        print(f"{name:<18} {doc}  [default data: {task.default_source or '-'}]")
    return 0
