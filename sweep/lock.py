"""One writer per run directory: `sweep run` and `sweep pick` hold DIR/.sweep.lock.

Two processes writing one run directory would mix frames of two configs and delete
each other's temporaries. The lock is an exclusive `fcntl.flock` on DIR/.sweep.lock,
held for the whole of a `run` or a `pick` (a re-render included); the file holds the
holder's pid and command so that a refused process and `sweep status` can name it.
The kernel drops a flock when its holder dies
(even under kill -9), so a lock file left by a dead process is simply taken over;
the pid in it is only a name for the message, never a test of liveness. The holder
removes the file when it lets go.

Linux and macOS only (fcntl); on a network filesystem without flock support the
lock cannot be taken and the run is refused with that reason.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from .errors import SweepError

LOCK_FILE = ".sweep.lock"
# How long a process taking the lock waits out another's shared lock: `holder`'s glance.
STATUS_GLANCE_S = 0.5


@contextlib.contextmanager
def run_dir_lock(directory: str | os.PathLike, command: str = "run") -> Iterator[Path]:
    """Hold the lock of `directory` (created if missing) for the duration of the block;
    a `SweepError` naming the holder's pid when another process holds it."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"cannot write to output directory {directory}: {exc.strerror or exc}") from None
    path = directory / LOCK_FILE
    fd = _acquire(path, command)
    try:
        yield path
    finally:
        # Unlink before unlocking: a process that opened the old file and then gets the
        # lock sees that its file is no longer the one at `path`, and starts over.
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def holder(directory: str | os.PathLike) -> str | None:
    """Who holds the lock of `directory` now ("`sweep run` (pid N)"), or None. It writes
    nothing, so that `sweep status` can ask; its shared lock lasts a moment, which a
    process taking the lock then waits out (`_acquire`)."""
    try:
        fd = os.open(Path(directory) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)   # dropped when fd closes
        return None
    except BlockingIOError:
        return _who(fd, command_too=True)
    except OSError:
        return None
    finally:
        os.close(fd)


def _who(fd: int, command_too: bool = False) -> str:
    """The lock's holder as its file names it: "pid N", or "`sweep CMD` (pid N)"."""
    pid, command = _read_holder(fd)
    if not pid:
        return "a process whose pid is not yet written"
    return f"`sweep {command}` (pid {pid})" if command_too else f"pid {pid}"


def _acquire(path: Path, command: str) -> int:
    patience = time.monotonic() + STATUS_GLANCE_S
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SweepError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _who(fd)
            os.close(fd)
            if time.monotonic() < patience:   # perhaps `sweep status` glancing at it
                time.sleep(0.01)
                continue
            raise SweepError(f"{path.parent} is in use by another sweep process ({who}); wait for it "
                             f"to finish, or stop it, then run again (or choose another --out)") from None
        except OSError as exc:
            os.close(fd)
            raise SweepError(f"cannot lock {path}: {exc.strerror or exc}") from None
        if _still_at(fd, path):
            _write_pid(fd, command)
            return fd
        os.close(fd)  # the holder removed this file as we opened it: take the new one


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _write_pid(fd: int, command: str) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
    except OSError:
        pass  # a full disk: the lock holds all the same, only the pid goes unnamed


def _read_holder(fd: int) -> tuple[int | None, str]:
    """(pid, command) as the holder wrote them; (None, "") when not yet written."""
    try:
        fields = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
        return (int(fields[0]), " ".join(fields[1:]) or "run") if fields else (None, "")
    except (OSError, ValueError):
        return None, ""
