"""The task base class: verify protects every check, legacy verify overrides, options, columns, templates, identity."""

from __future__ import annotations

import json
import logging
from typing import ClassVar

import pytest

from r3.errors import DataError, R3Error
from r3.tasks import FreeOption, PromptTemplates, Task, VerifierTimeout, get_task, verifier_errors
from r3.tasks.options import positive_seconds
from r3.types import Episode, Verdict


class Words(Task):
    """A small task with options, used by the tests below."""

    name = "words"
    fields = ("word", "target")
    prompt_template = "Say {word}."
    options: ClassVar = {"case": ("exact", "lower"), "limit": FreeOption("3", positive_seconds, "seconds > 0")}

    def normalize(self, row):
        return dict(row)

    def check(self, example, completion):
        if completion == "raise":
            raise KeyError("boom")
        if completion == "slow":
            raise VerifierTimeout("over 3 s")
        if completion == "none":
            return None
        text = completion.lower() if self.task_options["case"] == "lower" else completion
        return Verdict(text == example["target"], "same" if text == example["target"] else "different")


class Legacy(Task):
    """A user task written before `check`: it overrides verify, and raises."""

    name = "legacy"
    fields = ("x",)

    def normalize(self, row):
        return dict(row)

    def prompt(self, example):
        return [{"role": "user", "content": "x"}]

    def verify(self, example, completion):
        return Verdict(True, "ok") if completion == "ok" else {}["missing"]


def test_verify_turns_exceptions_and_timeouts_into_error_verdicts(caplog):
    task = Words()
    caplog.set_level(logging.WARNING)
    assert task.verify({"target": "a"}, "a") == Verdict(True, "same")
    raised = task.verify({"target": "a"}, "raise")
    assert (raised.correct, raised.error, raised.reason) == (False, True, "verifier error: KeyError: 'boom'")
    timed_out = task.verify({"target": "a"}, "slow")
    assert (timed_out.correct, timed_out.error, timed_out.reason) == (False, True, "verifier timed out (over 3 s)")
    wrong_type = task.verify({"target": "a"}, "none")
    assert wrong_type.error and wrong_type.reason == "verifier error: check returned NoneType"
    assert "task words: verifier error: KeyError" in caplog.text and "'target': 'a'" in caplog.text
    assert verifier_errors([raised, timed_out, wrong_type, Verdict(False, "different")]) == 3


def test_only_the_first_errors_are_logged(caplog):
    task = Words()
    caplog.set_level(logging.WARNING)
    for _ in range(20):
        task.verify({"target": "a"}, "raise")
    assert caplog.text.count("verifier error: KeyError") == 5 and "further verifier errors are only counted" in caplog.text


def test_a_legacy_verify_override_is_protected_too():
    task = get_task(f"{__name__}:Legacy")
    assert task.verify({"x": 1}, "ok") == Verdict(True, "ok")
    verdict = task.verify({"x": 1}, "anything else")
    assert (verdict.correct, verdict.error) == (False, True) and verdict.reason.startswith("verifier error: KeyError")


def test_builtin_tasks_never_raise_on_broken_examples():
    for name in ("math", "gsm8k", "function_calling"):
        verdict = get_task(name).verify({}, "\\boxed{1} [] {}")
        assert verdict.correct is False and isinstance(verdict.reason, str)


def test_verdicts_written_before_the_error_field_still_load():
    record = {"index": 0, "problem_id": "0", "example": {}, "prompt": [], "reflections": [], "extra": {},
              "attempts": [{"text": "a", "num_tokens": 1, "verdict": {"correct": False, "reason": "r"}}]}
    assert Episode.from_dict(record).attempts[0].verdict == Verdict(False, "r", error=False)


def test_options_are_checked_with_the_valid_values_listed():
    assert dict(Words().task_options) == {"case": "exact", "limit": "3"}
    task = Words({"case": "lower", "limit": 2.5})
    assert dict(task.task_options) == {"case": "lower", "limit": "2.5"} and task.verify({"target": "a"}, "A").correct
    with pytest.raises(R3Error, match=r"^task 'words': option case='upper' is not valid; valid: exact, lower$"):
        Words({"case": "upper"})
    with pytest.raises(R3Error, match=r"^task 'words' has no option 'cse' \(its options: case, limit\)\. Did you mean"):
        Words({"cse": "lower"})
    with pytest.raises(R3Error, match="valid: seconds > 0"):
        Words({"limit": "0"})
    with pytest.raises(R3Error, match=r"task 'countdown' has no option 'match' \(its options: none\)"):
        get_task("countdown", {"match": "bfcl"})


def test_columns_map_dataset_columns_to_fields(tmp_path):
    path = tmp_path / "renamed.jsonl"
    path.write_text(json.dumps({"numbers": [1, 2, 3], "goal": 6, "uid": "p-1"}) + "\n")
    task = get_task("countdown", columns={"nums": "numbers", "target": "goal", "id": "uid"})
    [example] = task.load(str(path))
    assert (example["nums"], example["target"], task.problem_id(example, 0)) == ([1, 2, 3], 6, "p-1")
    path.write_text(json.dumps({"numbers": [1, 2, 3], "target": 6}) + "\n")
    with pytest.raises(DataError, match=r"line 1, field 'goal': column 'goal' \(mapped to field 'target'\) is not"):
        task.load(str(path))
    with pytest.raises(R3Error, match="columns: task 'countdown' has no field 'numbers'"):
        get_task("countdown", columns={"numbers": "nums"})


def test_prompt_templates_substitute_known_fields_only():
    prompts = PromptTemplates(system_prompt="You solve {target}-puzzles.",
                              prompt_template='Reach {target} with {nums}. Reply as JSON: {"answer": "..."} '
                                              "or \\boxed{target}.",
                              reflection_instruction="Wrong ({reason}). Think about {target}.",
                              retry_instruction="Again, for {target}.")
    task = get_task("countdown", prompts=prompts)
    example = task.normalize({"nums": [1, 2, 3], "target": 6})
    assert task.prompt(example) == [
        {"role": "system", "content": "You solve 6-puzzles."},
        {"role": "user", "content": 'Reach 6 with [1, 2, 3]. Reply as JSON: {"answer": "..."} or \\boxed{target}.'}]
    assert task.instructions(example) == ("Wrong ({reason}). Think about 6.", "Again, for 6.")
    assert task.reflection_instruction == "Wrong ({reason}). Think about {target}."


@pytest.mark.parametrize("prompts, message", [
    (PromptTemplates(prompt_template="Solve {problem}"), ("prompt_template of task 'countdown' names an unknown "
                                                          "field '{problem}'; known fields: {id}, {nums}, {target}")),
    (PromptTemplates(system_prompt="{reason}"), "system_prompt of task 'countdown' names an unknown field"),
    (PromptTemplates(retry_instruction="{nums} {reasons}"), "unknown field '{reasons}'"),
])
def test_a_template_naming_an_unknown_field_is_an_error(prompts, message):
    with pytest.raises(R3Error, match=message.replace("{", r"\{").replace("(", r"\(")):
        get_task("countdown", prompts=prompts)


def test_default_prompts_are_unchanged():
    countdown = get_task("countdown")
    example = countdown.normalize({"nums": [44, 19, 35], "target": 98})
    assert countdown.prompt(example)[0]["content"].startswith("Using the numbers [44, 19, 35], create an equation")
    calls = get_task("function_calling")
    row = {"query": "Weather?", "tools": '[{"name": "w", "parameters": {}}]', "answers": "[]"}
    content = calls.prompt(calls.normalize(row))[0]["content"]
    assert '<tools>\n{"name": "w", "parameters": {}}\n</tools>' in content and "Request: Weather?" in content
    assert '{"name": <tool name>, "arguments": {<argument name>: <value>, ...}}' in content


def test_identity_names_everything_that_changes_verdicts_or_prompts():
    plain = get_task("function_calling").identity()
    assert plain == {"task": "function_calling", "class": "r3.tasks.function_calling:FunctionCallingTask",
                     "options": {"match": "exact"}, "columns": {}, "templates": {}}
    custom = get_task("function_calling", {"match": "bfcl"}, columns={"query": "question"},
                      prompts=PromptTemplates(prompt_template="{query}")).identity()
    assert custom["options"] == {"match": "bfcl"} and custom["columns"] == {"query": "question"}
    assert custom["templates"] == {"prompt_template": "{query}"}


def test_a_prompt_template_for_a_task_with_its_own_prompt_is_refused():
    with pytest.raises(R3Error, match=r"task 'legacy' builds its own first prompt \(Legacy.prompt\), so a "
                                      "prompt_template cannot apply"):
        Legacy(prompts=PromptTemplates(prompt_template="{x}"))
    assert Legacy(prompts=PromptTemplates(reflection_instruction="Wrong: {reason}")).reflection_instruction == (
        "Wrong: {reason}")


@pytest.mark.parametrize("name", ["countdown", "function_calling", "math", "gsm8k"])
def test_tasks_pickle_with_their_options(name):
    """Tasks travel to multiprocessing workers and into datasets.map fingerprints."""
    import pickle

    options = {"function_calling": {"match": "bfcl"}, "math": {"timeout": "3"}}.get(name)
    task = get_task(name, options, prompts=PromptTemplates(reflection_instruction="Why? {reason}"))
    copy = pickle.loads(pickle.dumps(task))
    assert copy.identity() == task.identity() and copy.reflection_instruction == "Why? {reason}"
