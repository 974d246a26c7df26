"""How a sweep plays as a movie: step, jitter and pace of consecutive frames.

Pure numpy on uint8 frames (N, H, W, 3), all of one size, in sweep order:

- step(i): mean absolute pixel difference (0-255) between frames i and i+1: how much
  the picture changes from one movie frame to the next;
- jitter: mean over the interior frames of mean |x(i+1) - 2 x(i) + x(i-1)|, divided by
  the mean step. A fade that changes every pixel at a steady rate scores 0; frames
  whose strokes move independently from frame to frame ("boiling") score about
  1.4-1.7, because then consecutive changes differ more than they share;
- pace: max step / median step. An evenly paced movie is close to 1; a movie that
  stands still and then jumps scores high.

`crossfade` gives the floor of the jitter for a sweep's keyframes: per pixel, no path
through them has a smaller sum of |second differences| than the straight crossfade from
keyframe to keyframe, and its 8-bit frames are what a movie of stored frames can reach
(docs/morph.md, "The corners at the keyframes").

The store writes them per job into `JOB/motion.json` (`JobStore.write_motion`); the
contact sheet shows them beside its plot.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

def _stack(frames: Sequence[np.ndarray]) -> np.ndarray:
    stacked = np.stack([np.asarray(frame) for frame in frames]).astype(np.float64)
    if stacked.ndim != 4:
        raise ValueError(f"frames must be images of shape (H, W, C); got an array of shape {stacked.shape}")
    return stacked


def steps(frames: Sequence[np.ndarray]) -> np.ndarray:
    """step(i) for i = 0 .. N-2: mean |x(i+1) - x(i)| in 0-255 pixel units."""
    stacked = _stack(frames)
    return np.abs(np.diff(stacked, axis=0)).mean(axis=(1, 2, 3))


def jitter(frames: Sequence[np.ndarray]) -> float:
    """Mean second difference over the mean step; NaN with fewer than 3 frames or
    frames that never change."""
    stacked = _stack(frames)
    if len(stacked) < 3:
        return float("nan")
    mean_step = np.abs(np.diff(stacked, axis=0)).mean()
    if mean_step == 0:
        return float("nan")
    return float(np.abs(np.diff(stacked, n=2, axis=0)).mean() / mean_step)


def pace(frames: Sequence[np.ndarray]) -> float:
    """Largest step over the median step; NaN with fewer than 2 frames or a zero median."""
    if len(frames) < 2:
        return float("nan")
    values = steps(frames)
    median = float(np.median(values))
    return float(values.max() / median) if median > 0 else float("nan")


def crossfade(frames: Sequence[np.ndarray], keyframes: Sequence[int]) -> np.ndarray:
    """uint8 frames (N, H, W, C): the keyframes among `frames` (indices, including the
    first and the last frame) as they are, every other frame the straight crossfade of
    the keyframes around it by its place between them, rounded to whole levels."""
    stacked = _stack(frames)
    keys = sorted(set(keyframes))
    if not keys or keys[0] != 0 or keys[-1] != len(stacked) - 1:
        raise ValueError(f"keyframes must include the first and the last frame (0 and {len(stacked) - 1}); "
                         f"got {keys}")
    faded = np.empty_like(stacked)
    for below, above in zip(keys, keys[1:]):
        for index in range(below, above + 1):
            t = (index - below) / (above - below)
            faded[index] = (1.0 - t) * stacked[below] + t * stacked[above]
    return np.clip(np.round(faded), 0, 255).astype(np.uint8)


def summary(frames: Sequence[np.ndarray]) -> dict:
    """The three measures, as written to `JOB/motion.json` (NaN is written as null)."""
    values = steps(frames) if len(frames) >= 2 else np.zeros(0)

    def finite(value):
        return round(float(value), 4) if np.isfinite(value) else None

    return {"frames": len(frames), "jitter": finite(jitter(frames)), "pace": finite(pace(frames)),
            "mean_step": finite(values.mean()) if values.size else None,
            "steps": [round(float(v), 3) for v in values]}
