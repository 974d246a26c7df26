"""The optimisation-progress GIF of a job's balanced frame, from stored snapshots.

Reads only what `sweep.snapshots.ProgressSnapshots` wrote
(``JOB/progress/f007/s0040.png``) and ``JOB/frames.json``; writes
``JOB/progress.gif``: one GIF frame per snapshot in step order, each labelled
"step 40 / content weight 3.16", the last one held for `hold` seconds.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from sweep.errors import SweepError
from sweep.balance import balanced_position
from sweep.layout import PROGRESS_GIF, load_records, snapshot_dir, snapshot_step
from sweep.render.frames import draw_label, upscale_factor, upscale_nearest
from sweep.weight_text import format_weight
from sweep.render.movie import MIN_SHORT_SIDE, encode_movie


def snapshot_steps(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of every snapshot in `folder`, in step order ([] if none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        step = snapshot_step(path.name)
        if step is not None and path.is_file():
            found.append((step, path))
    return sorted(found)


def write_progress_gif(job_dir: str | os.PathLike, *, fps: float = 8, hold: float = 1.0,
                       path: str | os.PathLike | None = None) -> Path | None:
    """Write `JOB/progress.gif` for the job's balanced frame (`balanced_position`).
    Returns its path, or None when that frame has no snapshots to animate (progress_every was 0, or the frame was resumed, not optimised)."""
    job = Path(job_dir)
    records = load_records(job)
    record = records[balanced_position(records)]
    snapshots = snapshot_steps(snapshot_dir(job, int(record["index"])))
    if len(snapshots) < 2:  # none, or only the final frame (executors that do not report steps)
        return None
    images = []
    for step, snapshot in snapshots:
        try:
            with Image.open(snapshot) as image:
                images.append((step, np.asarray(image.convert("RGB"), dtype=np.uint8)))
        except OSError as exc:
            raise SweepError(f"cannot read progress snapshot {snapshot}: {exc}") from exc
    height, width = images[0][1].shape[:2]
    factor = upscale_factor(height, width, MIN_SHORT_SIDE)
    weight = format_weight(float(record["content_weight"]))
    frames = []
    for step, image in images:
        if image.shape != images[0][1].shape:
            raise SweepError(f"progress snapshots of {job} differ in size: {image.shape} vs {images[0][1].shape}")
        frames.append(draw_label(upscale_nearest(image, factor), f"step {step}  |  cw {weight}", "bottom-left"))
    frames += [frames[-1]] * max(0, math.ceil(hold * fps) - 1)
    target = Path(path) if path is not None else job / PROGRESS_GIF
    encode_movie(frames, target, fps=fps)
    return target
