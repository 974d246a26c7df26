"""Renderers: they read a job's stored frames (`frames.json` + PNGs) and never touch
the optimiser.

- `render_job(job_dir, movie_cfg)`: the job's movie(s), the balanced-frame flag and
  the contact sheet.
- `sweep.render.movie`: `write_movie`, `movie_frame_count`, `movie_plan`.
- `sweep.render.sheet`: `write_sheet`, `compose_sheet`, `tradeoff_plot`.
- `sweep.render.compare`: `write_compare`, `grid_shape`, `compose_grid`.
- `sweep.render.frames`: `load_frames`, `draw_label`, `format_weight`.

The balanced frame is `sweep.balance`'s; the store flags it (`JobStore.mark_suggested`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from sweep.errors import SweepError
from sweep.layout import load_records, movie_file
from sweep.render.compare import compose_grid, grid_shape, write_compare
from sweep.render.frames import draw_label, load_frames, weight_label
from sweep.weight_text import format_weight
from sweep.render.movie import FORMATS, movie_frame_count, remove_stale_movies, write_movie
from sweep.render.sheet import write_sheet

__all__ = [
    "render_job", "write_movie", "movie_frame_count", "write_sheet", "write_compare", "grid_shape",
    "compose_grid", "load_frames", "draw_label", "format_weight", "weight_label",
]


def render_job(job_dir: str | os.PathLike, movie_cfg, stale_formats: Sequence[str] = ()) -> list[Path]:
    """Render a finished job from its frame store.

    `movie_cfg` is any object with attributes fps, formats (a list of "mp4"/"gif"),
    hold, crossfade, boomerang and label (bool). Writes `JOB/movie.mp4` and/or
    `JOB/movie.gif` (labelled "content weight 3.16" when `label` is true) and
    `JOB/sheet.png`; it only reads the frame store. Returns the written paths: the
    movies in `formats` order, then the sheet. The movies of `stale_formats` (rendered
    by an earlier run, not asked for now) are removed.
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
        path = job / movie_file(kind)
        write_movie(frames, labels, path, fps=movie_cfg.fps, hold=movie_cfg.hold,
                    crossfade=movie_cfg.crossfade, boomerang=bool(movie_cfg.boomerang))
        written.append(path)
    written.append(write_sheet(job))
    remove_stale_movies(job, movie_file, stale_formats, formats)
    return written
