"""The balanced frame of a sweep: the knee of its content/style trade-off.

Over the frames whose content and style losses are both finite numbers, each loss
is min-max normalised to [0, 1] across the sweep::

    c_i = (content_i - min content) / (max content - min content)
    s_i = (style_i   - min style)   / (max style   - min style)

(a loss that is constant over the sweep normalises to 0 everywhere). The suggestion
is the frame closest to the utopia point (0, 0), i.e. the one minimising
``c_i**2 + s_i**2``: the knee of the content/style trade-off curve, where giving up
more content no longer buys much style and vice versa. Ties (within 1e-12) go to
the frame with the higher content weight (closer to the photo). Frames with a NaN,
infinite or missing loss are skipped; a single usable frame is the suggestion; if
no frame has usable losses, the middle frame of the sweep is suggested (the sweep
is log-spaced, so that is the geometric middle of the weights).

The store flags this frame in `frames.json` (`JobStore.mark_suggested`); every
renderer asks `balanced_position`, which prefers that flag.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .errors import SweepError
from .layout import suggested_position

TIE_TOLERANCE = 1e-12


def finite(value) -> float | None:
    """`value` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _minmax(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min())
    if span <= 0:
        return np.zeros_like(values)
    return (values - values.min()) / span


def balance_distances(records: Sequence[dict]) -> list[float | None]:
    """Squared distance c_i**2 + s_i**2 of every record to the utopia point (see the
    module docstring); None where a loss is unusable."""
    usable = [(i, finite(r.get("content_loss")), finite(r.get("style_loss"))) for i, r in enumerate(records)]
    usable = [(i, c, s) for i, c, s in usable if c is not None and s is not None]
    distances: list[float | None] = [None] * len(records)
    if not usable:
        return distances
    content = _minmax(np.array([c for _, c, _ in usable], dtype=np.float64))
    style = _minmax(np.array([s for _, _, s in usable], dtype=np.float64))
    for (i, _, _), c, s in zip(usable, content, style):
        distances[i] = float(c * c + s * s)
    return distances


def suggest_balanced(records: Sequence[dict]) -> int:
    """Position (in `records`) of the balanced frame: the knee rule of the module docstring."""
    if not records:
        raise SweepError("cannot suggest a frame: the job has no frames")
    distances = balance_distances(records)
    scored = [(i, d) for i, d in enumerate(distances) if d is not None]
    if not scored:
        return (len(records) - 1) // 2
    best = min(d for _, d in scored)
    ties = [i for i, d in scored if d <= best + TIE_TOLERANCE]
    return max(ties, key=lambda i: (float(records[i].get("content_weight", 0.0)), -i))


def balanced_position(records: Sequence[dict]) -> int:
    """The frame a renderer marks as balanced: the one the store flagged as suggested,
    else the knee rule's."""
    position = suggested_position(records)
    return position if position is not None else suggest_balanced(records)
