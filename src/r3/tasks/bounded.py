"""A user's `check` run with a bound on its CPU time: a check that never returns or that calls `sys.exit()` becomes
an incorrect verdict instead of a hung or ended run.

Why a thread and CPU time: r3 cannot kill a Python function it runs, but it can stop waiting for it. The check runs
in a daemon thread; the caller waits while that thread's own CPU time (`time.pthread_getcpuclockid`) stays under the
budget, so the verdict does not depend on how loaded the machine is, and a wall-clock backstop of `WALL_FACTOR`
times the budget covers a check that sleeps or blocks without using CPU. A check past its bound is abandoned (the
thread cannot be stopped; it is logged) and the caller gets `VerifierTimeout`. `SystemExit` and every other
exception of the check come back to the caller as exceptions, which `Task.verify` turns into error verdicts.

r3's own checks bound themselves (math runs sympy in a killable process; the others are linear scans), so only a
`check` defined outside r3 goes through here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

WALL_FACTOR = 10  # wall-clock backstop, as a multiple of the CPU budget: a check that sleeps or waits forever
POLL_SECONDS = 0.02
_inside = threading.local()  # set in a bounded check's thread: nested checks (a check calling verify) run inline


class CheckTimeout(Exception):
    """The check used more than its CPU budget (or ten times it in wall time); it was abandoned."""


def run_bounded(function: Callable[..., Any], args: tuple, cpu_seconds: float) -> Any:
    """`function(*args)` in a daemon thread; its result, or its exception (SystemExit included) raised here, or
    CheckTimeout when it runs past `cpu_seconds` of its own CPU time."""
    if getattr(_inside, "check", False):  # a check that calls another task's verify: already bounded, run inline
        return function(*args)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        _inside.check = True
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001 - SystemExit too: the caller decides what it means
            outcome["error"] = error
        finally:
            done.set()

    thread = threading.Thread(target=target, name="r3-user-check", daemon=True)
    thread.start()
    clock = _cpu_clock(thread)
    deadline = time.monotonic() + WALL_FACTOR * cpu_seconds
    while not done.wait(POLL_SECONDS):
        used = _cpu_time(clock)
        if (used is not None and used > cpu_seconds) or time.monotonic() > deadline:
            if done.is_set():
                break
            logger.warning("a task's check ran past its bound (%g s of CPU) and was abandoned; its thread keeps "
                           "running until it returns", cpu_seconds)
            raise CheckTimeout(f"check used over {cpu_seconds:g} s of CPU time")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _cpu_clock(thread: threading.Thread) -> int | None:
    try:
        return time.pthread_getcpuclockid(thread.ident)
    except (AttributeError, OSError, TypeError):  # not on this platform: wall-clock bound only
        return None


def _cpu_time(clock: int | None) -> float | None:
    if clock is None:
        return None
    try:
        return time.clock_gettime(clock)
    except OSError:  # the thread has just ended
        return None
