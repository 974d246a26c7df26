"""What `--force` removes from a run directory, and what it never touches.

A run with `--force` replaces the frames of another config (or of a lost manifest):
each job's frames and what was rendered from them go, and the folders of jobs the new
config no longer has (a renamed artist) are removed once emptied. Only files named as
sweep names them are removed, and no folder is removed through a link or while it holds
anything else: the user's own files, and folders elsewhere linked into the run, stay.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .errors import SweepError
from .layout import (FRAMES_DIR, MOTION_FILE, MOVIE_KINDS, PROGRESS_DIR, PROGRESS_GIF, RECORDS_FILE, SHEET_FILE,
                     compare_file, is_frame_filename, is_snapshot_folder, movie_file, snapshot_step)


def discard_frames(run_dir: Path, relative_dirs: Iterable[str]) -> None:
    """Remove the frames of the jobs `relative_dirs` of the run in `run_dir`, their
    records, snapshots, movies, sheet and `motion.json`, and the run's comparisons.
    A file that cannot be removed stops the run with one `SweepError` line."""
    try:
        for relative_dir in sorted(relative_dirs):
            job = run_dir / relative_dir
            if _inside_run(relative_dir) and job.is_dir():
                _discard_job(run_dir, job)
        compared = {compare_file(kind) for kind in ("png", *MOVIE_KINDS)}
        for path in run_dir.rglob(compare_file("*")):
            if path.is_file() and path.name in compared:
                path.unlink()
    except OSError as exc:
        raise SweepError(f"cannot remove {exc.filename or run_dir}: {exc.strerror or exc}; --force could not "
                         f"replace the frames in {run_dir}") from None


def remove_emptied_folders(run_dir: Path, relative_dirs: Iterable[str]) -> None:
    """Remove the folders of the jobs `relative_dirs` (ones the run no longer has) that
    `discard_frames` emptied: `frames/`, `progress/`, the job's, then its parents up to
    `run_dir`, deepest jobs first (a job's `.keyframes` before the job)."""
    for relative_dir in sorted(relative_dirs, key=lambda name: len(Path(name).parts), reverse=True):
        job = run_dir / relative_dir
        if not _inside_run(relative_dir) or _through_link(run_dir, job) or not job.is_dir():
            continue
        for folder in (job / FRAMES_DIR, job / PROGRESS_DIR, job):
            _remove_if_empty(run_dir, folder)
        parent = job.parent
        while parent != run_dir and _remove_if_empty(run_dir, parent):
            parent = parent.parent


def remove_snapshots(folder: Path) -> None:
    """Remove the progress snapshots sweep wrote into a frame's `folder`
    (`layout.snapshot_filename`); anything else there stays."""
    for path in folder.iterdir() if folder.is_dir() else ():
        if snapshot_step(path.name) is not None and not path.is_dir():
            path.unlink()


def _discard_job(run_dir: Path, job: Path) -> None:
    frames = job / FRAMES_DIR
    for path in frames.iterdir() if frames.is_dir() else ():
        if is_frame_filename(path.name) and not path.is_dir():
            path.unlink()
    progress = job / PROGRESS_DIR
    for folder in progress.iterdir() if progress.is_dir() else ():
        if is_snapshot_folder(folder.name) and folder.is_dir() and not folder.is_symlink():
            remove_snapshots(folder)
            _remove_if_empty(run_dir, folder)
    for name in (RECORDS_FILE, MOTION_FILE, PROGRESS_GIF, *map(movie_file, MOVIE_KINDS), SHEET_FILE):
        (job / name).unlink(missing_ok=True)


def _inside_run(relative_dir: str) -> bool:
    """Whether a job folder named in a manifest lies inside the run: a damaged manifest
    must not make `--force` delete outside it."""
    parts = Path(relative_dir).parts
    return bool(parts) and not Path(relative_dir).is_absolute() and ".." not in parts


def _through_link(run_dir: Path, path: Path) -> bool:
    """Whether `path` (inside `run_dir`) or a folder between it and `run_dir` is a link."""
    while path != run_dir and path != path.parent:
        if path.is_symlink():
            return True
        path = path.parent
    return False


def _remove_if_empty(run_dir: Path, folder: Path) -> bool:
    """Remove `folder` if it is an empty folder not reached through a link; whether it
    was. Tidying up: a folder that cannot be removed is left."""
    try:
        if _through_link(run_dir, folder) or not folder.is_dir() or any(folder.iterdir()):
            return False
        folder.rmdir()
        return True
    except OSError:
        return False
