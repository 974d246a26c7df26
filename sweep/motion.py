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

A movie whose mean step is under STILL_STEP is "still": it has no jitter or pace (NaN,
null in `motion.json`), since what changes between its frames is rounding, not motion.

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

# A tenth of a grey level per frame: on average one pixel value in ten moves by one level,
# invisible in the movie. Below a whole level per frame the steps are 8-bit rounding flips,
# and a flip's second difference is twice the flip: a perfectly smooth fade of s < 0.5 levels
# per frame, rounded, scores jitter 2 whatever the motion, and pace divides one count of
# flips by another. `colors: match` on a one-colour photo gave a mean step of 0.0008 with
# jitter 2.40; the real sweeps measured (docs/morph.md) step 2-20 levels, 20x and more above.
STILL_STEP = 0.1


def _stack(frames: Sequence[np.ndarray]) -> np.ndarray:
    stacked = np.stack([np.asarray(frame) for frame in frames]).astype(np.float64)
    if stacked.ndim != 4:
        raise ValueError(f"frames must be images of shape (H, W, C); got an array of shape {stacked.shape}")
    return stacked


def steps(frames: Sequence[np.ndarray]) -> np.ndarray:
    """step(i) for i = 0 .. N-2: mean |x(i+1) - x(i)| in 0-255 pixel units."""
    return _steps(_stack(frames))


def is_still(frames: Sequence[np.ndarray]) -> bool:
    """Whether the movie's mean step is under STILL_STEP (a movie of one frame is not still:
    it has no steps at all)."""
    return len(frames) >= 2 and _still(steps(frames))


def jitter(frames: Sequence[np.ndarray]) -> float:
    """Mean second difference over the mean step; NaN with fewer than 3 frames or a
    still movie (`is_still`)."""
    return _jitter(_stack(frames))


def pace(frames: Sequence[np.ndarray]) -> float:
    """Largest step over the median step; NaN with fewer than 2 frames, a still movie
    (`is_still`) or a zero median."""
    return _pace(steps(frames)) if len(frames) >= 2 else float("nan")


# The measures of frames stacked once (`summary` takes them all from one stack: a
# 30-frame movie of 512 px frames is 190 MB as float64).

def _steps(stacked: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(stacked, axis=0)).mean(axis=(1, 2, 3))


def _still(step_values: np.ndarray) -> bool:
    return step_values.size > 0 and float(step_values.mean()) < STILL_STEP


def _jitter(stacked: np.ndarray) -> float:
    if len(stacked) < 3:
        return float("nan")
    mean_step = np.abs(np.diff(stacked, axis=0)).mean()
    if mean_step < STILL_STEP:
        return float("nan")
    return float(np.abs(np.diff(stacked, n=2, axis=0)).mean() / mean_step)


def _pace(step_values: np.ndarray) -> float:
    if step_values.size == 0 or _still(step_values):
        return float("nan")
    median = float(np.median(step_values))
    return float(step_values.max() / median) if median > 0 else float("nan")


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
    """The three measures, as written to `JOB/motion.json` (NaN is written as null), and
    `still` (`is_still`), which says why a movie of two or more frames has none."""
    stacked = _stack(frames)
    values = _steps(stacked)   # none for a single frame

    def finite(value):
        return round(float(value), 4) if np.isfinite(value) else None

    return {"frames": len(frames), "jitter": finite(_jitter(stacked)), "pace": finite(_pace(values)),
            "still": _still(values), "mean_step": finite(values.mean()) if values.size else None,
            "steps": [round(float(v), 3) for v in values]}
