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
  so a kill between the two leaves nothing unaccounted for. Names passed as `claims` are checked before the lock or
  run.json exists, and a fresh run that ends in an error before any result is removed (`discard`): a refusal
  writes nothing.
- Nothing is written, created or deleted through a symbolic link below the directory (a subfolder linked elsewhere,
  a linked `.r3.lock` or run file): writes are refused naming the link, deletions leave it alone (`r3.rundir.paths`).
  Temporary files of atomic writes (`.NAME.r3-tmp`) are manifest names too, so a resume removes only its own.
- An exclusive `fcntl.flock` on `.r3.lock` refuses a second process on the same directory with one line.
- `RunDir.attach` adds files to whatever run a directory holds (`r3 report` beside a training run); `remove_run`
  deletes one run's files (`r3 demo --overwrite` on its stage folders).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Self

from r3.errors import R3Error
from r3.rundir.files import (
    Appender,
    atomic_output,
    dumps_line,
    fsync_dir,
    os_error,
    read_json_lines,
    truncate,
    write_atomic,
)
from r3.rundir.fingerprints import fingerprint_file, fingerprint_model, fingerprint_rows
from r3.rundir.manifest import (
    META_KEY,
    RUN_FILE,
    decide,
    describe_differences,
    has_work,
    read_run_file,
    refuse_foreign,
    relative,
)
from r3.rundir.paths import (
    NONBLOCK,
    check_input_file,
    check_writable,
    is_regular,
    lstat_or_none,
    open_no_follow,
    refuse_links,
    remove_empty_folder,
    remove_file,
    same_file,
)

try:  # advisory lock (POSIX); on other systems two processes are not kept apart
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

__all__ = ["META_KEY", "RUN_FILE", "Appender", "RunDir", "atomic_output", "check_input_file", "check_writable",
           "describe_differences", "dumps_line", "fingerprint_file", "fingerprint_model", "fingerprint_rows",
           "fsync_dir", "read_json_lines", "remove_run", "same_file", "truncate", "write_atomic"]

LOCK_FILE = ".r3.lock"
FORMAT_VERSION = 1
TEMPORARY_SUFFIX = ".r3-tmp"  # `.NAME.r3-tmp`: the one temporary file of NAME's atomic writes (manifest: temporaries)


def temporary_name(name: str) -> str:
    """The manifest name of the temporary file that atomic writes of `name` go through."""
    folder, _, base = name.rpartition("/")
    return f"{folder}/.{base}{TEMPORARY_SUFFIX}" if folder else f".{base}{TEMPORARY_SUFFIX}"


@dataclass
class RunDir:
    """An open, locked run directory. Use `RunDir.open` (or `RunDir.check` to validate without touching disk)."""

    path: Path
    kind: str
    identity: dict[str, Any]
    resumed: bool = False
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    temporaries: list[str] = field(default_factory=list)  # `.NAME.r3-tmp` of the files written atomically
    sessions: list[dict[str, Any]] = field(default_factory=list)  # r3.provenance of each process that opened it
    _lock: BinaryIO | None = None
    _appenders: list[Appender] = field(default_factory=list)
    _fresh: bool = False  # this session started the run (no result of an earlier one is in it)
    _created: tuple[bool, bool] = (False, False)  # whether this session created the folder, the lock file

    @classmethod
    def check(cls, path: str | Path, kind: str, identity: dict[str, Any], *, overwrite: bool = False,
              free: Iterable[str] = (), label: Callable[[str], str] = str,
              work_files: Iterable[str] | None = None, claims: Iterable[str] = ()) -> bool:
        """Whether opening would resume (True) or start afresh (False); raises what `open` would refuse. Read-only:
        for refusing a run before a slow model load. `open` checks again under the lock."""
        path = Path(path).expanduser()
        check_writable(path)
        previous = read_run_file(path, kind)
        refuse_foreign(path, [relative(name) for name in claims])
        if previous is None or overwrite:
            return False
        return decide(path, kind, previous, identity, set(free), label, work_files)

    @classmethod
    def open(cls, path: str | Path, kind: str, identity: dict[str, Any], *, overwrite: bool = False,
             free: Iterable[str] = (), label: Callable[[str], str] = str,
             work_files: Iterable[str] | None = None, claims: Iterable[str] = ()) -> RunDir:
        """Create or resume the run of `kind` in `path` and lock it (see the module docstring for the rule).

        `free` names identity keys that may change between sessions (speed knobs such as batch_size); `label`
        renders a key in messages (e.g. `--max-samples` for a CLI flag). `work_files` names the files whose content
        means work was done (default: every file of the manifest); while they are empty, new arguments take over.
        `claims` names the files the run will write: one that exists but was not written by it is refused before
        anything is created (no lock, no run.json: a refusal writes nothing), then they are claimed.
        """
        identity = json.loads(json.dumps(identity, default=str))  # the form it has once read back from run.json
        return cls._locked(path, kind, identity, lambda run: run._start(read_run_file(run.path, kind), overwrite,
                                                                        set(free), label, work_files), claims)

    @classmethod
    def attach(cls, path: str | Path, kind: str, claims: Iterable[str] = ()) -> RunDir:
        """Lock `path` to add files to the r3 run it holds, whatever its kind and identity (which stay as they are);
        a directory without one becomes a run of `kind`. For writers beside a run, such as `r3 report` in a
        training run: its files join that run's manifest, and a file no r3 run wrote is still never replaced."""
        return cls._locked(path, kind, {}, lambda run: run._adopt(read_run_file(run.path, None)), claims)

    @classmethod
    def _locked(cls, path: str | Path, kind: str, identity: dict[str, Any], start: Callable[[RunDir], None],
                claims: Iterable[str] = ()) -> RunDir:
        path = Path(path).expanduser()
        check_writable(path)
        claims = [relative(name) for name in claims]
        refuse_foreign(path, claims)
        created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise os_error(path, error) from None
        run = cls(path=path, kind=kind, identity=identity)
        run._created = (created, lstat_or_none(path / LOCK_FILE) is None)
        try:
            run._acquire_lock()
            start(run)
            if claims:
                run.claim(*claims)
        except BaseException:
            run.discard()
            if run._created[1]:  # refused while opening: not even the lock it created stays
                remove_file(path, LOCK_FILE)
            raise
        return run

    # ---------------------------------------------------------------- files of the run
    def claim(self, *names: str) -> list[Path]:
        """Record `names` (relative paths) as written by this run, before they are written. Refuses a name that exists
        but was not written by this run, a name outside the directory and a symbolic link on the way to it.
        Creates (and records) parent folders."""
        paths = []
        new = []
        for name in names:
            name = relative(name)
            refuse_links(self.path, name)
            target = self.path / name
            status = lstat_or_none(target)
            if name not in self.files:
                if status is not None:
                    raise R3Error(f"{target} exists but was not written by this r3 run; move it away or choose "
                                  "another output directory")
                new.append(name)
            elif status is not None and not stat.S_ISREG(status.st_mode):
                raise R3Error(f"{target} is not a regular file any more; r3 does not write over it")
            paths.append(target)
        if new:
            for name in new:
                self._make_parents(Path(name).parent)
            self.files.extend(new)
            self._save()
        return paths

    def write_atomic(self, name: str, data: str | bytes) -> Path:
        """Write the run's file `name` whole: through its own temporary file, fsynced, renamed (see files.py)."""
        (target,) = self.claim(name)
        temporary = temporary_name(relative(name))
        if temporary not in self.temporaries:  # recorded before it is ever created, like the file itself
            refuse_links(self.path, temporary)
            if lstat_or_none(self.path / temporary) is not None:
                raise R3Error(f"{self.path / temporary} exists but was not written by this r3 run; move it away")
            self.temporaries.append(temporary)
            self._save()
        write_atomic(target, data, temporary=self.path / temporary)
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

    def discard(self) -> None:
        """Close a run that ends in an error (a refusal, a model that fails) before any result: when this session
        started it and every file it wrote is still empty, remove them, its run.json, the lock and the folder it
        created, so that a refused command writes nothing. A run with results, or an earlier run's, is only closed."""
        fresh = self._fresh and not self.resumed and not has_work(self.path, self.files)
        if fresh and self._lock is not None:
            for name in self.files:
                if is_regular(self.path / name) and (self.path / name).stat().st_size == 0:
                    remove_file(self.path, name)
            self.files = [n for n in self.files if lstat_or_none(self.path / n) is not None]
            if not self.files:
                self._remove_owned()
        self.close()
        created_folder, created_lock = self._created
        if created_lock and lstat_or_none(self.path / RUN_FILE) is None:
            remove_file(self.path, LOCK_FILE)
        if created_folder:
            remove_empty_folder(self.path.parent, self.path.name)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    # ---------------------------------------------------------------- internals
    def _acquire_lock(self) -> None:
        lock = self.path / LOCK_FILE
        try:  # never through a link (it would create its target outside the run), never blocking on a FIFO
            descriptor = open_no_follow(lock, os.O_RDWR | os.O_CREAT | NONBLOCK)
        except OSError as error:
            raise os_error(lock, error) from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise R3Error(f"{lock} is not a regular file; move it away or choose another output directory")
        self._lock = os.fdopen(descriptor, "r+b")
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
        if previous is not None:
            self._load(previous)
        if previous is not None and overwrite:
            self._remove_owned()
            previous = None
        if previous is not None:
            if decide(self.path, self.kind, previous, self.identity, free, label, work_files):
                self.resumed = True
                self.identity = {k: v for k, v in previous.items() if k != META_KEY}
                logger.info("%s: resuming the %s run there", self.path, self.kind)
            else:
                logger.info("%s: the earlier %s run wrote nothing yet; starting with the new arguments", self.path,
                            self.kind)
        from r3.provenance import provenance  # versions and command of this session, never part of the identity

        self._fresh = not self.resumed

        self.sessions = [*(self.sessions if self.resumed else []), provenance()]
        self._save()
        fsync_dir(self.path)

    def _adopt(self, previous: dict[str, Any] | None) -> None:
        if previous is None:
            self._save()
            return
        self._load(previous)
        self.kind = previous[META_KEY].get("kind", self.kind)
        self.identity = {k: v for k, v in previous.items() if k != META_KEY}
        self.resumed = True

    def _load(self, previous: dict[str, Any]) -> None:
        """Take the recorded manifest, and remove what a killed atomic write of the run left (its own temporary
        files, listed in the manifest; we hold the lock, so no r3 process is writing them now)."""
        meta = previous[META_KEY]
        self.files = [relative(n) for n in meta.get("files", [])]
        self.dirs = [relative(n) for n in meta.get("dirs", [])]
        temporaries = meta.get("temporaries", [])
        self.temporaries = [relative(n) for n in temporaries if isinstance(n, str)] if isinstance(temporaries,
                                                                                                   list) else []
        sessions = meta.get("sessions", [])
        self.sessions = [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []
        for name in [*self.temporaries, temporary_name(RUN_FILE)]:
            if remove_file(self.path, name):
                logger.info("removed %s, left by an interrupted write", self.path / name)

    def _remove_owned(self) -> None:
        """Delete what the manifest lists: regular files reached through plain folders, then recorded folders
        that are left empty. A symbolic link, or anything behind one, is left alone."""
        for name in self.temporaries:
            remove_file(self.path, name)
        for name in self.files:
            if not remove_file(self.path, name) and lstat_or_none(self.path / name) is not None:
                logger.warning("%s: not a regular file in a plain folder of the run; --overwrite leaves it alone",
                               self.path / name)
        for name in sorted(self.dirs, key=lambda n: n.count("/"), reverse=True):
            remove_empty_folder(self.path, name)
        remove_file(self.path, RUN_FILE)
        fsync_dir(self.path)
        self.files, self.dirs, self.temporaries = [], [], []

    def _make_parents(self, folder: Path) -> None:
        parts = [p for p in folder.parts if p not in ("", ".")]
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            target = self.path / name
            status = lstat_or_none(target)
            if status is not None:
                if stat.S_ISLNK(status.st_mode) or not stat.S_ISDIR(status.st_mode):
                    refuse_links(self.path, name)
                    raise R3Error(f"{target} is not a folder; move it away or choose another output directory")
                continue
            if name not in self.dirs:
                self.dirs.append(name)
                self._save()  # write-ahead: recorded before it exists
            try:
                target.mkdir()
            except OSError as error:
                raise os_error(target, error) from None

    def _save(self) -> None:
        meta = {"kind": self.kind, "version": FORMAT_VERSION, "files": self.files, "dirs": self.dirs,
                "temporaries": self.temporaries, "sessions": self.sessions}
        record = {**self.identity, META_KEY: meta}
        write_atomic(self.path / RUN_FILE, json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                     temporary=self.path / temporary_name(RUN_FILE))


def remove_run(path: str | Path) -> bool:
    """Delete what the r3 run in `path` wrote (the files and folders its manifest lists, its run.json and lock),
    and `path` itself when that leaves it empty; a user's file in it stays, and so does the folder then. False when
    `path` holds no r3 run (nothing is deleted). For `r3 demo --overwrite`, whose stages are runs of their own."""
    path = Path(path).expanduser()
    status = lstat_or_none(path)
    if status is None or not stat.S_ISDIR(status.st_mode) or read_run_file(path, None) is None:
        return False
    with RunDir.attach(path, "unknown") as run:
        run._remove_owned()
    remove_file(path, LOCK_FILE)
    remove_empty_folder(path.parent, path.name)
    return True
