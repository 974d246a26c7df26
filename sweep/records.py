"""The loop's records and callback hooks: plain data, importable without Keras.

`sweep.engine` re-exports these; modules that only consume them (the store, the
progress bar, the API, the CLI) import them from here, so that `sweep run bad.yaml`
can refuse a config or an image before TensorFlow is imported.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .colors import effective_colors


@dataclass
class StepRecord:
    """What one iteration of one chunk did; arrays have one entry per frame of the chunk."""
    job: str
    iteration: int
    iterations: int
    frame_indices: list[int]
    content_weights: np.ndarray
    total: np.ndarray
    content_loss: np.ndarray
    style_loss: np.ndarray
    tv_loss: np.ndarray
    active: np.ndarray
    elapsed: float
    current_images: Callable[[], np.ndarray] = field(repr=False)  # uint8 (B, H, W, 3), on demand


@dataclass
class Style:
    """What an artist's frames are pulled towards (config.Artist with its images read):
    its paintings, uint8 (H, W, 3) resized as the run resizes them; their shares of the
    style loss (summing to 1); whose colours the frames keep (style | photo | match)."""
    paintings: list[np.ndarray] = field(repr=False)
    weights: list[float]
    colors: str = "style"

    @classmethod
    def of(cls, style: "Style | np.ndarray") -> "Style":
        """A Style as it is; a lone uint8 painting as a one-painting style."""
        return style if isinstance(style, Style) else cls(paintings=[style], weights=[1.0])

    def for_photo(self, photo_uint8: np.ndarray) -> "Style":
        """The style as the optimisation applies it to this photo (colors.effective_colors)."""
        return dataclasses.replace(self, colors=effective_colors(self.colors, np.asarray(photo_uint8) / 255.0))


@dataclass
class FrameResult:
    index: int
    content_weight: float
    image: np.ndarray | None  # uint8 (H, W, 3); None when the frame failed
    content_loss: float
    style_loss: float
    tv_loss: float
    iterations: int
    status: str = "done"      # done | failed
    message: str = ""


class Callback:
    """Hooks of the loop; override the ones you need."""

    def on_job_start(self, job: str, frame_count: int, iterations: int) -> None: ...
    def on_step(self, record: StepRecord) -> None: ...
    def on_tile(self, job: str, done: int, total: int) -> None: ...   # a frame optimised in tiles
    def on_frame(self, job: str, result: FrameResult) -> None: ...
    def on_job_end(self, job: str) -> None: ...
