"""Renderers: they read a job's stored frames (`frames.json` + PNGs) and never touch
the optimiser.

- `render_job(job_dir, movie_cfg)`: the job's movie(s), the balanced-frame flag and
  the contact sheet.
- `sweep.render.movie`: `write_movie`, `movie_frame_count`, `movie_plan`.
- `sweep.render.sheet`: `write_sheet`, `suggest_balanced`, `mark_suggested`.
- `sweep.render.compare`: `write_compare`, `grid_shape`, `compose_grid`.
- `sweep.render.frames`: `load_records`, `load_frames`, `draw_label`.
"""
from __future__ import annotations

import os
from pathlib import Path

from sweep.errors import SweepError
from sweep.motion import write_summary as write_motion_summary
from sweep.render.compare import compose_grid, grid_shape, write_compare
from sweep.render.frames import draw_label, format_weight, load_frames, load_records, weight_label
from sweep.render.movie import FORMATS, movie_frame_count, write_movie
from sweep.render.sheet import mark_suggested, suggest_balanced, write_sheet

__all__ = [
    "render_job", "write_movie", "movie_frame_count", "write_sheet", "suggest_balanced",
    "mark_suggested", "write_compare", "grid_shape", "compose_grid", "load_records",
    "load_frames", "draw_label", "format_weight", "weight_label",
]


def render_job(job_dir: str | os.PathLike, movie_cfg) -> list[Path]:
    """Render a finished job from its frame store.

    `movie_cfg` is any object with attributes fps, formats (a list of "mp4"/"gif"),
    hold, crossfade, boomerang and label (bool). Writes `JOB/movie.mp4` and/or
    `JOB/movie.gif` (labelled "content weight 3.16" when `label` is true), flags the
    balanced frame in `JOB/frames.json` (`mark_suggested`), writes the movie's jitter and
    pace to `JOB/motion.json` (sweep/motion.py) and writes `JOB/sheet.png`.
    Returns the written paths: the movies in `formats` order, then the sheet
    (frames.json is updated in place, and motion.json written, unlisted).
    """
    job = Path(job_dir)
    formats = list(dict.fromkeys(movie_cfg.formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SweepError(f"unknown movie format {unknown[0]!r}: allowed are {', '.join(FORMATS)}")
    records = load_records(job)
    movie_frame_count(len(records), movie_cfg.fps, movie_cfg.hold, movie_cfg.crossfade,
                      movie_cfg.boomerang)  # validates the timing before anything is written
    frames = load_frames(job, records)
    labels = [weight_label(r["content_weight"]) for r in records] if movie_cfg.label else None
    written: list[Path] = []
    for kind in formats:
        path = job / f"movie.{kind}"
        write_movie(frames, labels, path, fps=movie_cfg.fps, hold=movie_cfg.hold,
                    crossfade=movie_cfg.crossfade, boomerang=bool(movie_cfg.boomerang))
        written.append(path)
    mark_suggested(job)
    write_motion_summary(job, frames)
    written.append(write_sheet(job))
    return written
