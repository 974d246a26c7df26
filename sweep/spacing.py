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
from the stored (uint8) keyframes alone, so a resumed run finds the same ones. A
photo whose keyframe failed stays on the log grid for that run; frames stored for
another placement than the current one are dropped and optimised again.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Sequence

from . import atomic
from .layout import keyframes_dir, same_weights, snapshot_dir
from .morph import even_layout, keyframes_of
from .plan import Job, Plan
from .images import read_png
from .integrity import is_number
from .records import FrameResult
from .store import JobStore


def keyframe_job(job: Job) -> Job:
    """The hidden job of `job`'s keyframes: every frame of it is a keyframe."""
    return dataclasses.replace(job, relative_dir=keyframes_dir(job.relative_dir),
                               weights=[job.weights[k] for k in job.keyframes],
                               keyframes=list(range(len(job.keyframes))))


def keyframe_plan(plan: Plan) -> Plan:
    """The sweep of every job's keyframes, run before the jobs themselves."""
    return dataclasses.replace(plan, jobs=[keyframe_job(job) for job in plan.jobs])


def placed_jobs(jobs: Sequence[Job], stores: Sequence[JobStore],
                failure: Callable[[str, int], str]) -> tuple[str, list[tuple[Job, list[FrameResult]]]]:
    """The jobs of one photo with their shared even weights and keyframe indices, each
    with its keyframes as frames of it, from `stores`, the stores of their hidden
    keyframe jobs, after the placement: "even", or "log" while a keyframe is missing
    (it failed: `failure(hidden job, index)` is its message). Then the photo stays on
    the log grid, its keyframe a failed frame, so the other frames carry on; a later run
    whose keyframes all succeed places it evenly and makes its frames again."""
    first = jobs[0]
    key_weights = [first.weights[k] for k in first.keyframes]
    stored = [_stored_keyframes(store, len(key_weights)) for store in stores]
    layout = _even(key_weights, [images for images, _ in stored], len(first.weights))
    placement = "log" if layout is None else "even"
    weights, keys = (first.weights, first.keyframes) if layout is None else layout
    placed = []
    for job, (images, records) in zip(jobs, stored):
        frames = []
        for position, (key, image, record) in enumerate(zip(keys, images, records)):
            if image is None:
                message = failure(keyframes_dir(job.relative_dir), position)
                frames.append(FrameResult(index=key, content_weight=weights[key], image=None, content_loss=math.nan,
                                          style_loss=math.nan, tv_loss=math.nan, iterations=0, status="failed",
                                          message=message))
                continue
            frames.append(_stored_result(key, weights[key], image, record))
        placed.append((dataclasses.replace(job, weights=list(weights), keyframes=list(keys)), frames))
    return placement, placed


def stale_frames(job: Job, store: JobStore, placement: str, stored_placement: str | None) -> set[int]:
    """Frames of `job` stored for another placement: all of them after a change between
    "log" (a keyframe had failed, so its in-betweens started from the photo) and "even";
    else those whose weight is not the one `job` has at their index (an artist of the
    photo changed, which moves the shared placement)."""
    records = store.records()
    if stored_placement not in (None, placement):
        return {record["index"] for record in records}
    return {record["index"] for record in records
            if record["index"] >= len(job.weights)
            or not same_weights([record["content_weight"]], [job.weights[record["index"]]])}


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
    key_weights = [weights[k] for k in keyframes_of(config)]
    stored = [_stored_keyframes(JobStore(Path(run_dir) / keyframes_dir(relative_dir)), len(key_weights))[0]
              for relative_dir in relative_dirs]
    layout = _even(key_weights, stored, len(weights))
    return None if layout is None else layout[0]


def restorable_keyframes(hidden: JobStore, job: JobStore, key_weights: Sequence[float]) -> list[FrameResult]:
    """The keyframes missing from the hidden job `hidden` (its folder deleted, say) that
    `job` holds as frames of its own, whose copies they are: a keyframe keeps its content
    weight wherever the placement puts it, and no in-between has a keyframe's weight. Put
    back, they are not optimised again, and the frames built on them stay valid. The copy
    has the keyframe's weight exactly (both are the same float, written by this run), so
    a frame whose weight is only within the weights' tolerance of it is never taken; a
    weight that more than one of `job`'s frames has (an edited record) names no copy
    either. Such a keyframe is optimised again."""
    images, _ = _stored_keyframes(hidden, len(key_weights))
    missing = [position for position, image in enumerate(images) if image is None]
    if not missing:
        return []
    copies = [record for record in job.check()[0] if _has_losses(record)]
    restored = []
    for position in missing:
        weight = key_weights[position]
        matches = [record for record in copies if record["content_weight"] == weight]
        if len(matches) == 1:
            restored.append(_stored_result(position, weight, read_png(job.directory / matches[0]["file"]), matches[0]))
    return restored


def drop_uncopyable(store: JobStore) -> set[int]:
    """Drop the keyframes of a hidden job whose records lack their losses (a damaged
    frames.json that still names the PNG): they cannot be copied into their job, so the
    keyframe pass makes them again. Returns their indices."""
    lost = {record["index"] for record in store.records() if not _has_losses(record)}
    store.drop(lost)
    return lost


def _stored_result(index: int, weight: float, image, record: dict) -> FrameResult:
    """A stored frame as the FrameResult that made it."""
    return FrameResult(index=index, content_weight=weight, image=image, content_loss=float(record["content_loss"]),
                       style_loss=float(record["style_loss"]), tv_loss=float(record.get("tv_loss", 0.0)),
                       iterations=int(record.get("iterations", 0)))


def _has_losses(record: dict) -> bool:
    return all(is_number(record.get(key)) for key in ("content_loss", "style_loss"))


def _even(key_weights: list[float], images: Sequence[Sequence], count: int) -> tuple[list[float], list[int]] | None:
    """`morph.even_layout` of the jobs' keyframe `images`, None while one is missing."""
    if any(image is None for job in images for image in job):
        return None
    return even_layout(key_weights, images, count)


def _stored_keyframes(store: JobStore, count: int) -> tuple[list, list]:
    """(images, records) of keyframes 0 .. count - 1 as `store` holds them; None for one
    that is missing or damaged."""
    records = {record["index"]: record for record in store.check()[0] if _has_losses(record)}
    return ([read_png(store.directory / records[index]["file"]) if index in records else None
             for index in range(count)],
            [records.get(index) for index in range(count)])
