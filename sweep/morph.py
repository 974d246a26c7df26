"""Keyframes, then in-betweens: how `init: keyframes` turns a sweep into a morph.

Optimised each on its own from the photo, the frames of a sweep draw their strokes
in new places, and played as a movie the texture boils. Under `init: keyframes`:

1. the keyframes (every `keyframes.every`-th frame of the sweep, and always both
   ends) are optimised first, as one batch, from the photo, with the full budget;
2. every other frame (an in-between) starts from the blend of the two keyframes
   around it, weighted by where its content weight lies between theirs on a log
   scale, and runs `keyframes.in_between_fraction` of the iterations. It inherits
   its keyframes' strokes and needs far fewer iterations.

An in-between's start depends only on its two keyframes *as stored* (uint8), so a
run killed between the two passes resumes to the same frames as a clean run, and a
Ray task of in-betweens needs only the stored keyframes. Everything here is plain
numpy; the engine and the executors call it.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Frames = list[tuple[int, float]]   # [(frame index, content weight), ...]


def keyframe_indices(count: int, every: int) -> list[int]:
    """Indices of the keyframes of a sweep of `count` frames: 0, every, 2 every, ...
    and the last frame."""
    if count <= 0:
        return []
    return sorted(set(range(0, count, max(1, every))) | {count - 1})


def split_passes(frames: Frames, count: int, every: int) -> tuple[Frames, Frames]:
    """(keyframes, in-betweens) among `frames`, a subset of a sweep of `count` frames."""
    keys = set(keyframe_indices(count, every))
    return [f for f in frames if f[0] in keys], [f for f in frames if f[0] not in keys]


def previous_keyframe(index: int, count: int, every: int) -> int | None:
    """The keyframe before keyframe `index` (None for the first): under continuation a
    keyframe starts from it, so consecutive keyframes keep their strokes in place."""
    earlier = [k for k in keyframe_indices(count, every) if k < index]
    return earlier[-1] if earlier else None


def neighbours(index: int, count: int, every: int) -> tuple[int, int]:
    """The keyframes (below, above) around in-between `index`."""
    keys = keyframe_indices(count, every)
    below = max(k for k in keys if k < index)
    above = min(k for k in keys if k > index)
    return below, above


def blend_fraction(weight: float, below_weight: float, above_weight: float) -> float:
    """Where `weight` lies from `below_weight` (0) to `above_weight` (1), on a log scale
    (linear when a weight is 0); the sweep's own spacing then gives an even blend."""
    if min(weight, below_weight, above_weight) > 0:
        a, b, w = math.log(below_weight), math.log(above_weight), math.log(weight)
    else:
        a, b, w = below_weight, above_weight, weight
    return 0.5 if a == b else float(np.clip((w - a) / (b - a), 0.0, 1.0))


def in_between_starts(frames: Frames, weights: Sequence[float], every: int,
                      keyframe: Callable[[int], np.ndarray | None]) -> dict[int, np.ndarray]:
    """Start images (float32 (H, W, 3), 0-255) of the in-betweens among `frames`, by
    index. `weights` are all the sweep's content weights; `keyframe(index)` returns a
    done keyframe (uint8) or None. An in-between whose keyframes are not both done
    (one failed) is left out, and starts from the photo."""
    count = len(weights)
    starts = {}
    for index, weight in frames:
        below, above = neighbours(index, count, every)
        first, second = keyframe(below), keyframe(above)
        if first is None or second is None:
            continue
        t = blend_fraction(weight, weights[below], weights[above])
        starts[index] = ((1.0 - t) * first.astype(np.float32) + t * second.astype(np.float32))
    return starts


def noise_starts(frames: Frames, below: float, shape: tuple[int, ...], seed: int) -> dict[int, np.ndarray]:
    """Start images (float32, 0-255) of the keyframes whose content weight is at most
    `below`: one seeded noise image shared by all of them, so that they grow their
    strokes from the same seeds and stay alike, and lose the photo's layout."""
    chosen = [index for index, weight in frames if weight <= below]
    if not chosen:
        return {}
    noise = np.random.default_rng([seed, 0x5EED]).uniform(0, 255, shape).astype(np.float32)
    return {index: noise for index in chosen}


def in_between_iterations(iterations: int, fraction: float) -> int:
    return max(1, int(round(iterations * fraction)))


def iteration_budget(config) -> int:
    """The most frame-iterations one job of `config` can take: every frame runs all its
    iterations (keyframes the full budget, in-betweens their fraction)."""
    count, iterations = config.sweep.content_weight.steps, config.optimizer.iterations
    if config.init != "keyframes":
        return count * iterations
    keys = len(keyframe_indices(count, config.keyframes.every))
    return keys * iterations + (count - keys) * in_between_iterations(iterations, config.keyframes.in_between_fraction)
