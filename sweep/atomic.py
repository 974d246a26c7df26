"""Atomic file writes: a reader, or a run killed at any instant, never sees half a file.

Everything `sweep` writes goes to a temporary name in the destination directory
and is then renamed over the final name (`os.replace` is atomic on POSIX).
Temporary names carry TEMP_MARKER so that `remove_stray_temporaries` can clean up
after a killed run.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

TEMP_MARKER = ".sweep-tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it over `path`.

    The temporary keeps the final suffix so that writers that pick a format from
    the extension (imageio, PIL, matplotlib) still work.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_MARKER, suffix=final.suffix, dir=final.parent)
    try:
        # mkstemp creates 0600; outputs get the mode a plain open() would give (0644 under umask 022).
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
            handle.flush()
            os.fsync(handle.fileno())


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
