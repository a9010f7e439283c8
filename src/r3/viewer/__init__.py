"""`r3 view`: one self-contained HTML page to read what runs wrote: episodes, reflections, mined failures.

    r3 view runs/eval-before runs/eval-after runs/train runs/mine --out page.html
    r3.view(["runs/demo"], "page.html")          # a demo directory stands for its stages

The page opens from disk with no server and no network: its data is embedded as JSON and drawn by a small script
(page.html, view.css and view.js beside this module). Model output is untrusted, so the script only ever inserts it
as text, and the embedded JSON escapes `<`, `>` and `&`, so no `</script>` in a completion can end the data block.
What each run shows is read in `r3.viewer.runs` (eval, pairs of eval runs, mining) and `r3.viewer.training`.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from r3 import __version__
from r3.errors import R3Error
from r3.rundir.files import atomic_output
from r3.viewer.runs import comparison_section, eval_episodes, eval_section, mine_section, run_kind
from r3.viewer.training import train_section

logger = logging.getLogger(__name__)

DEMO_FILE = "demo.json"  # r3.demo.pipeline.SETTINGS_FILE: a directory holding it is a demo run
DEMO_STAGES = ("eval_before", "eval_after", "eval_control", "train", "control", "mine")
PAGE_MARKER = "<!-- r3 view: no request leaves this page"  # in page.html's head: how a page r3 wrote is known
READERS = {"mine": mine_section, "train": train_section}  # eval runs: eval_section, with their episodes read once


def expand(runs: list[str | Path]) -> list[Path]:
    """The run directories to show: each given one, a demo directory standing for its stages (in pipeline order)."""
    out: list[Path] = []
    for run in runs:
        path = Path(run)
        if (path / DEMO_FILE).is_file():
            stages = [path / name for name in DEMO_STAGES if (path / name).is_dir()]
            if not stages:
                raise R3Error(f"{path}: a demo directory with no finished stage yet")
            out += stages
        else:
            out.append(path)
    return out


def _names(paths: list[Path]) -> list[str]:
    """A short, distinct name per run: its folder's name, with the parent's when two runs share it."""
    names = [p.name or str(p) for p in paths]
    return [f"{p.parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def page_data(runs: list[str | Path]) -> dict[str, Any]:
    """Everything the page shows, JSON-ready: one section per run, and a comparison of the first eval run with each
    later one that evaluated the same problems (placed right after the first, where a reader looks first)."""
    paths = expand(runs)
    if not paths:
        raise R3Error("r3 view needs at least one run directory")
    kinds = [run_kind(path) for path in paths]  # every bad path is refused before anything slow is read
    names = _names(paths)
    episodes = {i: eval_episodes(path) for i, (kind, path) in enumerate(zip(kinds, paths)) if kind == "eval"}
    sections = [eval_section(path, name, episodes[i]) if kind == "eval" else READERS[kind](path, name)
                for i, (kind, path, name) in enumerate(zip(kinds, paths, names))]
    evals = sorted(episodes)
    comparisons = []
    for i in evals[1:]:
        first = evals[0]
        section = comparison_section((paths[first], names[first], episodes[first]), (paths[i], names[i], episodes[i]))
        if section is not None:
            comparisons.append(section)
    return {"version": __version__, "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "sections": comparisons + sections}


def embed_json(data: Any) -> str:
    """JSON safe inside a <script> element: `<`, `>`, `&` and the JavaScript line separators are escaped, so no
    text in the data can close the element or open a comment; JSON.parse reads the escapes back as the characters."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _asset(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def render(data: dict[str, Any], title: str = "r3 view") -> str:
    """The page: page.html with the stylesheet, the script and the data put in, in one pass (nothing inserted is
    scanned again, so a `{{...}}` inside a completion stays text)."""
    parts = {"title": html.escape(title), "css": _asset("view.css"), "script": _asset("view.js"),
             "data": embed_json(data)}
    return re.sub(r"\{\{(\w+)\}\}", lambda match: parts[match.group(1)], _asset("page.html"))


def write_page(runs: list[str | Path], out: str | Path) -> Path:
    """Write the page of `runs` to `out` (an .html file; its folder is created) and return its path."""
    out = Path(out)
    if out.is_dir():
        raise R3Error(f"--out {out} is a directory; give the page's file name, e.g. {out / 'view.html'}")
    _check_replaceable(out)
    data = page_data(runs)
    names = ", ".join(s["name"] for s in data["sections"] if s["kind"] != "compare")
    text = render(data, title=f"r3 view: {names}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as handle:
        handle.write(text.encode("utf-8"))
    logger.debug("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def _check_replaceable(out: Path) -> None:
    """An existing `out` is replaced only when it is a page r3 view wrote (its marker near the top): a user's file of
    the same name, or a symlink, is refused rather than overwritten (the rule every r3 writer follows)."""
    if out.is_symlink():
        raise R3Error(f"--out {out} is a symbolic link; r3 view does not write through links: give another file name")
    if not out.exists():
        return
    if not out.is_file():
        raise R3Error(f"--out {out} is not a regular file; give the page's file name")
    with out.open("rb") as handle:
        head = handle.read(2048)
    if PAGE_MARKER.encode() not in head:
        raise R3Error(f"--out {out} exists and is not a page r3 view wrote; r3 does not replace it: remove it or "
                      "choose another file name")


__all__ = ["embed_json", "page_data", "render", "write_page"]
