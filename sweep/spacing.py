"""`sweep.content_weight.spacing: even`: the in-betweens placed after the keyframes.

On a log scale some stretches of a sweep barely change the image (often the photo
end) while others change it fast, so the movie lingers, then jumps. Under `even` the
keyframes run first, as hidden jobs of their own (`JOB/.keyframes`, ordinary sweeps
of the keyframes' content weights, so the store, resume and Ray treat them like any
job); then `morph.even_layout` gives each segment between two keyframes a share of
the in-betweens in proportion to how much its keyframes differ, the keyframes are
copied into their jobs at their new places, and the in-betweens run as usual.

The artists of one photo share one layout (their differences summed), so their frames
keep equal content weights and the artist comparison still pairs them by weight. A
job's weights are known once the keyframes of its photo are done; they are derived
from the stored (uint8) keyframes alone, so a resumed run finds the same ones.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from . import atomic
from .layout import keyframes_dir, snapshot_dir
from .morph import even_layout, even_spacing, keyframes_of
from .plan import Job, Plan
from .records import FrameResult
from .store import JobStore


def is_even(plan: Plan) -> bool:
    return even_spacing(plan.config)


def keyframe_job(job: Job) -> Job:
    """The hidden job of `job`'s keyframes: every frame of it is a keyframe."""
    return dataclasses.replace(job, relative_dir=keyframes_dir(job.relative_dir),
                               weights=[job.weights[k] for k in job.keyframes],
                               keyframes=list(range(len(job.keyframes))))


def keyframe_plan(plan: Plan) -> Plan:
    """The sweep of every job's keyframes, run before the jobs themselves."""
    return dataclasses.replace(plan, jobs=[keyframe_job(job) for job in plan.jobs])


def placed_jobs(jobs: Sequence[Job], stores: Sequence[JobStore]) -> list[tuple[Job, list[FrameResult]]] | None:
    """The jobs of one photo with their shared even weights and keyframe indices, each
    with its keyframes as frames of it, from `stores`, the stores of their hidden
    keyframe jobs; None while a keyframe is not done (one failed): the in-betweens of
    that photo wait for a later run."""
    first = jobs[0]
    placed = _layout(stores, [first.weights[k] for k in first.keyframes], len(first.weights))
    if placed is None:
        return None
    weights, keys, stored = placed
    result = []
    for job, (images, records) in zip(jobs, stored):
        frames = [FrameResult(index=key, content_weight=weights[key], image=image,
                              content_loss=float(record["content_loss"]), style_loss=float(record["style_loss"]),
                              tv_loss=float(record.get("tv_loss", 0.0)), iterations=int(record.get("iterations", 0)))
                  for key, image, record in zip(keys, images, records)]
        result.append((dataclasses.replace(job, weights=list(weights), keyframes=list(keys)), frames))
    return result


def copy_snapshots(run_dir: Path, relative_dir: str, position: int, index: int) -> None:
    """Copy the progress snapshots (movie.progress_every) of keyframe `position` of the
    hidden job to those of frame `index` of job `relative_dir`, so that JOB/progress.gif
    can show a keyframe taking shape too."""
    source = snapshot_dir(Path(run_dir) / keyframes_dir(relative_dir), position)
    target = snapshot_dir(Path(run_dir) / relative_dir, index)
    for snapshot in sorted(source.glob("*.png")) if source.is_dir() else ():
        atomic.write_bytes(target / snapshot.name, snapshot.read_bytes())


def placed_weights(run_dir: Path, relative_dirs: Sequence[str], config) -> list[float] | None:
    """The even content weights that the jobs `relative_dirs` (the artists of one photo)
    of the run in `run_dir` share, None while their keyframes are not all done."""
    weights = config.content_weights()
    stores = [JobStore(Path(run_dir) / keyframes_dir(relative_dir)) for relative_dir in relative_dirs]
    placed = _layout(stores, [weights[k] for k in keyframes_of(config)], len(weights))
    return None if placed is None else placed[0]


def _layout(stores: Sequence[JobStore], key_weights: list[float], count: int):
    """(weights, keyframe indices, per store (its keyframe images, their records)) from
    the stored keyframes, or None while one is missing."""
    stored = []
    for store in stores:
        records = {record["index"]: record for record in store.records()}
        if any(index not in records for index in range(len(key_weights))):
            return None
        stored.append(([store.image(index) for index in range(len(key_weights))],
                       [records[index] for index in range(len(key_weights))]))
    weights, keys = even_layout(key_weights, [images for images, _ in stored], count)
    return weights, keys, stored
