"""One crash-safe run directory for every r3 command that writes results (eval, mine, forgetting, train, demo).

    with RunDir.open(out, "eval", identity, overwrite=False) as run:   # locked until closed
        appender = run.appender("episodes.jsonl")                       # torn last line repaired, fsynced appends
        run.write_atomic("summary.json", text)                           # tmp + fsync + rename + fsync(dir)

Why one module: three stores written separately differed in locking, fsync and identity checks, and the same
rerun could resume, refuse or mix results depending on the command. Here every command follows ONE rule:

- `run.json` records the run's identity (its arguments, plus fingerprints of the data rows and the model files, and
  whatever the caller adds, e.g. a chat-template fingerprint) and a manifest of the files and folders the run wrote.
- A rerun whose identity equals the recorded one resumes (finished or not). A different identity is refused with
  what differs, field by field, on one line; except when the run has written nothing yet (every file it owns is
  empty), where the new identity simply takes over, so a typo in a first command never blocks the corrected one.
- `overwrite` deletes only what the manifest lists: regular files (never a symlink, device or FIFO) and folders the
  run created, once empty. It never deletes the directory itself, a folder it did not create or a foreign file.
- A file the run is about to write that exists but is not in the manifest (a foreign `failures.jsonl`, say) is
  never replaced: the run is refused. Names are recorded in the manifest before the file is created (write-ahead),
  so a kill between the two leaves nothing unaccounted for.
- An exclusive `fcntl.flock` on `.r3.lock` refuses a second process on the same directory with one line.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Self

from r3.errors import R3Error, shorten
from r3.rundir.files import (
    Appender,
    dumps_line,
    fsync_dir,
    os_error,
    read_json_lines,
    truncate,
    write_atomic,
)
from r3.rundir.fingerprints import fingerprint_file, fingerprint_model, fingerprint_rows

try:  # advisory lock (POSIX); on other systems two processes are not kept apart
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

__all__ = ["RUN_FILE", "Appender", "RunDir", "check_writable", "describe_differences", "dumps_line",
           "fingerprint_file", "fingerprint_model", "fingerprint_rows", "fsync_dir", "read_json_lines", "truncate",
           "write_atomic"]

RUN_FILE, LOCK_FILE, META_KEY = "run.json", ".r3.lock", "r3_run"
FORMAT_VERSION = 1


def check_writable(path: str | Path, what: str = "--out") -> None:
    """Raise a one-line R3Error unless `path` is, or can be created as, a writable directory. Changes nothing.

    For the configuration's validation before anything loads: a missing parent, a file in the way or a read-only
    folder is reported here, not after an hour of model loading.
    """
    path = Path(path).expanduser()
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise R3Error(f"{what} {path} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise R3Error(f"{what} {path} is not writable")
        return
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise R3Error(f"{what} {path}: {parent} is a broken symbolic link")
        parent = parent.parent
    if not parent.is_dir():
        raise R3Error(f"{what} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise R3Error(f"{what} {path} cannot be created: {parent} is not writable")


@dataclass
class RunDir:
    """An open, locked run directory. Use `RunDir.open` (or `RunDir.check` to validate without touching disk)."""

    path: Path
    kind: str
    identity: dict[str, Any]
    resumed: bool = False
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    _lock: BinaryIO | None = None
    _appenders: list[Appender] = field(default_factory=list)

    @classmethod
    def check(cls, path: str | Path, kind: str, identity: dict[str, Any], *, overwrite: bool = False,
              free: Iterable[str] = (), label: Callable[[str], str] = str,
              work_files: Iterable[str] | None = None) -> bool:
        """Whether opening would resume (True) or start afresh (False); raises what `open` would refuse. Read-only:
        for refusing a run before a slow model load. `open` checks again under the lock."""
        path = Path(path).expanduser()
        check_writable(path)
        previous = _read_run_file(path, kind)
        if previous is None or overwrite:
            return False
        return _decide(path, kind, previous, identity, set(free), label, work_files)

    @classmethod
    def open(cls, path: str | Path, kind: str, identity: dict[str, Any], *, overwrite: bool = False,
             free: Iterable[str] = (), label: Callable[[str], str] = str,
             work_files: Iterable[str] | None = None) -> RunDir:
        """Create or resume the run of `kind` in `path` and lock it (see the module docstring for the rule).

        `free` names identity keys that may change between sessions (speed knobs such as batch_size); `label`
        renders a key in messages (e.g. `--max-samples` for a CLI flag). `work_files` names the files whose content
        means work was done (default: every file of the manifest); while they are empty, new arguments take over.
        """
        path = Path(path).expanduser()
        check_writable(path)
        created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise os_error(path, error) from None
        identity = json.loads(json.dumps(identity, default=str))  # the form it has once read back from run.json
        run = cls(path=path, kind=kind, identity=identity)
        run._acquire_lock()
        try:
            run._start(_read_run_file(path, kind), overwrite, set(free), label, work_files)
        except BaseException:
            run.close()
            if created and not any(path.iterdir()):  # nothing of ours or anyone's: leave no empty folder behind
                path.rmdir()
            raise
        return run

    # ---------------------------------------------------------------- files of the run
    def claim(self, *names: str) -> list[Path]:
        """Record `names` (relative paths) as written by this run, before they are written. Refuses a name that exists
        but was not written by this run, and a name outside the directory. Creates (and records) parent folders."""
        paths = []
        new = []
        for name in names:
            relative = _relative(name)
            target = self.path / relative
            if relative not in self.files:
                if target.exists() or target.is_symlink():
                    raise R3Error(f"{target} exists but was not written by this r3 run; move it away or choose "
                                  "another output directory")
                new.append(relative)
            paths.append(target)
        if new:
            for relative in new:
                self._make_parents(Path(relative).parent)
            self.files.extend(new)
            self._save()
        return paths

    def write_atomic(self, name: str, data: str | bytes) -> Path:
        (target,) = self.claim(name)
        write_atomic(target, data)
        return target

    def write_json(self, name: str, record: Any) -> Path:
        text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        return self.write_atomic(name, text)

    def appender(self, name: str, *, repair: bool = True) -> Appender:
        """An `Appender` on `name`; with `repair`, a torn last line (a kill mid-append) is cut off first."""
        (target,) = self.claim(name)
        if repair and target.exists():
            _, good = read_json_lines(target)
            if good < target.stat().st_size:
                logger.warning("%s: dropping a partly written last line", target)
                truncate(target, good)
        appender = Appender(target)
        self._appenders.append(appender)
        fsync_dir(target.parent)
        return appender

    def close(self) -> None:
        for appender in self._appenders:
            appender.close()
        self._appenders.clear()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- internals
    def _acquire_lock(self) -> None:
        try:
            self._lock = open(self.path / LOCK_FILE, "ab")  # noqa: SIM115 - held (locked) until close()
        except OSError as error:
            raise os_error(self.path, error) from None
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):  # e.g. ENOLCK on some NFS mounts
                logger.warning("%s: cannot lock %s (%s); two processes on it would not be kept apart", self.path,
                               LOCK_FILE, error.strerror or error)
                return
            self._lock.close()
            self._lock = None
            raise R3Error(f"{self.path} is in use by another process (an r3 run holds {LOCK_FILE}); wait for it "
                          "to finish or choose another output directory") from None

    def _start(self, previous: dict[str, Any] | None, overwrite: bool, free: set[str],
               label: Callable[[str], str], work_files: Iterable[str] | None) -> None:
        if previous is not None and overwrite:
            self._remove_owned(previous)
            previous = None
        if previous is not None:
            meta = previous[META_KEY]
            self.files, self.dirs = list(meta.get("files", [])), list(meta.get("dirs", []))
            self._remove_stale_temporaries()
            if _decide(self.path, self.kind, previous, self.identity, free, label, work_files):
                self.resumed = True
                self.identity = {k: v for k, v in previous.items() if k != META_KEY}
                logger.info("%s: resuming the %s run there", self.path, self.kind)
                return
            logger.info("%s: the earlier %s run wrote nothing yet; starting with the new arguments", self.path,
                        self.kind)
        self._save()
        fsync_dir(self.path)

    def _remove_stale_temporaries(self) -> None:
        """`.NAME.PID.tmp` files that a killed atomic write of one of the run's files left behind (we hold the lock,
        so no r3 process is writing them now)."""
        for name in self.files:
            target = self.path / name
            for stale in target.parent.glob(f".{target.name}.*.tmp"):
                if stale.is_file() and not stale.is_symlink():
                    logger.info("removing %s, left by an interrupted write", stale)
                    stale.unlink()

    def _remove_owned(self, previous: dict[str, Any]) -> None:
        """Delete what the manifest lists: regular files only, then recorded folders that are left empty."""
        meta = previous[META_KEY]
        for name in meta.get("files", []):
            target = self.path / _relative(name)
            if target.is_symlink() or (target.exists() and not target.is_file()):
                logger.warning("%s: not a regular file; --overwrite leaves it alone", target)
                continue
            target.unlink(missing_ok=True)
        for name in sorted(meta.get("dirs", []), key=lambda n: n.count("/"), reverse=True):
            target = self.path / _relative(name)
            if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
                target.rmdir()
        (self.path / RUN_FILE).unlink(missing_ok=True)
        fsync_dir(self.path)
        self.files, self.dirs = [], []

    def _make_parents(self, relative: Path) -> None:
        parts = [p for p in relative.parts if p not in ("", ".")]
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            folder = self.path / name
            if folder.is_dir():
                continue
            if name not in self.dirs:
                self.dirs.append(name)
                self._save()  # write-ahead: recorded before it exists
            try:
                folder.mkdir()
            except OSError as error:
                raise os_error(folder, error) from None

    def _save(self) -> None:
        meta = {"kind": self.kind, "version": FORMAT_VERSION, "files": self.files, "dirs": self.dirs}
        record = {**self.identity, META_KEY: meta}
        write_atomic(self.path / RUN_FILE, json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _decide(path: Path, kind: str, previous: dict[str, Any], identity: dict[str, Any], free: set[str],
            label: Callable[[str], str], work_files: Iterable[str] | None = None) -> bool:
    """True: same identity, resume. False: different, but the run wrote nothing yet. Else refuse (R3Error)."""
    recorded = {k: v for k, v in previous.items() if k != META_KEY}
    current = json.loads(json.dumps(identity, default=str))
    differences = describe_differences(recorded, current, free=free, label=label)
    if not differences:
        return True
    names = previous[META_KEY].get("files", []) if work_files is None else list(work_files)
    if not any((path / _relative(n)).is_file() and (path / _relative(n)).stat().st_size > 0 for n in names):
        return False
    raise R3Error(f"{path} holds an r3 {kind} run with other settings ({'; '.join(differences)}); rerun with the same "
                  "arguments to resume, or pass --overwrite (deletes only that run's files), or choose another "
                  "output directory")


def describe_differences(previous: dict[str, Any], current: dict[str, Any], *, free: Iterable[str] = (),
                         label: Callable[[str], str] = str) -> list[str]:
    """'KEY NEW (was OLD)' for every differing leaf; nested keys are joined with dots (model_files.config.json...)."""
    free = set(free)
    old, new = dict(_flatten(previous)), dict(_flatten(current))
    differing = []
    for key in sorted(set(old) | set(new)):
        if key.split(".")[0] in free or old.get(key) == new.get(key):
            continue
        top = key.split(".")[0]
        name = label(top) + key[len(top):]
        now, was = shorten(new.get(key, "(absent)"), 60), shorten(old.get(key, "(absent)"), 60)
        differing.append(f"{name} {now} (was {was})")
    return differing


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _read_run_file(path: Path, kind: str) -> dict[str, Any] | None:
    """The recorded run.json, None when there is none; a one-line R3Error when it is unreadable or not ours."""
    run_file = path / RUN_FILE
    if not run_file.exists() and not run_file.is_symlink():
        return None
    if run_file.is_symlink() or not run_file.is_file():
        raise R3Error(f"{run_file} is not a regular file; choose another output directory")
    try:
        record = json.loads(run_file.read_bytes())
    except (OSError, ValueError, RecursionError) as error:
        raise R3Error(f"{run_file} is not readable JSON ({shorten(str(error), 100)}); it was edited or is not an r3 "
                      "run: move it away or choose another output directory") from None
    meta = record.get(META_KEY) if isinstance(record, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("files", []), list):
        raise R3Error(f"{run_file} was not written by this version of r3 (no '{META_KEY}' section); move it away or "
                      "choose another output directory")
    if meta.get("kind") != kind:
        raise R3Error(f"{path} holds an r3 {meta.get('kind')!r} run, not a {kind} run; choose another output "
                      "directory")
    for name in meta.get("files", []) + meta.get("dirs", []):
        _relative(name, source=run_file)
    return record


def _relative(name: str, source: Path | None = None) -> str:
    """A manifest name: relative, inside the run directory (no '..', not absolute)."""
    parts = Path(str(name)).parts
    if not isinstance(name, str) or not parts or Path(name).is_absolute() or ".." in parts:
        where = f"{source}: " if source else ""
        raise R3Error(f"{where}{name!r} is not a path inside the run directory")
    return "/".join(parts)
