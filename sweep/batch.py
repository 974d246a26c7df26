"""One scale's optimisation of a chunk of frames, as a batch that shrinks.

Early stopping frees compute: once the active frames fit a smaller power of two,
the batch is cut down to them (topped up with frozen frames to that size, so the
objective is traced for a few batch sizes only). The frames cut out are parked at
their last iterate. `StageBatch` owns the rows still in the batch, the parked
frames, retiring, and the convergence counters; `SweepEngine` drives it.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
from keras import ops

from .optimizers import make_optimizer
from .records import StepRecord


def to_uint8(images01) -> np.ndarray:
    array = np.asarray(ops.convert_to_numpy(images01), dtype=np.float32)
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


class StageBatch:
    """The chunk's frames during one scale. `failed` and `iterations_done` (one entry per
    frame of the chunk) start from the previous scale's and are this batch's own.
    `evaluator(rows)` is the objective of those rows of the chunk (positions in it);
    `groups` (a group id per frame) are frames that share one objective (sweep/neighbours.py)."""

    def __init__(self, x, failed: np.ndarray, iterations_done: np.ndarray, indices: list[int],
                 weights: np.ndarray, evaluator: Callable[[np.ndarray], Callable], optimizer_config,
                 full_size: tuple[int, int], groups: np.ndarray | None = None):
        self.indices, self.weights, self.evaluator = indices, weights, evaluator
        self.config, self.full_size = optimizer_config, full_size
        self.count = len(indices)
        self.failed = failed.copy()
        self.iterations_done = iterations_done.copy()
        self.parked = np.array(ops.convert_to_numpy(x), dtype=np.float32)  # frames no longer in the batch
        self.rows = np.flatnonzero(~self.failed)
        self.converged = np.zeros(self.count, dtype=bool)
        self.quiet_steps = np.zeros(self.count, dtype=int)
        self.last = {key: np.full(self.count, np.nan) for key in ("total", "content", "style", "tv")}
        self.previous = np.full(self.count, np.nan)
        self.started = time.perf_counter()
        self.optimizer = None
        if self.rows.size:
            start = x if self.rows.size == self.count else ops.convert_to_tensor(self.parked[self.rows])
            self.optimizer = make_optimizer(optimizer_config.name, evaluator(self.rows), start, optimizer_config,
                                            None if groups is None else np.asarray(groups)[self.rows])

    def active(self) -> np.ndarray:
        """Which rows of the batch still optimise: not converged, failed or stalled."""
        optimizer = self.optimizer
        return ~self.converged[self.rows] & ~optimizer.failed & ~optimizer.stalled

    def shrink(self, active: np.ndarray) -> np.ndarray:
        """Cut the batch to the smallest power of two that holds the active rows (the
        rest parked); returns the active mask of the rows that stay."""
        bucket = 1 << int(np.ceil(np.log2(active.sum())))
        if bucket >= self.rows.size:
            return active
        keep = np.concatenate([np.flatnonzero(active), np.flatnonzero(~active)])[:bucket]
        keep.sort()
        self.retire(keep)
        self.optimizer.keep(keep, self.evaluator(self.rows))
        return active[keep]

    def retire(self, keep) -> None:
        """Park every row of the batch but `keep` (positions within the batch)."""
        dropped = np.setdiff1d(np.arange(self.rows.size), keep)
        if dropped.size:
            self.parked[self.rows[dropped]] = np.asarray(ops.convert_to_numpy(ops.take(
                self.optimizer.x, ops.convert_to_tensor(dropped.astype("int32")), axis=0)))
        self.failed[self.rows] |= self.optimizer.failed
        self.rows = self.rows[keep]

    def step(self, active: np.ndarray) -> None:
        """One optimiser step of the active rows, and its bookkeeping."""
        rows, tolerance = self.rows, self.config.tolerance
        values = self.optimizer.step(active)
        self.iterations_done[rows] += active
        for key in self.last:
            self.last[key][rows] = getattr(values, key)
        # Only moves count: a rejected line-search trial changes nothing and says
        # nothing about convergence.
        moved = self.optimizer.moved
        if tolerance > 0:
            previous = self.previous[rows]
            change = np.abs(previous - values.total) / np.maximum(np.abs(previous), 1e-12)
            quiet = np.where(change < tolerance, self.quiet_steps[rows] + 1, 0)
            self.quiet_steps[rows] = np.where(moved, quiet, self.quiet_steps[rows])
            self.converged[rows] |= moved & (self.quiet_steps[rows] >= self.config.patience)
        self.previous[rows] = np.where(moved, values.total, self.previous[rows])

    def record(self, job: str, iteration: int, active: np.ndarray) -> StepRecord:
        """The `StepRecord` of the step just taken (`active`: the rows that stepped)."""
        full_active = np.zeros(self.count, dtype=bool)
        full_active[self.rows] = active
        last = self.last
        return StepRecord(
            job=job, iteration=iteration, iterations=self.config.iterations, frame_indices=list(self.indices),
            content_weights=self.weights, total=last["total"].copy(), content_loss=last["content"].copy(),
            style_loss=last["style"].copy(), tv_loss=last["tv"].copy(), active=full_active,
            elapsed=time.perf_counter() - self.started, current_images=self.current_images)

    def current_images(self) -> np.ndarray:
        """Every frame of the chunk now, uint8 at the full frame size."""
        images = self.parked.copy()
        images[self.rows] = np.asarray(ops.convert_to_numpy(self.optimizer.x))
        images = ops.clip(ops.convert_to_tensor(images), 0.0, 1.0)
        if tuple(images.shape[1:3]) != self.full_size:
            images = ops.image.resize(images, self.full_size, interpolation="bilinear")
        return to_uint8(images)

    def finish(self):
        """Retire every row; returns every frame's final iterate, as one tensor."""
        self.retire(np.arange(self.rows.size))
        if self.rows.size:
            self.parked[self.rows] = np.asarray(ops.convert_to_numpy(self.optimizer.x))
        return ops.convert_to_tensor(self.parked)
