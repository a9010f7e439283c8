"""What produced a record: r3's version, Python, the field's libraries, the git commit, when and how it was run.

    provenance()                  # {"r3": "0.1.0", "python": "3.12.3", "packages": {"torch": "2.13.0", ...},
                                  #  "git": {"commit": "3c4ce81...", "dirty": false}, "started": "2026-12-06T...",
                                  #  "command": "r3 eval --model ..."}

Every record r3 writes carries it: run.json (in its `r3_run` section, beside the manifest, never in the run's identity,
so a resumed run is not refused because a library was upgraded; each session that opened the run is listed), the eval
summary.json, the mining statistics, the forgetting results, train_summary.json and the model card.

Cheap by design: versions come from installed metadata (importlib.metadata; nothing heavy is imported) and the commit
from the files under `.git` when r3 runs from a clone; git itself is asked only whether the tree is dirty, with a short
time-out, and its absence is no error. Everything but `started` is computed once per process.
"""

from __future__ import annotations

import functools
import logging
import platform
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# distribution names, as pip knows them, whose versions a record names when they are installed
PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate", "peft", "vllm", "math-verify",
            "huggingface_hub", "tokenizers", "deepspeed", "lm_eval")
GIT_TIMEOUT_S = 2.0


def now() -> str:
    """The current time as ISO 8601 in UTC, to the second: what `started` holds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(started: str | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    """The versions, commit, start time (`started`, default now) and command line (`argv`, default sys.argv) of
    this process, as a JSON-ready dict (a fresh copy: callers may add to it)."""
    import r3

    record: dict[str, Any] = {"r3": r3.__version__, "python": platform.python_version(),
                              "packages": dict(package_versions())}
    git = git_state()
    if git:
        record["git"] = dict(git)
    record["started"] = started or now()
    record["command"] = command_line(sys.argv if argv is None else argv)
    return record


@functools.cache
def package_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) of each of PACKAGES that is installed, in that order."""
    found = []
    for name in PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def command_line(argv: list[str]) -> str:
    """argv as one shell-quoted line, with the program shown by its name (`r3 eval ...`, not a venv path)."""
    if not argv:
        return ""
    program = Path(argv[0]).name
    return shlex.join([program, *argv[1:]])


@functools.cache
def git_state() -> tuple[tuple[str, Any], ...]:
    """(("commit", sha), ("dirty", bool | None)) when r3 is imported from a git clone, else ()."""
    root = _clone_root(Path(__file__).resolve().parent)
    if root is None:
        return ()
    commit = _head_commit(root)
    if commit is None:
        return ()
    return (("commit", commit), ("dirty", _dirty(root)))


def _clone_root(start: Path) -> Path | None:
    """The work tree above r3's source holding a `.git` (a folder, or a file in a worktree), if any."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
        if (folder / "site-packages").is_dir() or folder.name == "site-packages":  # an installed wheel: no clone
            return None
    return None


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    try:  # a worktree or submodule: ".git" is a file "gitdir: PATH"
        text = dot_git.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    path = Path(text.removeprefix("gitdir:").strip())
    return path if path.is_absolute() else (root / path).resolve()


def _head_commit(root: Path) -> str | None:
    """HEAD's commit, read from the files (loose ref, then packed-refs); None when they cannot be read."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None  # a detached HEAD holds the commit itself
        ref = head.removeprefix("ref:").strip()
        common = git_dir
        if (git_dir / "commondir").exists():  # a worktree shares refs with the main clone
            common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in dict.fromkeys((git_dir, common)):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip() or None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    sha, _, name = line.partition(" ")
                    if name == ref:
                        return sha
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _dirty(root: Path) -> bool | None:
    """Whether tracked files differ from HEAD; None when git is absent, slow or fails."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip()) if done.returncode == 0 else None


def describe(record: dict[str, Any]) -> str:
    """One line for reports and the model card: 'r3 0.1.0 (git 3c4ce81, dirty), Python 3.12.3, torch 2.13.0, ...'."""
    parts = [f"r3 {record.get('r3', '?')}"]
    git = record.get("git") or {}
    if git.get("commit"):
        parts[0] += f" (git {git['commit'][:7]}{', uncommitted changes' if git.get('dirty') else ''})"
    parts.append(f"Python {record.get('python', '?')}")
    parts += [f"{name} {version}" for name, version in (record.get("packages") or {}).items()]
    return ", ".join(parts)


__all__ = ["PACKAGES", "command_line", "describe", "git_state", "now", "package_versions", "provenance"]
