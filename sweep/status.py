"""`sweep status DIR`: what a run directory holds, what is missing, what failed.

Reads only what a run wrote (`config.yaml`, `manifest.json`, each job's
`frames.json` and PNGs); it neither imports Keras nor reads the input images, so
it answers in well under a second, also while a run is writing into DIR.
A frame is *done* when its PNG and its `frames.json` record both exist (the
store's own rule), *failed* when the manifest says so and it is not done, and
*missing* otherwise. A run whose frames are all done is *complete* once its movies,
sheets and report are there too; one whose lock a process holds is *in progress*.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import integrity
from .config import parse_config
from .morph import even_spacing, keyframes_of
from .errors import SweepError
from .layout import (CONFIG_FILE as CONFIG, KEYFRAMES_DIR, MANIFEST_FILE as MANIFEST, REPORT_FILE, SHEET_FILE,
                     compare_file, is_keyframes_job, keyframes_dir, movie_file)
from .lock import holder
from .identity import config_hash, recipe_differs
from .store import JobStore, read_json
from .weight_text import format_weight


@dataclass
class JobStatus:
    relative_dir: str
    weights: list[float]                       # every content weight, in frame order
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # index -> message
    missing: list[int] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)     # records or PNGs that cannot be used
    placed: bool = True   # False: spacing: even, whose weights are known once the keyframes are done
    hidden_keyframes: int = 0   # spacing: even: keyframes done in JOB/.keyframes/, not yet frames of the job
    keyframe_count: int = 0     # how many keyframes the job has

    @property
    def complete(self) -> bool:
        return not self.failed and not self.missing and not self.damaged


@dataclass
class RunStatus:
    directory: Path
    jobs: list[JobStatus]
    config_matches_manifest: bool
    movies: list[Path] = field(default_factory=list)
    made_by_other_recipe: bool = False   # sweep/identity.py FRAME_RECIPE
    unrendered: list[str] = field(default_factory=list)   # of a complete run: movies, sheets, report not there
    in_use_by: str | None = None   # "`sweep run` (pid N)" writing into it now (sweep/lock.py)

    @property
    def counts(self) -> tuple[int, int, int]:
        return (sum(len(j.done) for j in self.jobs), sum(len(j.failed) for j in self.jobs),
                sum(len(j.missing) for j in self.jobs))

    @property
    def complete(self) -> bool:
        return all(job.complete for job in self.jobs)


def _job_dirs(config) -> list[str]:
    """The jobs' relative directories, as plan.make_plan names them, without reading images."""
    from .plan import job_names

    try:
        return [relative_dir for _, _, _, relative_dir in job_names(config)]
    except SweepError:  # a glob that no longer matches: fall back on what the manifest lists
        return []


def _placed_weights(directory: Path, config, relative_dirs: list[str]) -> dict[str, list[float] | None]:
    """spacing: even: every job's weights, shared by its photo's jobs (the job folders
    beside it, sweep/layout.py), or None while that photo's keyframes are not all done."""
    from .spacing import placed_weights

    photos: dict[Path, list[str]] = {}
    for relative_dir in relative_dirs:
        photos.setdefault(Path(relative_dir).parent, []).append(relative_dir)
    placed = {photo: placed_weights(directory, jobs, config) for photo, jobs in photos.items()}
    return {relative_dir: placed[Path(relative_dir).parent] for relative_dir in relative_dirs}


def run_status(directory: str | Path) -> RunStatus:
    """The status of the run in `directory`; SweepError when it is not a run directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SweepError(f"{directory} is not a directory" if directory.exists()
                         else f"no such run directory: {directory}")
    config_path, manifest_path = directory / CONFIG, directory / MANIFEST
    if not config_path.is_file() or not manifest_path.is_file():
        raise SweepError(f"{directory} is not a sweep run directory (it needs {CONFIG} and {MANIFEST}, "
                         f"written by `sweep run`)")
    try:
        text = config_path.read_text(encoding="utf-8")
        # The saved config is resolved: absolute paths, every default filled in.
        config = parse_config(text, base_dir=directory, source=str(config_path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SweepError(f"cannot read {config_path}: {exc}") from None
    manifest = read_json(manifest_path, None)
    problem = integrity.manifest_problem(manifest)
    if problem:
        raise SweepError(f"{manifest_path} is damaged ({problem}); `sweep run --force` with this --out "
                         f"replaces the run's frames")
    weights = config.content_weights()
    # spacing: even keeps its keyframes in hidden jobs of their own (sweep/spacing.py)
    relative_dirs = _job_dirs(config) or [d for d in manifest["jobs"] if not is_keyframes_job(d)]
    placed = _placed_weights(directory, config, relative_dirs) if even_spacing(config) else {}
    jobs = []
    for relative_dir in relative_dirs:
        status = JobStatus(relative_dir=relative_dir, weights=weights)
        records, status.damaged = JobStore(directory / relative_dir).check()
        if even_spacing(config):
            status.weights, status.placed = placed[relative_dir] or weights, placed[relative_dir] is not None
            keyframes, problems = JobStore(directory / keyframes_dir(relative_dir)).check()
            status.damaged += [f"{KEYFRAMES_DIR}: {problem}" for problem in problems]
            status.hidden_keyframes = 0 if status.placed else len(keyframes)
            status.keyframe_count = len(keyframes_of(config))
        done = {record["index"] for record in records}
        noted = manifest["jobs"].get(relative_dir, {}).get("frames", {})
        for index in range(len(weights)):
            entry = noted.get(str(index), {})
            if index in done:
                status.done.append(index)
            elif entry.get("status") == "failed":
                status.failed[index] = entry.get("message", "")
            else:
                status.missing.append(index)
        jobs.append(status)
    movies = sorted(p for p in directory.rglob("*") if p.suffix in (".mp4", ".gif") and p.is_file()
                    and not p.name.startswith("."))
    status = RunStatus(directory=directory, jobs=jobs,
                       config_matches_manifest=manifest.get("config_hash") == config_hash(config),
                       movies=movies, in_use_by=holder(directory),
                       made_by_other_recipe=recipe_differs(manifest, lambda: any(job.done for job in jobs)))
    if status.complete:
        status.unrendered = _unrendered(directory, config.movie.formats, relative_dirs)
    return status


def _unrendered(directory: Path, formats: list[str], relative_dirs: list[str]) -> list[str]:
    """What the run renders once its frames are done and is not there: a run stopped while
    rendering (a full disk, a kill) leaves frames without their movies. Artists of one
    photo are compared beside their jobs, where the photo has two or more."""
    expected = [f"{job}/{name}" for job in relative_dirs for name in (*map(movie_file, formats), SHEET_FILE)]
    parents = [Path(job).parent for job in relative_dirs]
    for parent in dict.fromkeys(p for p in parents if parents.count(p) > 1):
        expected += [(parent / compare_file(kind)).as_posix() for kind in (*formats, "png")]
    return [path for path in [*expected, REPORT_FILE] if not (directory / path).is_file()]


def _ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    parts: list[str] = []
    for index in sorted(indices):
        if parts and index == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], index)
        else:
            parts.append((index, index))
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def format_status(status: RunStatus) -> str:
    done, failed, missing = status.counts
    total = done + failed + missing
    lines = [f"{status.directory}: {done} of {total} frames done, {failed} failed, {missing} missing"]
    if not status.config_matches_manifest:
        lines.append("  warning: config.yaml does not match the manifest's config hash (edited since the run?): "
                     "`sweep run` refuses to resume these frames unless --force, which makes them again")
    if status.made_by_other_recipe:
        lines.append("  warning: made by another version of sweep, whose frames differ from this one's: "
                     "`sweep run` refuses to resume these frames unless --force, which makes them again")
    for job in status.jobs:
        lines.append(f"  {job.relative_dir}: {len(job.done)} done, {len(job.failed)} failed, "
                     f"{len(job.missing)} missing")
        if job.missing:
            weights = (f"content weights {', '.join(format_weight(job.weights[i]) for i in job.missing)}"
                       if job.placed else f"content weights placed once all its keyframes are done; "
                                          f"{job.hidden_keyframes} of {job.keyframe_count} done so far")
            lines.append(f"    missing frames {_ranges(job.missing)} ({weights})")
        for problem in job.damaged:
            remedy = ("copies it back from the job's own frames, or optimises it again"
                      if problem.startswith(f"{KEYFRAMES_DIR}:") else "optimises it again")
            lines.append(f"    damaged: {problem} (the next run {remedy})")
        for index, message in sorted(job.failed.items()):
            lines.append(f"    failed frame {index} (content weight {format_weight(job.weights[index])}): {message}")
    if status.in_use_by:
        lines.append(f"in progress: {status.in_use_by} is writing into it")
    elif status.complete and status.unrendered:
        resumable = status.config_matches_manifest and not status.made_by_other_recipe
        lines.append(f"frames complete, but not rendered: {', '.join(status.unrendered)}; "
                     + ("rerun the same `sweep run` command with this --out to render them" if resumable else
                        "a rerun takes --force (see the warning above), which makes the frames again"))
    elif status.complete:
        lines.append("complete")
    elif status.made_by_other_recipe:
        lines.append("incomplete: rerun with --force to start again with this version of sweep")
    elif status.config_matches_manifest:
        lines.append("incomplete: rerun the same `sweep run` command with this --out to finish it")
    else:
        lines.append("incomplete: restore the run's config to finish it, or rerun with --force to start again")
    return "\n".join(lines)


__all__ = ["JobStatus", "RunStatus", "format_status", "run_status"]
