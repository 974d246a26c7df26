"""The plan: which jobs (photo x artist) run which frames, and what that will cost.

Building a plan reads every input image, so a missing or broken file is refused
before anything is written.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import MIN_IMAGE_SIDE, VGG16_BLOCK_CHANNELS, VGG16_FEATURE_LAYERS, Config, check_safe_name, content_sources
from .errors import SweepError
from .images import load_image, resize_max_side
from .layout import job_dirs
from .records import Style
from .morph import iteration_budget
from .samples import SAMPLE_PREFIX
from .weight_text import format_weight

# Bytes kept per activation value during forward + input-gradient: the forward
# activation, its gradient, and the ReLU/conv temporaries: a rough upper bound, which the plan's
# chunk size and peak-memory estimate use.
_BYTES_PER_ACTIVATION = 4 * 3
_WEIGHTS_BYTES = 59 * 2**20


@dataclass
class Job:
    photo: str                 # the photo's name in the output layout
    artist: str
    photo_source: str
    style_sources: list[str]   # the artist's paintings
    relative_dir: str          # "artist" for one photo, "photo/artist" for a gallery
    photo_image: np.ndarray = field(repr=False)    # uint8, resized to the frame size
    style: Style
    weights: list[float] = field(default_factory=list)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.photo_image.shape[0], self.photo_image.shape[1]

    def artist_record(self) -> dict:
        """The artist as every frame record in frames.json names it."""
        return {"name": self.artist, "paintings": list(self.style_sources),
                "weights": list(self.style.weights), "colors": self.style.colors}


@dataclass
class Estimate:
    flops_per_frame_step: float
    seconds: float
    bytes_per_frame: int
    peak_bytes: int
    device: str


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
            + ", ".join(format_weight(w) for w in weights),
            f"optimizer: {cfg.optimizer.name}, up to {cfg.optimizer.iterations} iterations per frame, "
            f"init {cfg.init}",
        ]
        for job in self.jobs:
            h, w = job.frame_size
            lines.append(f"  {job.relative_dir}: {w}x{h} frames from {job.photo_source}, "
                         f"style {job.artist} ({describe_style(job)})")
        est = self.estimate
        lines.append(f"chunks of {self.chunk_size} frame(s); estimated peak memory "
                     f"{est.peak_bytes / 2**20:.0f} MB ({est.bytes_per_frame / 2**20:.0f} MB per frame)")
        lines.append(f"estimated time: {format_duration(est.seconds)} on {est.device} "
                     f"(upper bound: every frame runs all its iterations)")
        return "\n".join(lines)


def describe_style(job: Job) -> str:
    """The artist's paintings (size, share, source) and colours, for the plan."""
    parts = []
    for source, image, share in zip(job.style_sources, job.style.paintings, job.style.weights):
        sh, sw = image.shape[:2]
        parts.append(f"{sw}x{sh}{f' x {share:.3g}' if len(job.style_sources) > 1 else ''} from {source}")
    return f"{'; '.join(parts)}; colors {job.style.colors}"


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


def frame_costs(height: int, width: int, config: Config) -> tuple[float, int]:
    """FLOPs of one optimisation step and bytes held, for one frame."""
    shapes = layer_shapes(height, width, config.model.deepest_layer)
    forward = sum(2 * 9 * h * w * c_in * c_out for h, w, c_in, c_out in shapes)
    activations = sum(h * w * c_out for h, w, _, c_out in shapes)
    pixels = height * width * 3
    optimizer_copies = 2 * config.optimizer.history + 9 if config.optimizer.name == "lbfgs" else 6
    # The input gradient costs about one more forward pass (no weight gradients).
    return 2.0 * forward, activations * _BYTES_PER_ACTIVATION + pixels * 4 * optimizer_copies


def largest_fitting_size(config: Config, aspect: float, budget: int) -> int:
    """The largest max_size whose single frame fits `budget` bytes (0 if none)."""
    best = 0
    for size in range(MIN_IMAGE_SIDE, 4097, MIN_IMAGE_SIDE):
        h, w = (size, max(1, round(size * aspect))) if aspect <= 1 else (max(1, round(size / aspect)), size)
        if frame_costs(h, w, config)[1] + _WEIGHTS_BYTES <= budget:
            best = size
        else:
            break
    return best


def photo_name(source: str) -> str:
    if source.startswith(SAMPLE_PREFIX):
        stem = source[len(SAMPLE_PREFIX):]
    else:
        stem = Path(source).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "photo"


def job_names(config: Config) -> list[tuple[str, str, str, str]]:
    """(photo name, photo source, artist, job directory) of every job, photo-major,
    without reading an image: each photo gets a unique name, and a gallery (several
    photos, or a list of one) puts its jobs under the photo's name (`sweep.layout.job_dirs`)."""
    sources = content_sources(config)
    names: list[str] = []
    for source in sources:
        name = photo_name(source)
        while name in names:
            name += "_"
        check_safe_name(name, "photo name")
        names.append(name)
    gallery = isinstance(config.content, list) or len(sources) > 1
    artists = list(config.styles)
    relative_dirs = iter(job_dirs(names, artists, gallery))
    return [(name, source, artist, next(relative_dirs)) for name, source in zip(names, sources) for artist in artists]


def read_styles(config: Config, side: int) -> dict[str, Style]:
    """Every artist's paintings read (each file once) and resized to longest side `side`."""
    images: dict[str, np.ndarray] = {}
    for artist in config.styles.values():
        for path in artist.paintings:
            if path not in images:
                images[path] = resize_max_side(load_image(path), side)
    return {name: Style(paintings=[images[path] for path in artist.paintings], weights=list(artist.weights),
                        colors=artist.colors) for name, artist in config.styles.items()}


def make_plan(config: Config) -> Plan:
    max_size = config.image.max_size
    style_side = max(MIN_IMAGE_SIDE, round(max_size * config.image.style_scale))
    styles = read_styles(config, style_side)
    weights = config.content_weights()
    jobs = []
    photos: dict[str, np.ndarray] = {}
    for name, source, artist, relative_dir in job_names(config):
        if source not in photos:
            photos[source] = resize_max_side(load_image(source), max_size)
        jobs.append(Job(photo=name, artist=artist, photo_source=source,
                        style_sources=list(config.styles[artist].paintings), relative_dir=relative_dir,
                        photo_image=photos[source], style=styles[artist], weights=list(weights)))
    chunk_size, estimate = size_chunks(config, jobs)
    return Plan(config=config, jobs=jobs, chunk_size=chunk_size, estimate=estimate)


def chunk_size_for(config: Config, photo: np.ndarray, style: Style, weights: Sequence[float]) -> int:
    """Frames per batch for one job's frames on this machine (`size_chunks` of that job):
    a Ray worker sizes its own batches with it, the driver may have planned on another machine."""
    job = Job(photo="", artist="", photo_source="", style_sources=[], relative_dir="",
              photo_image=photo, style=style, weights=list(weights))
    return size_chunks(config, [job])[0]


def size_chunks(config: Config, jobs: list[Job]) -> tuple[int, Estimate]:
    """(frames per batch, the run's estimate): `runtime.chunk_size` when set, capped by
    what fits the memory budget, else as many frames as fit it."""
    height = max(job.frame_size[0] for job in jobs)
    width = max(job.frame_size[1] for job in jobs)
    flops, per_frame = frame_costs(height, width, config)
    budget = config.runtime.memory_budget_mb * 2**20
    if not budget:
        from . import device  # imports Keras: only once the inputs have been read and checked
        budget = device.memory_budget_bytes()
    frames_per_job = len(jobs[0].weights)
    if per_frame + _WEIGHTS_BYTES > budget:
        fits = largest_fitting_size(config, width / height, budget)
        hint = (f"; the largest image.max_size that fits is {fits}" if fits else
                f"; not even image.max_size={MIN_IMAGE_SIDE} fits: raise runtime.memory_budget_mb")
        raise SweepError(f"one {width}x{height} frame needs about {per_frame / 2**20:.0f} MB, more than the "
                         f"{budget / 2**20:.0f} MB memory budget{hint}")
    fitting = max(1, (budget - _WEIGHTS_BYTES) // per_frame)
    # An explicit runtime.chunk_size is honoured up to what fits the budget.
    chunk = min(config.runtime.chunk_size or fitting, fitting)
    chunk = int(max(1, min(chunk, frames_per_job)))
    from . import device  # imports Keras: only once the inputs have been read and checked
    total_steps = len(jobs) * iteration_budget(config)
    seconds = total_steps * flops / device.flops_per_second(config.model.precision)
    estimate = Estimate(flops_per_frame_step=flops, seconds=seconds,
                        bytes_per_frame=per_frame, peak_bytes=chunk * per_frame + _WEIGHTS_BYTES,
                        device=device.describe(config.model.precision))
    return chunk, estimate
