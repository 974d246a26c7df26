"""The optimiser loop: one job's frames, optimised together in chunks.

The loop knows nothing about files, progress bars or movies. It emits a
`StepRecord` after every iteration and a `FrameResult` for every finished frame
to its callbacks; saving, progress and previews hang off those.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from keras import ops

from .config import Config
from .gradients import make_objective
from .losses import Targets, compute_targets
from .model import FeatureExtractor, preprocess
from .optimizers import make_optimizer


# Re-exported: the records and hooks are defined keras-free in records.py.
from .records import Callback, FrameResult, StepRecord  # noqa: E402,F401


def to_float_images(image_uint8: np.ndarray):
    return ops.convert_to_tensor(image_uint8[None].astype(np.float32) / 255.0)


def to_uint8(images01) -> np.ndarray:
    array = np.asarray(ops.convert_to_numpy(images01), dtype=np.float32)
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def initial_frames(init: str, photo01, indices: Sequence[int], seed: int):
    """The starting images of a chunk. Noise is seeded per frame index, so a frame
    starts the same whichever chunk, process or machine optimises it."""
    count = len(indices)
    if init == "content":
        return ops.repeat(photo01, count, axis=0)
    shape = tuple(int(d) for d in ops.shape(photo01)[1:])
    noise = np.stack([np.random.default_rng([seed, index]).uniform(0, 1, shape) for index in indices])
    return ops.convert_to_tensor(noise.astype(np.float32))


def with_start_images(x0, indices: Sequence[int], start_images: dict[int, np.ndarray] | None):
    """`x0` with the rows of the frames in `start_images` (uint8 (H, W, 3) of the
    frame size, by frame index) replaced by those images; `sweep pick --size` starts
    a re-render from the upsampled preview this way."""
    if not start_images or not any(index in start_images for index in indices):
        return x0
    array = np.array(ops.convert_to_numpy(x0), dtype=np.float32)
    for k, index in enumerate(indices):
        if index in start_images:
            image = np.asarray(start_images[index])
            if image.shape != array.shape[1:]:
                raise ValueError(f"start image of frame {index} is {image.shape}, the frames are {array.shape[1:]}")
            array[k] = image.astype(np.float32) / 255.0
    return ops.convert_to_tensor(array)


class SweepEngine:
    """Holds the network and the compiled objective; built once per run."""

    def __init__(self, config: Config, extractor: FeatureExtractor):
        self.config = config
        self.extractor = extractor
        self.evaluate_objective = make_objective(extractor)

    def targets(self, photo01, painting01) -> Targets:
        n_content = len(self.extractor.content_layers)
        photo_features = self.extractor.model(preprocess(photo01), training=False)
        painting_features = self.extractor.model(preprocess(painting01), training=False)
        return compute_targets(photo_features[:n_content], painting_features[n_content:], photo01)

    def optimise(self, job: str, photo_uint8: np.ndarray, painting_uint8: np.ndarray,
                 frames: Sequence[tuple[int, float]], chunk_size: int,
                 callbacks: Sequence[Callback] = (),
                 start_images: dict[int, np.ndarray] | None = None) -> list[FrameResult]:
        """Optimise `frames` [(index, content_weight), ...] in chunks of `chunk_size`.
        Frames in `start_images` start from that image instead of `initial_frames`."""
        cfg = self.config
        photo01 = to_float_images(photo_uint8)
        targets = self.targets(photo01, to_float_images(painting_uint8))
        for callback in callbacks:
            callback.on_job_start(job, len(frames), cfg.optimizer.iterations)
        results = []
        for start in range(0, len(frames), max(1, chunk_size)):
            chunk = list(frames[start:start + max(1, chunk_size)])
            for result in self._optimise_chunk(job, photo01, targets, chunk, callbacks, start_images):
                results.append(result)
                for callback in callbacks:
                    callback.on_frame(job, result)
        for callback in callbacks:
            callback.on_job_end(job)
        return results

    def _optimise_chunk(self, job, photo01, targets: Targets, chunk, callbacks,
                        start_images=None) -> list[FrameResult]:
        cfg = self.config
        indices = [index for index, _ in chunk]
        weights = np.array([weight for _, weight in chunk], dtype=np.float32)
        settings = (ops.convert_to_tensor(weights),
                    ops.convert_to_tensor(np.float32(cfg.sweep.style_weight)),
                    ops.convert_to_tensor(np.float32(cfg.sweep.tv_weight)),
                    targets.as_args())

        def evaluate(x):
            return self.evaluate_objective(x, *settings)

        x0 = with_start_images(initial_frames(cfg.init, photo01, indices, cfg.seed), indices, start_images)
        optimizer = make_optimizer(cfg.optimizer.name, evaluate, x0, cfg.optimizer)
        converged = np.zeros(len(chunk), dtype=bool)
        quiet_steps = np.zeros(len(chunk), dtype=int)
        iterations_done = np.zeros(len(chunk), dtype=int)
        previous = None
        started = time.perf_counter()
        for iteration in range(1, cfg.optimizer.iterations + 1):
            active = ~converged & ~optimizer.failed & ~optimizer.stalled
            if not active.any():
                break
            values = optimizer.step(active)
            iterations_done += active
            if previous is not None and cfg.optimizer.tolerance > 0:
                change = np.abs(previous - values.total) / np.maximum(np.abs(previous), 1e-12)
                quiet_steps = np.where(change < cfg.optimizer.tolerance, quiet_steps + 1, 0)
                converged |= quiet_steps >= cfg.optimizer.patience
            previous = values.total
            record = StepRecord(
                job=job, iteration=iteration, iterations=cfg.optimizer.iterations,
                frame_indices=indices, content_weights=weights, total=values.total,
                content_loss=values.content, style_loss=values.style, tv_loss=values.tv,
                active=active, elapsed=time.perf_counter() - started,
                current_images=lambda: to_uint8(ops.clip(optimizer.x, 0.0, 1.0)))
            for callback in callbacks:
                callback.on_step(record)
        # Score what is actually stored: the clipped frame, not the raw iterate.
        final = ops.clip(optimizer.x, 0.0, 1.0)
        total, content, style, tv, _ = evaluate(final)
        content, style, tv = (np.asarray(ops.convert_to_numpy(v), dtype=np.float64) for v in (content, style, tv))
        images = to_uint8(final)
        results = []
        for k, (index, weight) in enumerate(chunk):
            failed = bool(optimizer.failed[k]) or not np.isfinite([content[k], style[k], tv[k]]).all()
            results.append(FrameResult(
                index=index, content_weight=float(weight), image=None if failed else images[k],
                content_loss=float(content[k]), style_loss=float(style[k]), tv_loss=float(tv[k]),
                iterations=int(iterations_done[k]), status="failed" if failed else "done",
                message="the loss became NaN or Inf twice, also with a smaller step" if failed else ""))
        return results
