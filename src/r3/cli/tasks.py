"""`r3 tasks`: list the built-in tasks."""

from __future__ import annotations

import argparse

HELP = "list the built-in tasks (a user's own task is named as package.module:ClassName)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from r3.errors import R3Error
    from r3.tasks import get_task, task_names

    for name in task_names():
        try:
            task = get_task(name)
        except R3Error as error:  # one broken task module should not hide the others
            print(f"{name:<18} (cannot load: {error})")
            continue
        doc = (type(task).__doc__ or "").strip().splitlines()[0] if type(task).__doc__ else ""
        source = f"{task.default_source} ({task.default_split})" if task.default_source else "-"
        print(f"{name:<18} {doc}  [default data: {source}]")
    return 0
