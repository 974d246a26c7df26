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
Ray task of in-betweens needs only the stored keyframes. Under `spacing: even` the
keyframes come first and `even_layout` then places the in-betweens where they differ
most (sweep/spacing.py); everything takes a job's keyframe indices as a list for that.
Everything here is plain numpy; the engine and the executors call it.
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


def split_passes(frames: Frames, keys: Sequence[int]) -> tuple[Frames, Frames]:
    """(keyframes, in-betweens) among `frames`, given the sweep's keyframe indices `keys`."""
    keys = set(keys)
    return [f for f in frames if f[0] in keys], [f for f in frames if f[0] not in keys]


def previous_keyframe(index: int, keys: Sequence[int]) -> int | None:
    """The keyframe before keyframe `index` (None for the first): under continuation a
    keyframe starts from it, so consecutive keyframes keep their strokes in place."""
    earlier = [k for k in keys if k < index]
    return max(earlier) if earlier else None


def neighbours(index: int, keys: Sequence[int]) -> tuple[int, int]:
    """The keyframes (below, above) around in-between `index`."""
    return max(k for k in keys if k < index), min(k for k in keys if k > index)


def blend_fraction(weight: float, below_weight: float, above_weight: float) -> float:
    """Where `weight` lies from `below_weight` (0) to `above_weight` (1), on a log scale
    (linear when a weight is 0); the sweep's own spacing then gives an even blend."""
    if min(weight, below_weight, above_weight) > 0:
        a, b, w = math.log(below_weight), math.log(above_weight), math.log(weight)
    else:
        a, b, w = below_weight, above_weight, weight
    return 0.5 if a == b else float(np.clip((w - a) / (b - a), 0.0, 1.0))


def in_between_starts(frames: Frames, weights: Sequence[float], keys: Sequence[int],
                      keyframe: Callable[[int], np.ndarray | None]) -> dict[int, np.ndarray]:
    """Start images (float32 (H, W, 3), 0-255) of the in-betweens among `frames`, by
    index. `weights` are all the sweep's content weights, `keys` its keyframe indices;
    `keyframe(index)` returns a done keyframe (uint8) or None. An in-between whose
    keyframes are not both done (one failed) is left out, and starts from the photo."""
    starts = {}
    for index, weight in frames:
        below, above = neighbours(index, keys)
        first, second = keyframe(below), keyframe(above)
        if first is None or second is None:
            continue
        t = blend_fraction(weight, weights[below], weights[above])
        starts[index] = ((1.0 - t) * first.astype(np.float32) + t * second.astype(np.float32))
    return starts


def held_neighbour(index: int, weights: Sequence[float], keys: Sequence[int],
                   keyframe: Callable[[int], np.ndarray | None], photo: np.ndarray) -> np.ndarray:
    """Frame `index` as an in-between of another chunk sees it (sweep/neighbours.py): a
    keyframe as stored, an in-between at its start (the blend of its keyframes); the
    photo where a keyframe is missing, as such a frame starts from it."""
    image = keyframe(index) if index in keys else \
        in_between_starts([(index, weights[index])], weights, keys, keyframe).get(index)
    return (photo if image is None else image).astype(np.float32)


def keyframe_differences(images: Sequence[np.ndarray]) -> np.ndarray:
    """How much each pair of consecutive keyframes (uint8) differs: the sum of their
    absolute pixel differences, an exact integer, so a resumed run finds the same."""
    return np.array([float(np.abs(a.astype(np.int32) - b.astype(np.int32)).sum())
                     for a, b in zip(images, images[1:])])


def even_layout(key_weights: Sequence[float], key_images: Sequence[Sequence[np.ndarray]],
                count: int) -> tuple[list[float], list[int]]:
    """`spacing: even`: the sweep's `count` content weights and its keyframe indices, from
    the done keyframes (`key_weights`, from the photo end) of one or more jobs of the same
    photo (`key_images`: per job, its stored uint8 keyframes), which then share them.

    The in-betweens go where consecutive keyframes differ most: one at a time, each to
    the segment whose step (how much its keyframes differ / (its in-betweens + 1)) is
    largest, ties to the earlier segment (the D'Hondt rule), so every movie step changes
    the image by about as much. A segment's difference is the sum over the jobs of each
    job's share of its own total change, so every artist counts alike. Inside a segment
    the in-betweens crowd towards content weight 1 (`segment_weights`). The differences
    are exact integer sums of the stored pixels: a resumed run places the frames where
    the clean run did.
    """
    differences = np.zeros(len(key_weights) - 1)
    for images in key_images:
        job = keyframe_differences(images)
        differences += job / max(job.sum(), 1.0)
    if not differences.any():   # keyframes all alike: nothing to even out, so spread the frames evenly
        differences[:] = 1.0
    in_betweens = [0] * len(differences)
    for _ in range(count - len(key_weights)):
        steps = [difference / (n + 1) for difference, n in zip(differences, in_betweens)]
        in_betweens[steps.index(max(steps))] += 1
    weights: list[float] = []
    keys: list[int] = []
    for segment, n in enumerate(in_betweens):
        keys.append(len(weights))
        weights.append(float(key_weights[segment]))
        weights += segment_weights(key_weights[segment], key_weights[segment + 1], n)
    keys.append(len(weights))
    weights.append(float(key_weights[-1]))
    return weights, keys


# Where the image changes fastest: at content weight 1 the normalised content and style
# terms balance (sweep/losses.py), and in the sweeps profiled the frames changed up to
# 1.4x faster per log-step there than elsewhere in the segment holding it. So a
# segment's in-betweens follow the density 1 + CROWD x exp(-(ln w)^2 / (2 x CROWD_WIDTH^2))
# on a log scale (docs/morph.md, "Photos of other kinds").
CROWD = 0.5
CROWD_WIDTH = 0.5   # in ln(content weight): a factor of 1.65 either side


def segment_weights(high: float, low: float, count: int) -> list[float]:
    """`count` content weights strictly between the keyframe weights `high` > `low` > 0
    (`spacing: even` needs start and stop > 0: sweep/config.py), from
    `high` down: equal shares of the crowding density on a log scale. Far from weight 1
    they are evenly spaced on a log scale. A sweep from the style end up (`high` < `low`)
    gets the same weights in its own order."""
    if count == 0:
        return []
    if high < low:
        return segment_weights(low, high, count)[::-1]
    scale = CROWD_WIDTH * math.sqrt(2.0)
    top, bottom = math.log(high), math.log(low)

    def mass(t):   # the density's integral from 0 to t
        return t + CROWD * CROWD_WIDTH * math.sqrt(math.pi / 2) * math.erf(t / scale)

    total = mass(top) - mass(bottom)
    weights = []
    for j in range(1, count + 1):
        target = mass(top) - total * j / (count + 1)
        below, above = bottom, top   # mass() rises with t: bisect for mass(t) = target
        for _ in range(60):
            middle = (below + above) / 2
            below, above = (middle, above) if mass(middle) < target else (below, middle)
        weights.append(math.exp((below + above) / 2))
    return weights


# The keyframe path of the built-in photo with `sample:brushstrokes` (30 frames, 100 ->
# 0.001): its consecutive keyframes differ by 98.5 mean pixel levels in all, at 128 and
# at 192 px alike. `keyframes.coupling` holds for a morph that changes the picture that
# much; see `coupling_strength`.
REFERENCE_CHANGE = 98.5
# A morph of half that change or less gets four times the coupling, no more: the
# strongest measured (134, the built-in photo with The Shipwreck) is 2.2 times.
MOST_COUPLING_SCALE = 4.0


def coupling_strength(coupling: float, keyframes: Sequence[np.ndarray | None]) -> float:
    """The coupling of a job's in-betweens, from `keyframes.coupling` and the job's
    keyframes (uint8, in sweep order; None for one that failed). Jitter is relative to
    the movie's steps, so a morph whose keyframes change the picture less than the
    built-in photo's (a dark or low-contrast photo) is coupled harder, by the square of
    the ratio, at most `MOST_COUPLING_SCALE` times; never less than `coupling`
    (docs/morph.md, "Coupling by the picture's change")."""
    if coupling <= 0 or len(keyframes) < 2 or any(image is None for image in keyframes):
        return coupling
    change = float(keyframe_differences(keyframes).sum()) / keyframes[0].size   # in mean pixel levels
    if change <= REFERENCE_CHANGE / math.sqrt(MOST_COUPLING_SCALE):
        return coupling * MOST_COUPLING_SCALE
    return coupling * max(1.0, (REFERENCE_CHANGE / change) ** 2)


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


def even_spacing(config) -> bool:
    """Whether `config` places its in-betweens after its keyframes (sweep/spacing.py):
    `spacing: even` under `init: keyframes`; with another init it is log spacing."""
    return config.sweep.content_weight.spacing == "even" and config.init == "keyframes"


def keyframes_of(config) -> list[int]:
    """The keyframe indices of a sweep of `config` before `spacing: even` places them."""
    return keyframe_indices(config.sweep.content_weight.steps, config.keyframes.every)


def iteration_budget(config) -> int:
    """The most frame-iterations one job of `config` can take: every frame runs all its
    iterations (keyframes the full budget, in-betweens their fraction)."""
    count, iterations = config.sweep.content_weight.steps, config.optimizer.iterations
    if config.init != "keyframes":
        return count * iterations
    keys = len(keyframes_of(config))
    return keys * iterations + (count - keys) * in_between_iterations(iterations, config.keyframes.in_between_fraction)
