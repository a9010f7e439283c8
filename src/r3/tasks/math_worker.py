"""math-verify in a small pool of worker processes that can be killed: a time bound that holds from any thread.

Why: math-verify bounds its own time with SIGALRM, which only works in the main thread of the main interpreter, and
sympy can run for minutes (or take all memory) on an innocent-looking answer. r3 verifies from worker threads (the
TRL reward, the episode engine), from multiprocessing pools (whose daemonic workers may not start
`multiprocessing` children) and from the main thread alike. So the sympy part runs in a separate Python process
started with `subprocess` (allowed anywhere, also inside a daemonic pool worker), talking JSON lines over pipes.

The time bound is CPU time, not wall time, so that a verdict is the same on a quiet machine and on one loaded many
times over: the worker arms a CPU-time timer (ITIMER_PROF) for each request and answers "timeout" when the request
used its budget, staying warm for the next one (a restart costs seconds of imports); RLIMIT_CPU ends a worker stuck
in a C call, and the caller's wall-clock backstop (`WALL_FACTOR` x the budget) kills one that waits without
computing. Either way the caller gets WorkerTimeout, and the next call a fresh worker.

Each process that verifies maths gets its own pool (keyed by pid, so a forked child never shares its parent's
pipes), of at most `MAX_WORKERS` workers, started on first use; they exit when their parent does (they read stdin
until it closes) and at interpreter exit.

    python -m r3.tasks.math_worker   # the worker itself: reads requests on stdin, answers on stdout
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_WORKERS = max(1, min(4, os.cpu_count() or 1))
START_TIMEOUT = 120.0  # seconds for a worker to import sympy and math-verify (a loaded machine is slow)
WALL_FACTOR = 20  # wall-clock backstop, x the CPU budget: only a worker that waits without computing reaches it
WALL_MARGIN = 30.0
MEMORY_LIMIT = 4 << 30  # address space of a worker, in bytes: a runaway sympy gets MemoryError, not the machine


class WorkerTimeout(Exception):
    """The worker did not answer within the time-out (it has been killed)."""


class WorkerFailed(Exception):
    """The worker died or could not be started."""


class _Worker:
    """One worker process and a line buffer over its stdout."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # the worker imports the same r3 as its caller
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "r3.tasks.math_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, close_fds=True)
        self.buffer = b""
        if self.read_line(time.monotonic() + START_TIMEOUT) != {"ready": True}:
            self.kill()
            raise WorkerFailed("the math-verify worker did not start")

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as error:
            self.kill()
            raise WorkerFailed(f"the math-verify worker is gone ({error})") from None
        return self.read_line(time.monotonic() + timeout)

    def read_line(self, deadline: float) -> dict[str, Any]:
        fd = self.process.stdout.fileno()
        poller = select.poll()  # not select.select: it fails on descriptors above 1023, common in training jobs
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            ready = poller.poll(max(0, int(remaining * 1000) + 1)) if remaining > 0 else []
            if not ready:
                self.kill()
                raise WorkerTimeout
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.kill()
                raise WorkerFailed("the math-verify worker exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Pool:
    """Idle workers of this process; a caller takes one (starting it if fewer than MAX_WORKERS exist)."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.count = 0
        self.condition = threading.Condition()

    def acquire(self) -> _Worker:
        with self.condition:
            while not self.idle and self.count >= MAX_WORKERS:
                self.condition.wait()
            if self.idle:
                return self.idle.pop()
            self.count += 1
        try:
            return _Worker()
        except BaseException:
            self.discard()
            raise

    def release(self, worker: _Worker) -> None:
        with self.condition:
            self.idle.append(worker)
            self.condition.notify()

    def discard(self) -> None:
        with self.condition:
            self.count -= 1
            self.condition.notify()

    def close(self) -> None:
        with self.condition:
            workers, self.idle = self.idle, []
            self.count -= len(workers)
        for worker in workers:
            worker.kill()


_pools: dict[int, _Pool] = {}
_pools_lock = threading.Lock()


def _pool() -> _Pool:
    with _pools_lock:
        pool = _pools.get(os.getpid())
        if pool is None:
            pool = _pools[os.getpid()] = _Pool()
        return pool


def _forget_pools_in_child() -> None:
    """A forked child starts with no pools and fresh locks (another thread may have held them at the fork)."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


@atexit.register
def _close_pools() -> None:
    pool = _pools.get(os.getpid())
    if pool is not None:
        pool.close()


def ask(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request to a worker and return its answer; WorkerTimeout when it used `timeout` seconds of CPU time
    (the worker stays warm for the next call) or ran past the wall-clock backstop (`WALL_FACTOR` x `timeout`: the
    worker is killed and the next call starts a fresh one); WorkerFailed if the worker died otherwise."""
    pool = _pool()
    worker = pool.acquire()
    try:
        answer = worker.ask({**request, "cpu": timeout}, WALL_FACTOR * timeout + WALL_MARGIN)
    except WorkerFailed:
        worker.kill()
        pool.discard()
        if worker.process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):  # the kernel's CPU-time backstop
            raise WorkerTimeout from None
        raise
    except BaseException:
        worker.kill()
        pool.discard()
        raise
    pool.release(worker)
    if answer.get("timeout"):
        raise WorkerTimeout
    return answer


# --- the worker process ------------------------------------------------------------------------------------------

class _CPUTimeUp(BaseException):
    """Raised in the worker by SIGPROF when a request used its CPU budget. A BaseException, so that the broad
    `except Exception` inside sympy and math-verify cannot swallow it."""


def _on_cpu_time_up(signum: int, frame: Any) -> None:
    raise _CPUTimeUp


def _answer(request: dict[str, Any], handle: Any) -> dict[str, Any]:
    """The answer to one request within its CPU budget (`cpu`, seconds of this process's CPU time).

    ITIMER_PROF counts CPU time, not wall time, so the verdict is the same on a quiet and on a loaded machine; it
    re-fires every 50 ms of CPU in case a bare `except:` swallowed the first signal. RLIMIT_CPU is the backstop for
    a C call that never returns to Python (the kernel ends the process; the caller sees it as a time-out)."""
    budget = float(request.get("cpu") or 0)
    if budget > 0 and _CPU_TIMER:
        soft = int(sum(os.times()[:2]) + 2 * budget + 3)
        if _CPU_HARD == resource.RLIM_INFINITY or soft < _CPU_HARD:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, _CPU_HARD))
        signal.setitimer(signal.ITIMER_PROF, budget, 0.05)
    try:
        return handle(request)
    except _CPUTimeUp:
        return {"timeout": True}
    except Exception as error:  # noqa: BLE001 - MemoryError too: reported, and the caller's verdict says so
        return {"error": f"{type(error).__name__}: {str(error)[:200]}"}
    finally:
        if budget > 0 and _CPU_TIMER:
            try:
                signal.setitimer(signal.ITIMER_PROF, 0)
            except _CPUTimeUp:  # fired between the answer and disarming: the answer stands
                signal.setitimer(signal.ITIMER_PROF, 0)


def _serve() -> None:
    """Answer requests until stdin closes: {"op": "parse", "text"}, {"op": "verify", "gold", "pred"},
    {"op": "decimal", "gold", "value"}, each with an optional CPU budget {"cpu": seconds}."""
    global _CPU_TIMER, _CPU_HARD
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ValueError, OSError):
        pass
    try:
        signal.signal(signal.SIGPROF, _on_cpu_time_up)
        _CPU_HARD = resource.getrlimit(resource.RLIMIT_CPU)[1]
        _CPU_TIMER = True
    except (AttributeError, ValueError, OSError):  # no CPU timers here: the caller's wall-clock backstop only
        _CPU_TIMER = False
    logging.disable(logging.WARNING)  # math-verify warns on every call that its own timeout is off
    from r3.tasks.math_sympy import handle

    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        answer = _answer(json.loads(line), handle)
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


_CPU_TIMER = False
_CPU_HARD = -1


if __name__ == "__main__":
    _serve()
