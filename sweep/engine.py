"""The optimiser loop: one job's frames, optimised together in chunks.

The loop knows nothing about files, progress bars or movies. It emits a
`StepRecord` after every iteration and a `FrameResult` for every finished frame
to its callbacks; saving, progress and previews hang off those.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
from keras import ops

from .colors import network_projection, optimisation_inputs, with_photo_chroma
from . import atomic, morph
from .config import MIN_IMAGE_SIDE, Config
from .gradients import make_objective
from .images import resize_to
from .losses import Targets, compute_targets, total_variation
from .model import FeatureExtractor, preprocess
from .neighbours import NeighbourCoupling
from .plan import chunk_frames
from .batch import StageBatch, to_uint8
from .records import Callback, FrameResult, Style
from .tiled import TiledFrame, TiledTargets
from .tiles import budget_bytes, tile_grid


def to_float_images(image_uint8: np.ndarray):
    return ops.convert_to_tensor(image_uint8[None].astype(np.float32) / 255.0)


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


def chain_start(first_index: int, chunk_size: int, done_frame: Callable[[int], np.ndarray | None]):
    """(index, image) of the frame that a chunk beginning at `first_index` starts from
    under `init: chain`: the nearest done frame below the chunk's place on the grid of
    plan.chunk_frames, so a resumed chunk starts where it did in the clean run. None: the
    chunk starts from the photo."""
    grid = max(1, int(chunk_size))
    for index in range(first_index // grid * grid - 1, -1, -1):
        image = done_frame(index)
        if image is not None:
            return index, image
    return None


def build_engine(config: Config, weights) -> "SweepEngine":
    """The engine for `config`, with the verified weights `weights` (`ResolvedWeights`) loaded."""
    from .gradients import enable_compilation_cache
    from .model import build_extractor
    from .weights import load_into

    enable_compilation_cache()
    extractor = build_extractor(config.model, lambda model: load_into(model, weights))
    return SweepEngine(config, extractor)


class SweepEngine:
    """Holds the network and the compiled objective; built once per run."""

    def __init__(self, config: Config, extractor: FeatureExtractor):
        self.config = config
        self.extractor = extractor
        self.evaluate_objective = make_objective(extractor)
        self.tiled = TiledFrame(self)

    def targets(self, photo01, paintings01, shares=(1.0,), colors: str = "style") -> Targets:
        """Targets of the photo and the paintings as the network sees them under `colors`
        (the images already prepared by colors.optimisation_inputs). `paintings01` is a
        batch (K, H, W, 3) or a list of K batches of one (paintings of different sizes)."""
        n_content = len(self.extractor.content_layers)
        photo_features = self.extractor.model(preprocess(photo01), training=False)
        batches = paintings01 if isinstance(paintings01, (list, tuple)) else [paintings01]
        painting_features = [self.extractor.model(preprocess(p), training=False)[n_content:] for p in batches]
        style_features = [list(layer) for layer in zip(*painting_features)]
        photo_style = photo_features[n_content:] if self.config.sweep.style_unit == "photo" else None
        painting_tvs = [tv for batch in batches for tv in ops.convert_to_numpy(total_variation(batch))]
        return compute_targets(photo_features[:n_content], style_features, photo01, shares,
                               network_projection(colors), photo_style, self.config.sweep.detail_full_at,
                               painting_tvs)

    def optimise(self, job: str, photo_uint8: np.ndarray, style: Style | np.ndarray,
                 frames: Sequence[tuple[int, float]], chunk_size: int,
                 callbacks: Sequence[Callback] = (),
                 start_images: dict[int, np.ndarray] | None = None,
                 stored_frame: Callable[[int], np.ndarray | None] | None = None,
                 layout: tuple[Sequence[float], Sequence[int]] | None = None) -> list[FrameResult]:
        """Optimise `frames` [(index, content_weight), ...] in chunks of `chunk_size`
        (see plan.chunk_frames). Frames in `start_images` start from that image
        instead of `initial_frames`.

        Under `init: chain` a chunk starts from the frame just below its place on the
        chunk grid (the nearest one below that is done): optimised earlier in this call,
        or, through `stored_frame(index)` (uint8 image or None), done in an earlier run.
        So a resumed run starts each chunk where the clean run did.

        Under `init: keyframes` the keyframes among `frames` run first, then the
        in-betweens from their keyframes (done now or stored): see sweep/morph.py.
        `layout` is the job's (content weights, keyframe indices), by default the config's
        (`spacing: even` places them after the keyframes: plan.Job).
        """
        cfg = self.config
        style = Style.of(style).for_photo(photo_uint8)
        photo01 = to_float_images(photo_uint8)
        stages = self._stages(photo_uint8, style, cfg.optimizer.iterations)
        finish = _finisher(style.colors, photo_uint8)
        if isinstance(stages[-1][3], TiledTargets):
            chunk_size = 1  # a frame that needs tiles is optimised alone
        for callback in callbacks:
            callback.on_job_start(job, len(frames), cfg.optimizer.iterations)
        results: list[FrameResult] = []
        finished: dict[int, np.ndarray] = {}

        def done_frame(index):
            if index in finished:
                return finished[index]
            return stored_frame(index) if stored_frame is not None else None

        def run(frames_of_pass, stages_of_pass, starts, couple=None, optimizer=cfg.optimizer):
            for chunk in chunk_frames(frames_of_pass, chunk_size):
                start = chain_start(chunk[0][0], chunk_size, done_frame) if cfg.init == "chain" else None
                neighbour = start[1] if start else None
                chunk_results = self._chunk_results(job, photo01, stages_of_pass, chunk, callbacks, finish,
                                                    optimizer, starts, neighbour, couple)
                with atomic.signals_deferred():  # an interrupt waits: a coupled group is stored whole
                    for result in chunk_results:
                        results.append(result)
                        if result.image is not None:
                            finished[result.index] = result.image
                        for callback in callbacks:
                            callback.on_frame(job, result)

        if cfg.init == "keyframes":
            layout = layout or (cfg.content_weights(), morph.keyframes_of(cfg))
            self._keyframes_then_in_betweens(run, frames, layout, stages, photo_uint8, style, start_images,
                                             done_frame)
        else:
            run(frames, stages, start_images)
        for callback in callbacks:
            callback.on_job_end(job)
        return results

    def _keyframes_then_in_betweens(self, run, frames, layout, stages, photo_uint8, style: Style, start_images,
                                    done_frame) -> None:
        """`init: keyframes` (sweep/morph.py): `run(frames, stages, starts, couple, optimizer)`
        first on the keyframes among `frames`, then on the in-betweens. The keyframes stop by
        the tighter of `keyframes.tolerance` and `optimizer.tolerance` (0 in either: never early)."""
        cfg = self.config
        weights, keyframes = layout
        keys, betweens = morph.split_passes(frames, keyframes)
        noise = morph.noise_starts(keys, cfg.keyframes.noise_below, photo_uint8.shape, cfg.seed)
        keyframe_optimizer = dataclasses.replace(
            cfg.optimizer, tolerance=min(cfg.optimizer.tolerance, cfg.keyframes.tolerance))
        if cfg.keyframes.continuation:
            # one after another, each from the keyframe before it (done now or stored)
            for key in keys:
                previous = morph.previous_keyframe(key[0], keyframes)
                image = done_frame(previous) if previous is not None else None
                previous_start = {} if image is None else {key[0]: image}
                run([key], stages, {**previous_start, **noise, **(start_images or {})}, optimizer=keyframe_optimizer)
        else:
            run(keys, stages, {**noise, **(start_images or {})}, optimizer=keyframe_optimizer)
        if betweens:
            starts = morph.in_between_starts(betweens, weights, keyframes, done_frame)
            iterations = morph.in_between_iterations(cfg.optimizer.iterations, cfg.keyframes.in_between_fraction)
            starts = {**starts, **(start_images or {})}

            def held(index):  # a neighbour outside an in-between's chunk (sweep/neighbours.py)
                image = starts.get(index) if index not in keyframes else None
                return morph.held_neighbour(index, weights, keyframes, done_frame, photo_uint8) \
                    if image is None else image

            strength = morph.coupling_strength(cfg.keyframes.coupling, [done_frame(k) for k in keyframes])
            couple = None if strength <= 0 else (
                lambda indices, x: NeighbourCoupling(indices, lambda n: held(n) / 255.0, x, strength))
            run(betweens, self._stages(photo_uint8, style, iterations), starts, couple)

    def _stages(self, photo_uint8, style: Style,
                total_iterations: int | None = None) -> list[tuple[int, float, object, Targets | TiledTargets]]:
        """(iterations, scale, photo01, targets) per coarse-to-fine scale, sharing
        `total_iterations` (default `optimizer.iterations`). At a coarse scale the paintings shrink by the same factor,
        so brush strokes keep their size relative to the frame. A scale whose frame does
        not fit the memory budget gets `TiledTargets` and is optimised in tiles."""
        opt = self.config.optimizer
        total_iterations = opt.iterations if total_iterations is None else total_iterations
        budget = None
        coarse = opt.scales[:-1]
        coarse_total = int(round(total_iterations * opt.coarse_fraction)) if coarse else 0
        stages = []
        for k, scale in enumerate(opt.scales):
            if scale < 1.0:
                iterations = coarse_total // len(coarse) + (k < coarse_total % len(coarse))
                if iterations == 0:
                    continue
                photo = _resize_uint8(photo_uint8, scale)
                paintings = [_resize_uint8(painting, scale) for painting in style.paintings]
            else:
                iterations, photo, paintings = total_iterations - coarse_total, photo_uint8, style.paintings
            budget = budget_bytes(self.config) if budget is None else budget
            largest = max((p.shape[:2] for p in paintings), key=lambda shape: shape[0] * shape[1])
            grid = tile_grid(self.config, photo.shape[0], photo.shape[1], largest, budget)
            targets = (self.tiled.targets(photo, paintings, style, grid) if grid is not None
                       else self.style_targets(photo, paintings, style))
            stages.append((iterations, scale, to_float_images(photo), targets))
        return stages

    def style_targets(self, photo_uint8, paintings_uint8, style: Style) -> Targets:
        """The targets of one scale, from the photo and paintings recoloured as `style.colors` says."""
        photo01, paintings01 = optimisation_inputs(photo_uint8.astype(np.float32) / 255.0,
                                                   [p.astype(np.float32) / 255.0 for p in paintings_uint8],
                                                   style.colors)
        return self.targets(ops.convert_to_tensor(photo01[None]), [ops.convert_to_tensor(p[None]) for p in paintings01],
                            style.weights, style.colors)

    def score(self, images_uint8: np.ndarray, photo_uint8: np.ndarray, style: Style | np.ndarray,
              content_weights: Sequence[float]) -> dict[str, np.ndarray]:
        """Per-frame content, style and TV losses of finished frames (uint8 (B, H, W, 3)
        at the photo's size) against `style`: e.g. a blend's frame against one of its paintings."""
        style = Style.of(style).for_photo(photo_uint8)
        evaluate = self._evaluator(np.asarray(content_weights, np.float32),
                                   self.style_targets(photo_uint8, style.paintings, style))
        _, content, style_value, tv, _ = evaluate(ops.convert_to_tensor(np.asarray(images_uint8, np.float32) / 255.0))
        return {name: np.asarray(ops.convert_to_numpy(v), dtype=np.float64)
                for name, v in (("content", content), ("style", style_value), ("tv", tv))}

    def _chunk_results(self, job, photo01, stages, chunk, callbacks, finish, optimizer, starts, neighbour,
                       couple) -> list[FrameResult]:
        """`_optimise_chunk`. Coupled, a frame whose loss turns NaN fails its whole group, so
        each frame of the chunk that failed is optimised again alone (its neighbours held):
        one bad frame does not take its neighbours with it."""
        results = self._optimise_chunk(job, photo01, stages, chunk, callbacks, finish, optimizer, starts, neighbour,
                                       couple)
        if couple is None or len(chunk) == 1:
            return results
        return [self._optimise_chunk(job, photo01, stages, [frame], callbacks, finish, optimizer, starts, None,
                                     couple)[0] if result.status == "failed" else result
                for frame, result in zip(chunk, results)]

    def _optimise_chunk(self, job, photo01, stages, chunk, callbacks, finish, optimizer,
                        start_images=None, neighbour=None, couple=None) -> list[FrameResult]:
        """`couple(indices, x0)`, when given, couples the chunk's frames with their
        neighbours in the sweep (sweep/neighbours.py); the stored losses never include
        it. `optimizer` (a config section) sets the stopping rule."""
        cfg = self.config
        indices = [index for index, _ in chunk]
        weights = np.array([weight for _, weight in chunk], dtype=np.float32)
        if cfg.init == "chain" and neighbour is not None:
            x = ops.repeat(to_float_images(neighbour), len(chunk), axis=0)
        else:
            x = initial_frames("noise" if cfg.init == "noise" else "content", photo01, indices, cfg.seed)
        x = with_start_images(x, indices, start_images)
        coupling = couple(indices, x) if couple is not None else None
        full_size = tuple(int(d) for d in ops.shape(photo01)[1:3])
        failed = np.zeros(len(chunk), dtype=bool)
        iterations_done = np.zeros(len(chunk), dtype=int)
        offset = 0
        previous_photo = photo01
        # Tiles of the tiled stages: one evaluation per iteration, plus the optimiser's
        # first and the final score.
        self.tiled.track(job, callbacks, sum((n + 2) * t.grid.visit_count // t.grid.passes
                                             for n, _, _, t in stages if isinstance(t, TiledTargets)))
        for iterations, _, stage_photo, targets in stages:
            size = tuple(int(d) for d in ops.shape(stage_photo)[1:3])
            if tuple(ops.shape(x)[1:3]) != size:
                x = _rescaled(x, stage_photo, previous_photo)
                if coupling is not None:
                    coupling.resize(lambda images: _rescaled(images, stage_photo, photo01))
            previous_photo = stage_photo
            if iterations > 0 and not failed.all():
                def evaluator(rows, t=targets):
                    objective = self._evaluator(weights[rows], t)
                    return objective if coupling is None else coupling.evaluator(objective, rows)

                batch = StageBatch(x, failed, iterations_done, indices, weights, evaluator, optimizer, full_size,
                                   None if coupling is None else coupling.groups)
                x = self._run_stage(job, batch, iterations, offset, callbacks, finish)
                failed, iterations_done = batch.failed, batch.iterations_done
            offset += iterations
        evaluate = self._evaluator(weights, stages[-1][3])
        # Score what is actually stored: the clipped frame, not the raw iterate (and
        # under colors: photo, the frame with the photo's chroma; its luminance is scored).
        final = ops.clip(x, 0.0, 1.0)
        images = finish(to_uint8(final))
        if finish is not _unchanged:
            final = ops.convert_to_tensor(images.astype(np.float32) / 255.0)
        total, content, style, tv, _ = evaluate(final)
        content, style, tv = (np.asarray(ops.convert_to_numpy(v), dtype=np.float64) for v in (content, style, tv))
        results = []
        for k, (index, weight) in enumerate(chunk):
            bad = bool(failed[k]) or not np.isfinite([content[k], style[k], tv[k]]).all()
            results.append(FrameResult(
                index=index, content_weight=float(weight), image=None if bad else images[k],
                content_loss=float(content[k]), style_loss=float(style[k]), tv_loss=float(tv[k]),
                iterations=int(iterations_done[k]), status="failed" if bad else "done",
                message="the loss became NaN or Inf twice, also with a smaller step" if bad else ""))
        return results

    def _evaluator(self, weights, targets: Targets | TiledTargets):
        """The batch's objective: per-frame totals, content, style, TV and the gradient."""
        cfg = self.config
        if isinstance(targets, TiledTargets):  # a frame larger than the memory budget
            objective = self.tiled.objective(targets, float(weights[0]), cfg.sweep.style_weight, cfg.sweep.tv_weight)
        else:
            settings = (ops.convert_to_tensor(np.asarray(weights, dtype=np.float32)),
                        ops.convert_to_tensor(np.float32(cfg.sweep.style_weight)),
                        ops.convert_to_tensor(np.float32(cfg.sweep.tv_weight)),
                        targets.as_args())
            objective = lambda x: self.evaluate_objective(x, *settings)  # noqa: E731
        return objective

    def _run_stage(self, job: str, batch: StageBatch, iterations: int, offset: int, callbacks,
                   finish: Callable[[np.ndarray], np.ndarray]) -> object:
        """Run one scale's iterations on the chunk; returns every frame's final iterate.
        Snapshots (`StepRecord.current_images`) show the frames as they will be stored (`finish`)."""
        for iteration in range(1, iterations + 1):
            active = batch.active()
            if not active.any():
                break
            active = batch.shrink(active)
            batch.step(active)
            record = batch.record(job, offset + iteration, active)
            if finish is not _unchanged:
                record = dataclasses.replace(record, current_images=lambda: finish(batch.current_images()))
            for callback in callbacks:
                callback.on_step(record)
        return batch.finish()


def _rescaled(images, stage_photo, previous_photo):
    """`images` at the size of `stage_photo`. Only the change from the photo is resized: the
    photo's own detail comes from the photo at the new size, not from an upsampled (blurred) frame."""
    size = tuple(int(d) for d in ops.shape(stage_photo)[1:3])
    return stage_photo + ops.image.resize(images - previous_photo, size, interpolation="bilinear")


def _unchanged(images_uint8: np.ndarray) -> np.ndarray:
    return images_uint8


def _finisher(colors: str, photo_uint8: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """What turns the optimised frames (uint8 batch) into the stored ones: under
    colors: photo, each frame's luminance with the photo's chroma."""
    if colors == "photo":
        return lambda images: with_photo_chroma(images, photo_uint8)
    return _unchanged


def _resize_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    height, width = image.shape[:2]
    return resize_to(image, (max(MIN_IMAGE_SIDE, round(height * scale)), max(MIN_IMAGE_SIDE, round(width * scale))))
