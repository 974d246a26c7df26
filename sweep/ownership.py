"""Which files of a run directory `sweep` wrote: it never overwrites any other.

`sweep run config.yaml --out .` in the config's own directory used to overwrite the
user's `config.yaml` and `index.html`. The manifest now lists what the run owns
(`files`: paths relative to the run directory, a trailing `/` for a whole folder
such as `paint/frames/`; `picks`: what `sweep pick` wrote), and

- a run into a directory that holds files it does not own is refused, unless
  `--force`;
- even with `--force`, a file the run would write beside its jobs (config.yaml,
  index.html, a comparison) that exists and is not owned is never overwritten:
  the run is refused and names it. Inside a job's folder `--force` replaces the
  frames and what was rendered from them, as it always has for frames of another
  config (or of a lost manifest).

A manifest written before the list existed owns the standard layout of its jobs.
"""
from __future__ import annotations

import os
from pathlib import Path

from .atomic import TEMP_MARKER
from .errors import SweepError
from .layout import (CONFIG_FILE, FRAMES_DIR, MANIFEST_FILE, MOTION_FILE, MOVIE_KINDS, PROGRESS_DIR, PROGRESS_GIF,
                     RECORDS_FILE, REPORT_FILE, SHEET_FILE, compare_file, movie_file)
from .lock import LOCK_FILE

COMPARE_FILES = tuple(compare_file(kind) for kind in ("png", *MOVIE_KINDS))
RUN_FILES = (CONFIG_FILE, MANIFEST_FILE, REPORT_FILE, *COMPARE_FILES)
JOB_FILES = (RECORDS_FILE, MOTION_FILE, *(movie_file(kind) for kind in MOVIE_KINDS), SHEET_FILE, PROGRESS_GIF)
JOB_FOLDERS = (f"{FRAMES_DIR}/", f"{PROGRESS_DIR}/")


def planned(relative_dirs: list[str], movie_kinds: tuple[str, ...] = MOVIE_KINDS) -> list[str]:
    """Every path a run of these jobs may write (folders end in `/`), its movies and
    comparison movies of `movie_kinds` only (the config's `movie.formats`): a movie.mp4 of
    the user's in a folder whose runs only ever made GIFs is not sweep's."""
    skipped = {name for kind in MOVIE_KINDS if kind not in movie_kinds
               for name in (movie_file(kind), compare_file(kind))}
    paths = {name for name in RUN_FILES if name not in skipped}
    for relative_dir in relative_dirs:
        paths.update(f"{relative_dir}/{name}" for name in JOB_FILES + JOB_FOLDERS if name not in skipped)
        parent = Path(relative_dir).parent.as_posix()
        if parent != ".":  # a gallery: the photo's folder holds the artists' comparison
            paths.update(f"{parent}/{name}" for name in COMPARE_FILES if name not in skipped)
    return sorted(paths)


def owned(manifest: dict | None, relative_dirs: list[str], directory: Path) -> set[str]:
    """What the manifest says the run wrote (for an older manifest: the standard
    layout and the picks in the job folders)."""
    if not isinstance(manifest, dict) or not manifest:   # no manifest, or a new run's empty one
        return set()
    if "files" not in manifest:
        jobs = sorted(set(manifest.get("jobs", {})) | set(relative_dirs))
        picks = {p.relative_to(directory).as_posix() for d in jobs for p in (directory / d).glob("pick_*.png")}
        return set(planned(jobs)) | picks
    return set(manifest.get("files", [])) | set(manifest.get("picks", []))


def is_owned(relative: str, owned_paths: set[str]) -> bool:
    if relative in owned_paths:
        return True
    return any(entry.endswith("/") and relative.startswith(entry) for entry in owned_paths)


def check(directory: Path, manifest: dict | None, relative_dirs: list[str], force: bool,
          movie_kinds: tuple[str, ...] = MOVIE_KINDS) -> None:
    """Refuse a run that would overwrite, or (without --force) write among, files it does not own."""
    if not directory.is_dir():
        return
    owned_paths = owned(manifest, relative_dirs, directory)
    for path in planned(relative_dirs, movie_kinds):
        if _beside_jobs(path, relative_dirs) and (directory / path).exists() and not is_owned(path, owned_paths) \
                and not _looks_written_by_sweep(directory / path):
            raise SweepError(f"{directory / path} was not written by sweep, and sweep never overwrites "
                             f"such a file; choose another --out (or move the file away)")
    if force:
        return
    foreign = first_foreign(directory, owned_paths)
    if foreign is not None:
        raise SweepError(f"{directory} holds files that sweep did not write (such as {foreign}); choose an "
                         f"empty or new --out, or pass --force to write beside them")


def _looks_written_by_sweep(path: Path) -> bool:
    """A config.yaml or index.html that sweep wrote, in a run whose manifest was lost:
    the config is a resolved one (it reads back to the same text), the page our report."""
    try:
        text = path.read_text(encoding="utf-8")[:1_000_000]
    except (OSError, UnicodeDecodeError):
        return False
    if path.name == REPORT_FILE:
        return "&middot; sweep report</title>" in text[:4096]
    if path.name == CONFIG_FILE:
        from .config import parse_config
        try:
            return parse_config(text, base_dir=path.parent).to_yaml() == text
        except SweepError:
            return False
    return False


def _beside_jobs(path: str, relative_dirs: list[str]) -> bool:
    """A file outside every job folder (the manifest excepted: a damaged one is ours to replace)."""
    return path != MANIFEST_FILE and not any(path.startswith(f"{d}/") for d in relative_dirs)


def first_foreign(directory: Path, owned_paths: set[str]) -> str | None:
    """The first file under `directory` (relative path) that the run does not own, or None."""
    for root, folders, files in os.walk(directory):
        folders.sort()
        base = Path(root).relative_to(directory)
        for name in sorted(files):
            relative = (base / name).as_posix()
            if name == LOCK_FILE or name.startswith(TEMP_MARKER) or is_owned(relative, owned_paths):
                continue
            return relative
    return None


def record(manifest: dict, relative_dirs: list[str], directory: Path,
           movie_kinds: tuple[str, ...] = MOVIE_KINDS) -> None:
    """Note in the manifest that the run owns its planned paths (before writing them),
    besides what it owned already."""
    previous = owned(manifest, relative_dirs, directory) - set(manifest.get("picks", []))
    manifest["files"] = sorted(previous | set(planned(relative_dirs, movie_kinds)))


def pick_key(run_dir: Path, target: Path) -> str:
    """How the manifest names a pick: relative to the run directory when inside it."""
    target, run_dir = target.resolve(), run_dir.resolve()
    return target.relative_to(run_dir).as_posix() if target.is_relative_to(run_dir) else str(target)


def check_pick_target(run_dir: Path, manifest: dict | None, target: Path) -> str:
    """Refuse a `sweep pick --out` that would overwrite one of the run's own files, or a
    file that no earlier pick wrote; returns the pick's key for the manifest."""
    key = pick_key(run_dir, target)
    picks = set(manifest.get("picks", [])) if isinstance(manifest, dict) else set()
    if key in picks:
        return key
    files = set(manifest.get("files", [])) if isinstance(manifest, dict) else set()
    if not Path(key).is_absolute() and (is_owned(key, files) or key in RUN_FILES):
        raise SweepError(f"--out {target} is one of the run's own files; choose another path for the pick")
    if target.exists():
        raise SweepError(f"--out {target} exists and was not written by `sweep pick`; sweep never overwrites "
                         f"such a file: choose another path (or move the file away)")
    return key


def record_pick(manifest: dict, key: str) -> None:
    manifest["picks"] = sorted(set(manifest.get("picks", [])) | {key})
