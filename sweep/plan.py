"""The plan: which jobs (photo x artist) run which frames, and what that will cost.

Building a plan reads every input image, so a missing or broken file is refused
before anything is written.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .config import SAMPLE_PREFIX, VGG16_BLOCK_CHANNELS, VGG16_FEATURE_LAYERS, Config, check_safe_name, content_sources
from .images import load_image, resize_max_side

if TYPE_CHECKING:
    from .tiles import TileGrid

# Bytes kept per activation value during forward + input-gradient: the forward
# activation, its gradient, and the ReLU/conv temporaries (measured, see README).
_BYTES_PER_ACTIVATION = 4 * 3
_WEIGHTS_BYTES = 59 * 2**20


@dataclass
class Job:
    photo: str                 # the photo's name in the output layout
    artist: str
    photo_source: str
    style_source: str
    relative_dir: str          # "artist" for one photo, "photo/artist" for a gallery
    photo_image: np.ndarray = field(repr=False)    # uint8, resized to the frame size
    style_image: np.ndarray = field(repr=False)
    weights: list[float] = field(default_factory=list)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.photo_image.shape[0], self.photo_image.shape[1]


@dataclass
class Estimate:
    flops_per_frame_step: float
    seconds: float
    bytes_per_frame: int
    peak_bytes: int
    device: str
    tiles: "TileGrid | None" = None   # set when the frames are optimised in tiles (sweep/tiles.py)


@dataclass
class Plan:
    config: Config
    jobs: list[Job]
    chunk_size: int
    estimate: Estimate

    @property
    def frame_count(self) -> int:
        return sum(len(job.weights) for job in self.jobs)

    def describe(self) -> str:
        cfg = self.config
        weights = self.jobs[0].weights
        lines = [
            f"jobs: {len(self.jobs)} ({len({j.photo for j in self.jobs})} photo(s) x "
            f"{len(cfg.styles)} artist(s)), {self.frame_count} frames",
            f"content weights ({len(weights)}, {cfg.sweep.content_weight.spacing}): "
            + ", ".join(f"{w:.3g}" for w in weights),
            f"optimizer: {cfg.optimizer.name}, up to {cfg.optimizer.iterations} iterations per frame, "
            f"init {cfg.init}",
        ]
        for job in self.jobs:
            h, w = job.frame_size
            sh, sw = job.style_image.shape[:2]
            lines.append(f"  {job.relative_dir}: {w}x{h} frames from {job.photo_source}, "
                         f"style {job.artist} ({sw}x{sh}) from {job.style_source}")
        est = self.estimate
        if est.tiles is not None:
            lines.append(f"{est.tiles.describe(cfg.model.deepest_layer)}; estimated peak memory {est.peak_bytes / 2**20:.0f} MB "
                         f"(a whole frame would need {est.bytes_per_frame / 2**20:.0f} MB)")
        else:
            lines.append(f"chunks of {self.chunk_size} frame(s); estimated peak memory "
                         f"{est.peak_bytes / 2**20:.0f} MB ({est.bytes_per_frame / 2**20:.0f} MB per frame)")
        lines.append(f"estimated time: {format_duration(est.seconds)} on {est.device} "
                     f"(upper bound: every frame runs all its iterations)")
        return "\n".join(lines)


def chunk_frames(frames: Sequence[tuple[int, float]], size: int) -> list[list[tuple[int, float]]]:
    """Split [(index, content_weight), ...] on a fixed grid of frame indices.

    Chunk k always holds the indices k*size ... (k+1)*size - 1 that are in `frames`, so
    a resumed run batches its missing frames with the same neighbours as a clean run.
    That matters: batched convolutions round differently in different batches, and
    L-BFGS amplifies the difference in the most stylised frames.
    """
    size = max(1, int(size))
    chunks: dict[int, list[tuple[int, float]]] = {}
    for frame in frames:
        chunks.setdefault(frame[0] // size, []).append(frame)
    return [chunks[key] for key in sorted(chunks)]


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def layer_shapes(height: int, width: int, deepest: str) -> list[tuple[int, int, int, int]]:
    """(h, w, c_in, c_out) of every conv layer up to `deepest`, for a frame of height x width."""
    shapes = []
    c_in = 3
    for name in VGG16_FEATURE_LAYERS[:VGG16_FEATURE_LAYERS.index(deepest) + 1]:
        block = int(name[5])
        scale = 2 ** (block - 1)
        if "conv" in name:
            c_out = VGG16_BLOCK_CHANNELS[block]
            shapes.append((math.ceil(height / scale), math.ceil(width / scale), c_in, c_out))
            c_in = c_out
    return shapes


def activation_bytes(height: int, width: int, config: Config) -> int:
    """Bytes of VGG16's activations (and their gradients) for one height x width image."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    return sum(h * w * c_out for h, w, _, c_out in shapes) * _BYTES_PER_ACTIVATION


def optimiser_bytes(height: int, width: int, config: Config) -> int:
    """Bytes of the optimiser's frame-sized state (iterate, gradient, history) for one frame."""
    copies = 2 * config.optimizer.history + 9 if config.optimizer.name == "lbfgs" else 6
    return height * width * 3 * 4 * copies


def frame_costs(height: int, width: int, config: Config) -> tuple[float, int]:
    """FLOPs of one optimisation step and bytes held, for one frame."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    forward = sum(2 * 9 * h * w * c_in * c_out for h, w, c_in, c_out in shapes)
    # The input gradient costs about one more forward pass (no weight gradients).
    return 2.0 * forward, activation_bytes(height, width, config) + optimiser_bytes(height, width, config)


def photo_name(source: str) -> str:
    if source.startswith(SAMPLE_PREFIX):
        stem = source[len(SAMPLE_PREFIX):]
    else:
        stem = Path(source).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "photo"


def make_plan(config: Config) -> Plan:
    sources = content_sources(config)
    names = []
    for source in sources:
        name = photo_name(source)
        while name in names:
            name += "_"
        check_safe_name(name, "photo name")
        names.append(name)
    gallery = isinstance(config.content, list) or len(sources) > 1
    max_size = config.image.max_size
    style_side = max(16, round(max_size * config.image.style_scale))
    paintings = {artist: resize_max_side(load_image(path), style_side) for artist, path in config.styles.items()}
    weights = config.content_weights()
    jobs = []
    for name, source in zip(names, sources):
        photo = resize_max_side(load_image(source), max_size)
        for artist, painting in paintings.items():
            jobs.append(Job(photo=name, artist=artist, photo_source=source, style_source=config.styles[artist],
                            relative_dir=f"{name}/{artist}" if gallery else artist,
                            photo_image=photo, style_image=painting, weights=list(weights)))
    chunk_size, estimate = _size_chunks(config, jobs)
    return Plan(config=config, jobs=jobs, chunk_size=chunk_size, estimate=estimate)


def _size_chunks(config: Config, jobs: list[Job]) -> tuple[int, Estimate]:
    from .tiles import budget_bytes, tile_grid, tiled_flops, tiled_peak_bytes

    height = max(job.frame_size[0] for job in jobs)
    width = max(job.frame_size[1] for job in jobs)
    style_shape = max((job.style_image.shape[:2] for job in jobs), key=lambda shape: shape[0] * shape[1])
    flops, per_frame = frame_costs(height, width, config)
    budget = budget_bytes(config)
    from . import device  # imports Keras: only once the inputs have been read and checked
    frames = sum(len(job.weights) for job in jobs)
    rate = device.flops_per_second(config.model.precision)
    described = device.describe(config.model.precision)
    # A frame that does not fit is optimised alone, in tiles.
    tiles = tile_grid(config, height, width, style_shape, budget)
    if tiles is not None:
        return 1, Estimate(flops_per_frame_step=flops, seconds=frames * tiled_flops(tiles, config) / rate,
                           bytes_per_frame=per_frame, peak_bytes=tiled_peak_bytes(tiles, config, style_shape),
                           device=described, tiles=tiles)
    fitting = max(1, (budget - _WEIGHTS_BYTES) // per_frame)
    # An explicit runtime.chunk_size is honoured up to what fits the budget.
    chunk = min(config.runtime.chunk_size or fitting, fitting)
    chunk = int(max(1, min(chunk, len(jobs[0].weights))))
    seconds = frames * config.optimizer.iterations * flops / rate
    estimate = Estimate(flops_per_frame_step=flops, seconds=seconds,
                        bytes_per_frame=per_frame, peak_bytes=chunk * per_frame + _WEIGHTS_BYTES,
                        device=described)
    return chunk, estimate
