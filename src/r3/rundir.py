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
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from r3.errors import R3Error, shorten

try:  # advisory lock (POSIX); on other systems two processes are not kept apart
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

RUN_FILE, LOCK_FILE, META_KEY = "run.json", ".r3.lock", "r3_run"
FORMAT_VERSION = 1


def dumps_line(record: Any) -> bytes:
    """One JSONL line as UTF-8 that never fails: a lone surrogate is written as its JSON escape (read back equal)."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


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


def fsync_dir(directory: Path) -> None:
    """Make the creation, rename or removal of entries durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace `path` so that readers see the old or the new contents, never a mix, also after a power cut.

    Refuses to replace anything but a regular file (a symlink, /dev/full, a FIFO): renaming over it would
    destroy what the user pointed there.
    """
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise R3Error(f"{path} exists and is not a regular file; r3 does not replace it")
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _os_error(path, error) from None
    fsync_dir(path.parent)


def read_json_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete JSON-object lines of an append-only file and the byte size of that good prefix.

    A partial or unparsable LAST line is what a kill mid-append leaves: it is left out (the caller truncates). A bad
    line followed by more lines cannot come from a crash (lines are only appended), so it is reported.
    """
    if not path.exists():
        return [], 0
    records, offset, bad = [], 0, None
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if bad is not None:
                raise R3Error(f"{path}, line {bad[0]}: corrupt line in the middle of the file ({bad[1]})")
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("no newline at its end")
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, RecursionError) as error:
                bad = (number, shorten(str(error), 120))
                continue
            records.append(record)
            offset += len(line)
    return records, offset


def truncate(path: Path, size: int) -> None:
    """Cut `path` to `size` bytes (durably); a no-op when it is already that size or absent."""
    if not path.exists() or path.stat().st_size == size:
        return
    with open(path, "r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


class Appender:
    """An append-only JSONL file: `append` writes whole lines, flushes and fsyncs before returning."""

    def __init__(self, path: Path):
        self.path = path
        self._handle: BinaryIO | None = open(path, "ab")

    def append(self, records: Iterable[Any]) -> int:
        """Append one line per record durably; returns the file size after them."""
        assert self._handle is not None, f"{self.path} is closed"
        self._handle.write(b"".join(dumps_line(record) for record in records))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return self._handle.tell()

    def tell(self) -> int:
        assert self._handle is not None, f"{self.path} is closed"
        return self._handle.tell()

    def write_raw(self, data: bytes) -> None:
        """Buffered bytes (no fsync): for stores that order their own flushes, like mining's two files."""
        assert self._handle is not None, f"{self.path} is closed"
        self._handle.write(data)

    def sync(self) -> None:
        assert self._handle is not None, f"{self.path} is closed"
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


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
            raise _os_error(path, error) from None
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

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- internals
    def _acquire_lock(self) -> None:
        try:
            self._lock = open(self.path / LOCK_FILE, "ab")
        except OSError as error:
            raise _os_error(self.path, error) from None
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
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
            if _decide(self.path, self.kind, previous, self.identity, free, label, work_files):
                self.resumed = True
                self.identity = {k: v for k, v in previous.items() if k != META_KEY}
                logger.info("%s: resuming the %s run there", self.path, self.kind)
                return
            logger.info("%s: the earlier %s run wrote nothing yet; starting with the new arguments", self.path,
                        self.kind)
        self._save()
        fsync_dir(self.path)

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
                raise _os_error(folder, error) from None

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
    raise R3Error(f"{path} holds a {kind} run with other settings ({'; '.join(differences)}); rerun with the same "
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


def _os_error(path: Path, error: OSError) -> R3Error:
    """An OSError while writing the run as one line naming the path (full disk, read-only, permission)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "read-only file system",
              errno.EACCES: "permission denied", errno.EDQUOT: "disk quota exceeded"}.get(error.errno,
                                                                                         error.strerror or str(error))
    return R3Error(f"cannot write {path}: {reason}")


# ---------------------------------------------------------------- fingerprints for identities
SMALL_FILE = 4 * 1024 * 1024  # hashed whole; larger files (weights) by size, mtime and their first MiB


def fingerprint_file(path: Path) -> dict[str, Any]:
    """Size, modification time and a hash: whole-file for small files, the first MiB for large ones."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(SMALL_FILE if stat.st_size <= SMALL_FILE else 1024 * 1024))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()[:16]}


def fingerprint_model(model: str) -> dict[str, Any]:
    """What identifies a model: every file of a local directory (not recursing into checkpoints), or, for a hub id,
    the cached snapshot's commit when there is one. A replaced model directory changes this."""
    path = Path(model).expanduser()
    if path.is_dir():
        return {name.name: fingerprint_file(name) for name in sorted(path.iterdir())
                if name.is_file() and not name.name.startswith(".")}
    if path.is_file():
        return {path.name: fingerprint_file(path)}
    return {"hub_id": model, "revision": _cached_revision(model)}


def _cached_revision(repo_id: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an invalid repo id or no hub library: the id alone identifies it
        return None
    if isinstance(found, str) and "/snapshots/" in found:
        return found.split("/snapshots/")[1].split("/")[0]
    return None


def fingerprint_rows(rows: Iterable[Any]) -> dict[str, Any]:
    """The number of rows and a hash of their contents, in order: changed, added or reordered rows change it."""
    digest, count = hashlib.sha256(), 0
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=True).encode("ascii"))
        digest.update(b"\n")
        count += 1
    return {"rows": count, "sha256": digest.hexdigest()[:16]}
