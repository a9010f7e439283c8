"""Durable file primitives of a run directory: atomic replacement, append-only JSONL, torn-line repair.

Why fsync everywhere: a run that is killed, or a machine that loses power, must leave either the old or the new
contents of a file, and every line appended before the process moved on (see `r3.rundir`).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from r3.errors import R3Error, shorten
from r3.rundir.paths import open_no_follow


def dumps_line(record: Any) -> bytes:
    """One JSONL line as UTF-8 that never fails: a lone surrogate is written as its JSON escape (read back equal)."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


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


def write_atomic(path: Path, data: str | bytes, *, temporary: Path | None = None) -> None:
    """Replace `path` so that readers see the old or the new contents, never a mix, also after a power cut.

    Refuses to replace anything but a regular file (a symlink, /dev/full, a FIFO): renaming over it would
    destroy what the user pointed there. The temporary file is created exclusively and never through a link (a run
    directory passes its own, manifest-listed `temporary` name; others get a fresh random one), so a user's file
    that happens to have that name is never written over.
    """
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    with atomic_output(path, temporary) as handle:
        handle.write(payload)


@contextmanager
def atomic_output(path: Path, temporary: Path | None = None) -> Iterator[BinaryIO]:
    """Stream a whole file: written to an exclusive temporary file beside `path`, fsynced, and renamed over `path`
    only when the block ends without an error; otherwise the temporary file is removed and `path` is untouched (an
    old file is never truncated by a run that then fails). Refuses a `path` that is a link, device or FIFO."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise R3Error(f"{path} exists and is not a regular file; r3 does not replace it")
    if temporary is None:  # a run directory passes its own, manifest-listed name
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = open_no_follow(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        raise R3Error(f"{temporary} exists but was not written by this r3 run; move it away") from None
    except OSError as error:
        raise os_error(path, error) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise os_error(path, error) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
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
                    raise TypeError("not a JSON object")
            except (ValueError, TypeError, RecursionError) as error:
                bad = (number, shorten(str(error), 120))
                continue
            records.append(record)
            offset += len(line)
    return records, offset


def truncate(path: Path, size: int) -> None:
    """Cut `path` to `size` bytes (durably); a no-op when it is already that size or absent."""
    if not path.exists() or path.stat().st_size == size:
        return
    descriptor = open_no_follow(path, os.O_WRONLY)
    try:
        os.ftruncate(descriptor, size)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Appender:
    """An append-only JSONL file: `append` writes whole lines, flushes and fsyncs before returning."""

    def __init__(self, path: Path):
        self.path = path
        descriptor = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # never through a link
        self._handle: BinaryIO | None = os.fdopen(descriptor, "ab")

    def append(self, records: Iterable[Any]) -> int:
        """Append one line per record durably; returns the file size after them."""
        assert self._handle is not None, f"{self.path} is closed"
        try:
            self._handle.write(b"".join(dumps_line(record) for record in records))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:  # a full disk: the system's words and this file, on one line
            raise OSError(error.errno, error.strerror, str(self.path)) from None
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
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(self.path)) from None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def os_error(path: Path, error: OSError) -> R3Error:
    """An OSError while writing the run as one line naming the path (full disk, read-only, permission)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "read-only file system",
              errno.EACCES: "permission denied", errno.EDQUOT: "disk quota exceeded"}.get(error.errno,
                                                                                         error.strerror or str(error))
    return R3Error(f"cannot write {path}: {reason}")
