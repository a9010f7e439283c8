"""The math worker's verdict does not depend on how loaded the machine is: its bound is CPU time, not wall time.

Property: an answer that needs C seconds of CPU gets the same verdict with a budget of 2C on a quiet machine and with
the worker sharing one core with four busy processes (which stretches its wall time about five-fold: a wall-clock
bound of 2C would fail it). Also: an answer past its budget times out under load and without, and the worker stays
warm after a time-out (the next verdict does not pay a restart). Nothing here asserts on a wall-clock duration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from r3.tasks import math_worker

pytestmark = pytest.mark.skipif(not (hasattr(os, "sched_setaffinity") and os.path.isdir("/proc")),
                                reason="needs Linux CPU affinity and /proc")


def costly(number: int) -> dict:
    """~0.4 s of sympy parsing on a 2020s core; a new number each time, since math-verify caches what it parsed."""
    return {"op": "verify", "gold": str(number), "pred": "(" * 8 + str(number) + ")" * 8}


HOGS = 4


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def one_core():
    """This process and the workers it starts from here on, pinned to one core, with a fresh worker pool."""
    before = os.sched_getaffinity(0)
    core = min(before)
    math_worker._close_pools()
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        math_worker._close_pools()
        os.sched_setaffinity(0, before)


def worker_pid() -> int:
    math_worker.ask({"op": "parse", "text": "1"}, 60)  # starts the worker (imports) outside any measurement
    return math_worker._pool().idle[0].process.pid


def start_hogs(core: int) -> list[subprocess.Popen]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
    for hog in hogs:
        os.sched_setaffinity(hog.pid, {core})
    return hogs


def stop(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        hog.kill()
        hog.wait()


def ask(request: dict, budget: float) -> str:
    try:
        return "correct" if math_worker.ask(request, budget)["correct"] else "incorrect"
    except math_worker.WorkerTimeout:
        return "timeout"


def test_the_verdict_is_the_same_on_a_loaded_core(one_core):
    pid = worker_pid()
    used = cpu_seconds(pid)
    quiet = ask(costly(11), 60)
    cost = max(cpu_seconds(pid) - used, 0.1)
    budget = 2 * cost
    assert quiet == "correct" and ask(costly(12), budget) == "correct"
    hogs = start_hogs(one_core)
    try:
        loaded = ask(costly(13), budget)
        over_budget = ask(costly(14), cost / 4)
    finally:
        stop(hogs)
    assert loaded == "correct"
    assert over_budget == "timeout" == ask(costly(15), cost / 4)
    assert math_worker._pool().idle[0].process.pid == pid  # still the same warm worker after the time-outs
