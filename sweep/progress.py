"""The progress bars (tqdm, on stderr): over every frame-iteration of a local run, or
over the frames of a Ray run, whose steps run remotely."""
from __future__ import annotations

import sys

from tqdm import tqdm

from .records import Callback, FrameResult, StepRecord


class ProgressBar(Callback):
    """One bar for the whole run: the total is frames x iterations.

    Frames that converge early skip their remaining iterations, so the bar jumps
    ahead when they finish and the ETA tightens as the run goes. Frames optimised in
    tiles (sweep/tiles.py) are counted in tiles instead: at the first tile the total
    becomes frames x tile visits per frame.
    """

    def __init__(self, total_frames: int, iterations: int, *, enabled: bool = True):
        self.iterations = iterations
        self.bar = tqdm(total=total_frames * iterations, unit="it", dynamic_ncols=True,
                        disable=not enabled, file=sys.stderr,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} frame-its [{elapsed}<{remaining}]{postfix}")
        self.frames_done = 0
        self.total_frames = total_frames
        self.tiles_per_frame = 0
        self.tiles_of_frame = 0   # tiles counted for the frame in progress

    def on_job_start(self, job: str, frame_count: int, iterations: int) -> None:
        self.bar.set_description(job)

    def on_step(self, record: StepRecord) -> None:
        if self.tiles_per_frame:  # tiled frames count in on_tile
            return
        self.bar.update(int(record.active.sum()))
        self.bar.set_postfix_str(f"frames {self.frames_done}/{self.total_frames}, "
                                 f"iteration {record.iteration}/{record.iterations}", refresh=False)

    def on_tile(self, job: str, done: int, total: int) -> None:
        if not self.tiles_per_frame:
            self.tiles_per_frame = total
            self.bar.reset(total=(self.total_frames - self.frames_done) * total)
            if not self.bar.disable:
                self.bar.bar_format = self.bar.bar_format.replace("frame-its", "tiles")
        if self.tiles_of_frame < self.tiles_per_frame:
            self.bar.update(1)
            self.tiles_of_frame += 1
        self.bar.set_postfix_str(f"frames {self.frames_done}/{self.total_frames}, tile {done}/{total}", refresh=False)

    def on_frame(self, job: str, result: FrameResult) -> None:
        self.frames_done += 1
        if self.tiles_per_frame:  # a frame that stopped early skips its remaining tiles
            self.bar.update(self.tiles_per_frame - self.tiles_of_frame)
            self.tiles_of_frame = 0
        else:
            self.bar.update(self.iterations - result.iterations)

    def close(self) -> None:
        self.bar.close()


class FrameProgress(Callback):
    """The driver's bar under Ray: frames done of the gallery's missing frames."""

    def __init__(self, total_frames: int, enabled: bool = True):
        self.bar = tqdm(total=total_frames, unit="frame", dynamic_ncols=True, disable=not enabled,
                        file=sys.stderr, desc="gallery",
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} frames [{elapsed}<{remaining}]{postfix}")
        self.failed = 0

    def on_frame(self, job: str, result: FrameResult) -> None:
        if result.status != "done":
            self.failed += 1
            self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        self.bar.set_description(job, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
