"""Coherence of the in-betweens: a coupling between neighbouring frames of the sweep.

Each in-between pays `keyframes.coupling x mean((x(i+1) - 2 x(i) + x(i-1))^2)` (pixels
in [0, 1]), its second difference along the sweep, squared: what the jitter measure
(sweep/motion.py) counts. A segment's frames may leave the straight crossfade between
their keyframes, as long as they leave it together, in step: a crossfade of two
textures is a double exposure whose own loss lies well above the frame's optimum, and
an earlier coupling to that crossfade held each frame there (docs/morph.md).

The frames of one chunk that follow each other in the sweep form a group, one joint
objective (the optimiser treats a group as one vector: sweep/optimizers.py). Every
other neighbour is held fixed: a keyframe as stored, an in-between of another chunk
at its start image (the blend of its keyframes; the photo when a keyframe is
missing). So a chunk needs nothing from the chunks around it, and a resumed run or a
Ray task optimises it as a clean local run does (the engine stores a chunk's frames
together, an interrupt waiting for the last of them).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from keras import ops

from .optimizers import group_sum, group_tensors


class NeighbourCoupling:
    """The coupling of one chunk's in-betweens (`indices`, sorted, sweep order).
    `fixed(index)` gives the float image (H, W, 3, in [0, 1], the frame's size) of a
    neighbour outside the chunk; `starts` (len(indices), H, W, 3) are the chunk's start
    images, which stand in for frames of the chunk no longer in the batch."""

    def __init__(self, indices: Sequence[int], fixed: Callable[[int], np.ndarray], starts, coupling: float):
        self.coupling = float(coupling)
        position = {index: k for k, index in enumerate(indices)}
        outside = sorted({n for i in indices for n in (i - 1, i + 1) if n not in position})
        slot = {n: len(indices) + j for j, n in enumerate(outside)}
        # Each frame's neighbours by their place among [the chunk's frames; the fixed images]
        self.before = np.array([position.get(i - 1, slot.get(i - 1)) for i in indices])
        self.after = np.array([position.get(i + 1, slot.get(i + 1)) for i in indices])
        self.groups = np.cumsum([k == 0 or index != indices[k - 1] + 1 for k, index in enumerate(indices)])
        self.fixed = self.full_fixed = ops.convert_to_tensor(np.stack([fixed(n) for n in outside]).astype(np.float32))
        self.starts = self.full_starts = starts

    def resize(self, resize: Callable) -> None:
        """Follow the frames to another scale: `resize(images)` takes full-size images to
        it. Always from the full-size images, so that a stored keyframe is held as it is
        at full size, not blurred by the way through a coarser scale."""
        self.fixed, self.starts = resize(self.full_fixed), resize(self.full_starts)

    def evaluator(self, objective: Callable, rows: np.ndarray) -> Callable:
        """`objective` of the batch rows `rows` (positions in the chunk) with the coupling:
        every frame's total is its group's (own losses plus coupling), its gradient the
        joint objective's; the content, style and TV values stay the frame's own."""
        count, batch = len(self.groups), len(rows)
        fixed_count = int(ops.shape(self.fixed)[0])
        row_of = {int(p): r for r, p in enumerate(rows)}

        def place(p):
            """Where neighbour `p` is read among [the batch; the fixed images; the chunk's
            starts]. A frame of the chunk that left the batch is read at its start. Only
            frames that no longer step read one (a group stops as a whole, and the batch
            keeps every frame that steps), so their totals may be off, never a step."""
            if p >= count:
                return batch + (p - count)
            return row_of.get(p, batch + fixed_count + p)

        def centre(p):
            """The row whose second difference holds chunk position `p` (`batch`: none)."""
            return row_of.get(p, batch) if p < count else batch

        before = np.array([place(self.before[p]) for p in rows], dtype=np.int32)
        after = np.array([place(self.after[p]) for p in rows], dtype=np.int32)
        previous_centre = np.array([centre(self.before[p]) for p in rows], dtype=np.int32)
        next_centre = np.array([centre(self.after[p]) for p in rows], dtype=np.int32)
        groups = group_tensors(self.groups[rows])
        strength = self.coupling

        def coupled(x):
            total, content, style, tv, gradient = objective(x)
            values = ops.concatenate([x, self.fixed, self.starts], axis=0)
            second = ops.take(values, after, axis=0) - 2.0 * x + ops.take(values, before, axis=0)
            pixels = float(np.prod(ops.shape(x)[1:]))
            own = total + strength * ops.sum(ops.square(second), axis=(1, 2, 3)) / pixels
            padded = ops.concatenate([second, ops.zeros_like(second[:1])], axis=0)
            pull = ops.take(padded, previous_centre, axis=0) - 2.0 * second + ops.take(padded, next_centre, axis=0)
            return group_sum(own, groups), content, style, tv, gradient + (2.0 * strength / pixels) * pull

        return coupled
