"""`r3 tasks`: list the built-in tasks and their options."""

from __future__ import annotations

from dataclasses import dataclass

from r3.config import CommandConfig

HELP = "list the built-in tasks and their options (a user's own task is named as package.module:ClassName)"


@dataclass
class TasksConfig(CommandConfig):
    """`r3 tasks` takes no settings; a config class keeps --help and errors like every other command's."""


def main(argv: list[str]) -> int:
    from r3.config.parser import ConfigParser
    from r3.errors import R3Error
    from r3.tasks import get_task, task_names

    ConfigParser([TasksConfig], prog="r3 tasks", description=HELP).parse(argv)
    for name in task_names():
        try:
            task = get_task(name)
        except R3Error as error:  # one broken task module should not hide the others
            print(f"{name:<18} (cannot load: {error})")
            continue
        doc = (type(task).__doc__ or "").strip().splitlines()[0] if type(task).__doc__ else ""
        source = f"{task.default_source} ({task.default_split})" if task.default_source else "-"
        print(f"{name:<18} {doc}  [default data: {source}]")
        for option, values in getattr(type(task), "options", {}).items():
            shown = " | ".join(str(v) for v in values) if isinstance(values, (tuple, list)) else str(values)
            print(f"{'':<18}   --task-option {option}={shown}")
    return 0
