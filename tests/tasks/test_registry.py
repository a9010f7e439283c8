"""The task registry: built-in names, close-match hints, user tasks as package.module:ClassName, and the
worked example of docs/tasks.md."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from r3.cli import main
from r3.errors import R3Error
from r3.tasks import TASKS, Task, get_task, task_names
from r3.types import Verdict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"


class EchoTask(Task):
    """Repeat the text (a user task defined in a test module)."""

    name = "echo"
    fields = ("text",)

    def normalize(self, row):
        return dict(row)

    def prompt(self, example):
        return [{"role": "user", "content": f"Repeat: {example['text']}"}]

    def verify(self, example, completion):
        return Verdict(completion == example["text"], "same" if completion == example["text"] else "different")


class NotATask:
    pass


def test_builtin_names():
    assert {"countdown", "function_calling", "math"} <= set(task_names())
    for name in ("function_calling", "math"):
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
    assert task_names() == sorted(TASKS)


def test_unknown_name_lists_tasks_and_close_matches():
    with pytest.raises(R3Error) as error:
        get_task("functon_calling")
    message = str(error.value)
    assert message.startswith("unknown task 'functon_calling'. Available: ")
    assert "countdown" in message and "math" in message and message.endswith("Did you mean function_calling?")
    with pytest.raises(R3Error, match=r"unknown task 'zzz'\. Available: [^?]*$"):
        get_task("zzz")


def test_user_task_by_module_and_class():
    task = get_task(f"{__name__}:EchoTask")
    assert isinstance(task, EchoTask)
    assert task.verify({"text": "hi"}, "hi") == Verdict(True, "same")


@pytest.mark.parametrize("spec, message", [
    (f"{__name__}:NotATask", "is not a subclass of r3.tasks.Task"),
    (f"{__name__}:Missing", "is not a subclass of r3.tasks.Task"),
    (f"{__name__}:Verdict", "is not a subclass of r3.tasks.Task"),
    ("no_such_package_r3.tasks:Thing", "cannot import task module 'no_such_package_r3.tasks'"),
])
def test_things_that_are_not_tasks_are_refused(spec, message):
    with pytest.raises(R3Error, match=re.escape(message)):
        get_task(spec)


@pytest.fixture
def docs_example(tmp_path, monkeypatch):
    """docs/tasks.md's ReverseTask, written out as my_tasks/reverse.py exactly as the docs show it."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    source = next(block for block in blocks if block.startswith('"""my_tasks/reverse.py'))
    package = tmp_path / "my_tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "reverse.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("my_tasks.reverse", "my_tasks"):
        sys.modules.pop(name, None)


def test_docs_example_task_works(docs_example, capsys, monkeypatch):
    task = get_task("my_tasks.reverse:ReverseTask")
    example = task.normalize({"word": "reflect"})
    assert "reflect" in task.prompt(example)[0]["content"]
    assert task.verify(example, "Backwards: <answer> tcelfer </answer>").correct
    assert task.verify(example, "<answer>tcelfre</answer>") == Verdict(False, "answer 'tcelfre' is not 'tcelfer'")
    assert task.verify(example, "no tags") == Verdict(False, "no <answer> tag")
    assert not task.verify(example, "<answer>" * 200_000).correct

    words = docs_example / "words.jsonl"
    words.write_text(json.dumps({"word": "reflect", "completion": "<answer>tcelfer</answer>"}) + "\n"
                     + json.dumps({"word": "retry", "completion": "<answer>yrtre</answer>"}) + "\n")
    assert main(["verify", "--task", "my_tasks.reverse:ReverseTask", str(words)]) == 0
    assert "reverse: 1/2 correct (accuracy 0.5000)" in capsys.readouterr().out

    words.write_text(json.dumps({"word": "two words", "completion": ""}) + "\n")
    monkeypatch.chdir(docs_example)
    assert main(["verify", "--task", "my_tasks.reverse:ReverseTask", "words.jsonl"]) == 2
    assert "words.jsonl, line 1, field 'word': expected a word made of letters" in capsys.readouterr().err
