"""Paths inside a run directory, checked without following symbolic links, and file kinds checked before reading.

Why: a run directory is the user's folder too. A subfolder that is a symlink to a folder elsewhere, a symlinked
`.r3.lock` or a manifest name whose parent was replaced by a link would make r3 write, create or delete outside the
run. So every name of a run is resolved component by component with `lstat` (a link anywhere below the run's root is
refused or left alone), and the last open uses `O_NOFOLLOW` (a link swapped in at the end is not followed either).
The root itself may be a link: the user chose it, as with `--out runs -> /scratch/runs`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from r3.errors import R3Error

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def link_on_the_way(root: Path, relative: str) -> Path | None:
    """The first entry of `relative` below `root` that is a symbolic link, or something else than a folder where a
    folder is needed; None when the whole way is plain folders (or does not exist yet)."""
    current = root
    parts = relative.split("/")
    for depth, part in enumerate(parts, start=1):
        current = current / part
        status = lstat_or_none(current)
        if status is None:
            return None
        if stat.S_ISLNK(status.st_mode) or (depth < len(parts) and not stat.S_ISDIR(status.st_mode)):
            return current
    return None


def refuse_links(root: Path, relative: str) -> None:
    """One line naming the symlink (or file in the way) on the way to `relative`; r3 never writes through one."""
    culprit = link_on_the_way(root, relative)
    if culprit is not None:
        kind = "a symbolic link" if culprit.is_symlink() else "not a folder"
        raise R3Error(f"{culprit} is {kind}; r3 never writes through one: move it away or choose another output "
                      "directory")


def is_regular(path: Path) -> bool:
    """A regular file (not a link to one, not a device, FIFO or folder)."""
    status = lstat_or_none(path)
    return status is not None and stat.S_ISREG(status.st_mode)


def remove_file(root: Path, relative: str) -> bool:
    """Delete `relative` below `root` if it is a regular file reached through plain folders; True when deleted."""
    if link_on_the_way(root, relative) is not None or not is_regular(root / relative):
        return False
    (root / relative).unlink()
    return True


def remove_empty_folder(root: Path, relative: str) -> bool:
    """Delete the folder `relative` below `root` if it is a plain, empty folder; True when deleted."""
    target = root / relative
    status = lstat_or_none(target)
    if link_on_the_way(root, relative) is not None or status is None or not stat.S_ISDIR(status.st_mode):
        return False
    try:
        target.rmdir()
    except OSError:  # not empty: a user's file is in it
        return False
    return True


def open_no_follow(path: Path, flags: int, mode: int = 0o666) -> int:
    """os.open that refuses a symbolic link in the last place (ELOOP) and names the path in its one-line error."""
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise R3Error(f"{path} is a symbolic link; r3 never writes through one") from None
        raise


def check_input_file(path: str | Path, what: str, limit: int | None = None) -> Path:
    """A file r3 is about to read: it must be a regular file (not a FIFO that would block, a device that never
    ends, a folder), and at most `limit` bytes when given. One line naming the file and the problem otherwise."""
    path = Path(path).expanduser()
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise R3Error(f"{what} {path}: no such file") from None
    except OSError as error:
        raise R3Error(f"{what} {path}: cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(status.st_mode):
        raise R3Error(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise R3Error(f"{what} {path} is not a regular file (a device, FIFO or socket); r3 reads only files")
    if limit is not None and status.st_size > limit:
        raise R3Error(f"{what} {path} is {status.st_size / 2**20:.1f} MiB, more than the {limit / 2**20:.0f} MiB "
                      "r3 reads from such a file; is it the right file?")
    return path


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name the same file (hard links and symlinks included): same device and inode."""
    try:
        a, b = os.stat(first), os.stat(second)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
