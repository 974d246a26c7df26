"""Atomic file writes: a reader, or a run killed at any instant, never sees half a file.

Everything `sweep` writes goes to a temporary name in the destination directory
and is then renamed over the final name (`os.replace` is atomic on POSIX).
Temporary names carry TEMP_MARKER so that `remove_stray_temporaries` can clean up
after a killed run.

A write that fails (a full disk, a quota, an I/O error) never reaches the rename:
the previous file stays, the temporary is removed, and the caller gets one
`SweepError` naming the path and the free space left. The temporary is flushed to
disk (`fsync`) before the rename, so that a filesystem which reports a full disk
only when the data is written back still fails here, not later.

Signals: the CLI turns SIGINT and SIGTERM into exceptions, which Python raises
between any two bytecodes. Creating a temporary up to the moment its cleanup is in
place, and the removal itself, therefore run in `signals_deferred` blocks: an
exception a signal raises meanwhile is held back to the end of the block, when the
temporary is already owned by a cleanup.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from .errors import SweepError

TEMP_MARKER = ".sweep-tmp-"


_deferring = 0                                  # depth of nested signals_deferred blocks
_pending: BaseException | None = None           # what a signal raised meanwhile


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back the exception of an interrupting signal until the block ends.

    The CLI's SIGINT/SIGTERM handler calls `interrupt`, which raises at once outside
    these blocks and records the exception inside them; it is raised when the
    outermost block ends. (Blocking the signals with pthread_sigmask would not do:
    the mask is per thread, and TensorFlow's threads would take the signal instead.)
    """
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers run in the main thread only: nothing to hold back here
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            exc, _pending = _pending, None
            raise exc


@contextlib.contextmanager
def probe_file(folder: str | os.PathLike, label: str = "") -> Iterator[str]:
    """A temporary empty file in `folder` (whether we may write there, and how its file
    system behaves), removed when the block ends; a signal cannot leave it behind."""
    with signals_deferred():
        fd, probe = tempfile.mkstemp(prefix=TEMP_MARKER + label, dir=folder)
        os.close(fd)
        try:
            yield probe
        finally:
            os.unlink(probe)


def interrupt(exc: BaseException) -> None:
    """Raise `exc` now, or at the end of the current signals_deferred block."""
    global _pending
    if _deferring:
        _pending = _pending or exc
        return
    raise exc


def write_failure(path: str | os.PathLike, exc: OSError) -> SweepError:
    """One line for a failed write: the path, the reason and the free space there; or,
    when a folder on the way is a file or a link to nothing, which one."""
    path = Path(path)
    blocker = _not_a_folder(path.parent)
    if blocker is not None:
        return SweepError(f"cannot write {path}: {blocker[0]} is {blocker[1]}, not a folder; move it away")
    reason = exc.strerror or str(exc) or type(exc).__name__
    return SweepError(f"cannot write {path}: {reason} ({free_space(path)} free there)")


def _not_a_folder(folder: Path) -> tuple[Path, str] | None:
    """The first of `folder` and the folders above it, from the top, that is a file or a
    link to nothing, with which of the two it is; None when there is none, or when a
    folder cannot be looked into (the write's own reason then stands)."""
    try:
        for step in [*reversed(folder.parents), folder]:
            if step.is_symlink() and not step.exists():
                return step, "a link to nothing"
            if step.exists() and not step.is_dir():
                return step, "a file"
    except OSError:
        return None
    return None


def free_space(path: Path) -> str:
    directory = path if path.is_dir() else path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return "unknown space"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if free >= size:
            return f"{free / size:.1f} {unit}"
    return f"{free} bytes"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it over `path`.

    The temporary keeps the final suffix so that writers that pick a format from
    the extension (imageio, PIL, matplotlib) still work. The body must write a
    non-empty file; an OSError in it, or an empty result, leaves `path` untouched
    and raises a `SweepError` (see the module docstring).
    """
    final = Path(path)
    tmp: Path | None = None
    try:
        # A signal's exception is held back until `tmp` is set, inside the `try` that removes it.
        with signals_deferred():
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=TEMP_MARKER, suffix=final.suffix, dir=final.parent)
            tmp = Path(tmp_name)
            try:
                # mkstemp creates 0600; outputs get the mode a plain open() would give (0644 under umask 022).
                os.fchmod(fd, 0o666 & ~_umask())
            finally:
                os.close(fd)
        yield tmp
        _sync_non_empty(tmp)
        os.replace(tmp, final)
    except BaseException as exc:
        if tmp is not None:
            with signals_deferred():
                tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_failure(final, exc) from None
        raise


def _sync_non_empty(tmp: Path) -> None:
    """Flush what the writer wrote to disk; an empty file is a failed write."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
        if os.fstat(handle.fileno()).st_size == 0:
            raise OSError(errno.EIO, "the writer produced an empty file")


def _umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, payload) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def remove_stray_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete temporaries left by a killed run anywhere under `directory`."""
    root = Path(directory)
    if not root.is_dir():
        return []
    stray = [p for p in root.rglob(f"{TEMP_MARKER}*") if p.is_file()]
    for path in stray:
        path.unlink(missing_ok=True)
    return stray
