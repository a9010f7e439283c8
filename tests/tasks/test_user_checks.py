"""A user's `check` cannot end or hang a run, and every task judges only the reply the model committed to.

Issue 20: `sys.exit()` inside a task's `check()` ended `r3 eval` with exit 0 and no summary, and a `check()` that
never returned hung it. Issue 21: answers inside `<think>...</think>` were rewarded. The time-out is tied to the
check's CPU time (or, for a check that sleeps, to ten times that budget), never asserted on a wall-clock duration.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import ClassVar

import pytest

from r3.errors import R3Error
from r3.tasks import FreeOption, Task, verify_file
from r3.tasks.options import resolve_options
from r3.tasks.reply import UNCLOSED, committed_reply
from r3.types import Verdict

RELEASE = threading.Event()  # lets the abandoned check threads end when each test is over


@pytest.fixture(autouse=True)
def release_abandoned_checks():
    RELEASE.clear()
    yield
    RELEASE.set()


class Echo(Task):
    """A user task: correct when the reply is the target; some replies misbehave."""

    name = "echo"
    fields = ("target",)
    prompt_template = "Say {target}."
    check_cpu_seconds: ClassVar[float] = 0.3

    def normalize(self, row):
        return dict(row)

    def check(self, example, completion):
        if completion == "exit":
            sys.exit(3)
        if completion == "spin":  # never returns while the test runs
            while not RELEASE.is_set():
                pass
        if completion == "sleep":
            RELEASE.wait()
        return Verdict(completion.strip() == example["target"], "compared")


@pytest.mark.parametrize("completion, reason", [
    ("exit", "verifier error: check called sys.exit(3)"),
    ("spin", "verifier timed out (check used over 0.3 s of CPU time)"),
    ("sleep", "verifier timed out (check used over 0.3 s of CPU time)"),
])
def test_a_check_that_exits_or_never_returns_is_an_error_verdict(completion, reason):
    verdict = Echo().verify({"target": "a"}, completion)
    assert (verdict.correct, verdict.error, verdict.reason) == (False, True, reason)


def test_a_run_over_a_misbehaving_check_finishes_with_every_verdict(tmp_path):
    path = tmp_path / "completions.jsonl"
    path.write_text("".join(f'{{"target": "a", "completion": "{text}"}}\n' for text in ("a", "exit", "spin", "a")))
    summary = verify_file(Echo(), path)
    assert (summary.judged, summary.correct, summary.verifier_errors) == (4, 2, 2)


def test_the_bound_counts_cpu_time_so_a_slow_wall_clock_does_not_fail_a_cheap_check():
    class Patient(Echo):
        def check(self, example, completion):
            time.sleep(0.2)  # wall time, almost no CPU: under the 0.3 s CPU budget however long the sleep lasts
            return super().check(example, completion)

    assert Patient().verify({"target": "a"}, "a").correct


@pytest.mark.parametrize("completion, reply", [
    ("plain", "plain"),
    ("<think>draft</think>final", "final"),
    ("<think>a</think> b <think>c</think> d", " d"),
    ("only closing</think> reply", " reply"),  # the chat template opened <think> in the prompt
    ("<think>never closed", None),
    ("<think>a</think> b <think> c", None),
])
def test_committed_reply(completion, reply):
    assert committed_reply(completion) == reply


def test_every_task_judges_the_committed_reply():
    task = Echo()
    assert task.verify({"target": "a"}, "<think>maybe b</think>a").correct
    assert not task.verify({"target": "a"}, "<think>a</think>b").correct
    assert task.verify({"target": "a"}, "<think>so a").reason == UNCLOSED


def test_an_option_declared_with_the_wrong_type_is_one_line_naming_it():
    with pytest.raises(R3Error, match=r"declares option 'match' as 'exact'; expected a tuple of strings"):
        resolve_options("mine", {"match": "exact"}, None)
    with pytest.raises(R3Error, match=r"declares option 'n'"):
        resolve_options("mine", {"n": ("1", 2)}, {"n": "1"})


def test_a_free_option_check_that_raises_on_a_value_is_an_invalid_value():
    declared = {"n": FreeOption("1", lambda text: int(text) > 0, "a positive integer")}
    with pytest.raises(R3Error, match=r"option n='abc' is not valid; valid: a positive integer"):
        resolve_options("mine", declared, {"n": "abc"})
    assert resolve_options("mine", declared, {"n": 4}) == {"n": "4"}
