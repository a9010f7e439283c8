"""A small headless-Chromium driver for the page tests and benchmarks/view_open.py: the DevTools protocol over a pipe.

    with Browser() as browser:             # Debian's `chromium`, or $R3_CHROMIUM
        browser.open(Path("page.html"))
        assert browser.evaluate("document.querySelectorAll('.card').length") == 40
        browser.screenshot(Path("page.png"), width=1280, height=900)

`--remote-debugging-pipe` makes Chromium read protocol commands from fd 3 and write replies to fd 4 (JSON messages
ended by a NUL byte), so no port, no websocket library and nothing that another process could connect to. Each
browser gets a fresh profile folder and the flags that keep it off the network (no sync, component updates or
background requests). tests/view is on sys.path under pytest (`from browser import Browser`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--mute-audio", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    """The browser to drive: $R3_CHROMIUM, else Debian's chromium (or a Chrome) on PATH."""
    if os.environ.get("R3_CHROMIUM"):
        return os.environ["R3_CHROMIUM"]
    return next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))),
                None)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page, driven through the DevTools protocol."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0):
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise BrowserError("no chromium on PATH (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="r3-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def plumb() -> None:  # in the child: the protocol's fds 3 (commands in) and 4 (replies out)
            high_in, high_out = os.dup(to_browser), os.dup(from_browser)  # off 3 and 4 first: they may be taken
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen([self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        preexec_fn=plumb,  # noqa: PLW1509 - fds 3 and 4 are the protocol's
                                        close_fds=False, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.command("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable"):
            self.command(domain, session=True)

    # -- protocol ---------------------------------------------------------------------------------------------
    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BrowserError("chromium did not answer (it exited or timed out)")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its protocol pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def command(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events that arrive meanwhile are kept in `events`)."""
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = self.session
        os.write(self._write, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> dict[str, Any]:
        """The next `event` (or one already received since the last call)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, message in enumerate(self.events):
                if message.get("method") == event:
                    return self.events.pop(i)
            self.events.append(self._message(deadline))

    # -- what the tests use -----------------------------------------------------------------------------------
    def open(self, path: Path) -> None:
        """Load a file and wait until its load event fired (the page's script has run by then)."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.command("Page.navigate", session=True, url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); a thrown error raises here."""
        result = self.command("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                              awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')} "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def console_messages(self) -> list[str]:
        """What the page logged or threw so far (console calls and uncaught exceptions)."""
        out = []
        for event in self.events:
            if event.get("method") == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"]))
            elif event.get("method") == "Runtime.exceptionThrown":
                out.append(event["params"]["exceptionDetails"].get("text", "exception"))
        return out

    def screenshot(self, path: Path, width: int = 1280, height: int = 900) -> Path:
        self.command("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                     deviceScaleFactor=1, mobile=False)
        data = self.command("Page.captureScreenshot", session=True, format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.command("Browser.close")
                self.process.wait(timeout=10)
        except (BrowserError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            for fd in (self._read, self._write):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
