"""Optimisation-progress snapshots (`movie.progress_every: K`).

Which frame will be the balanced one is known only after the sweep, so every K
steps the `ProgressSnapshots` callback saves every frame of the chunk being
optimised::

    DIR/<job>/progress/f007/s0001.png   after the first step
    DIR/<job>/progress/f007/s0040.png   every K steps
    DIR/<job>/progress/f007/s0057.png   the final (stored) frame, at its last step

The snapshots live beside the frame store, never in `frames.json`. After the run
`sweep.render.progress.write_progress_gif` turns the balanced frame's snapshots
into `DIR/<job>/progress.gif`. A frame that is optimised again (a resumed or
forced run) starts its snapshot folder afresh.
"""
from __future__ import annotations

from pathlib import Path

from .records import Callback, FrameResult, StepRecord
from .images import save_png
from .discard import remove_snapshots
from .layout import snapshot_dir, snapshot_filename


class ProgressSnapshots(Callback):
    """Saves every frame of a chunk after step 1, every `every` steps, and at its end."""

    def __init__(self, run_dir: str | Path, every: int):
        if every < 1:
            raise ValueError(f"snapshot interval must be >= 1, got {every}")
        self.run_dir = Path(run_dir)
        self.every = int(every)

    def on_step(self, record: StepRecord) -> None:
        first = record.iteration == 1
        if not first and record.iteration % self.every:
            return
        images = record.current_images()
        for k, index in enumerate(record.frame_indices):
            folder = snapshot_dir(self.run_dir / record.job, index)
            if first:  # a frame optimised again starts its snapshots afresh; files of the user's stay
                remove_snapshots(folder)
            elif not bool(record.active[k]):
                continue  # converged or failed: it did not move this step
            save_png(folder / snapshot_filename(record.iteration), images[k])

    def on_frame(self, job: str, result: FrameResult) -> None:
        if result.image is None:
            return
        folder = snapshot_dir(self.run_dir / job, result.index)
        save_png(folder / snapshot_filename(max(1, result.iterations)), result.image)
