"""The plan: which jobs (photo x artist) run which frames, and what that will cost.

Building a plan reads every input image, so a missing or broken file is refused
before anything is written.
"""
from __future__ import annotations

import glob
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .config import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, VGG16_FEATURE_LAYERS, Config, content_sources
from .costs import _WEIGHTS_BYTES, forward_bytes, frame_costs
from .errors import SweepError
from .images import load_image, resize_max_side
from .layout import MAX_NAME, MAX_NAME_BYTES, check_safe_name, job_dirs, name_bytes, name_fits
from .records import Style
from .morph import even_spacing, iteration_budget, keyframes_of
from .samples import SAMPLE_PREFIX
from .weight_text import format_weight

if TYPE_CHECKING:
    from .tiles import TileGrid



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
    # Indices of the keyframes under init: keyframes (sweep/morph.py); `spacing: even`
    # sets them, and the weights, once its keyframes are done (sweep/spacing.py).
    keyframes: list[int] = field(default_factory=list)

    @property
    def layout(self) -> tuple[list[float], list[int]]:
        """(content weights, keyframe indices): what the engine blends the in-betweens by."""
        return self.weights, self.keyframes

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.photo_image.shape[0], self.photo_image.shape[1]

    @property
    def inputs_sha256(self) -> str:
        return inputs_digest(self.photo_image, self.style.paintings)

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
        lines = [
            f"jobs: {len(self.jobs)} ({len({j.photo for j in self.jobs})} photo(s) x "
            f"{len(cfg.styles)} artist(s)), {self.frame_count} frames",
            describe_weights(self.jobs[0], cfg),
            f"optimizer: {cfg.optimizer.name}, up to {cfg.optimizer.iterations} iterations per frame, "
            f"init {cfg.init}",
        ]
        for job in self.jobs:
            h, w = job.frame_size
            lines.append(f"  {job.relative_dir}: {w}x{h} frames from {job.photo_source}, "
                         f"style {job.artist} ({describe_style(job)})")
        est = self.estimate
        if est.tiles is not None:
            lines.append(f"{est.tiles.describe(cfg.model.deepest_layer)}; estimated peak memory "
                         f"{est.peak_bytes / 2**20:.0f} MB (a whole frame would need "
                         f"{est.bytes_per_frame / 2**20:.0f} MB)")
        else:
            lines.append(f"chunks of {self.chunk_size} frame(s); estimated peak memory "
                         f"{est.peak_bytes / 2**20:.0f} MB ({est.bytes_per_frame / 2**20:.0f} MB per frame)")
        lines.append(f"estimated time: {format_duration(est.seconds)} on {est.device} "
                     f"(upper bound: every frame runs all its iterations)")
        return "\n".join(lines)


def describe_weights(job: Job, config: Config) -> str:
    """The plan's line of content weights; under `spacing: even` the keyframes' only, as
    the in-betweens are placed once they are done (sweep/spacing.py)."""
    if even_spacing(config):
        keyframes = ", ".join(format_weight(job.weights[k]) for k in job.keyframes)
        if len(job.keyframes) == len(job.weights):   # one or two steps, or keyframes.every: 1
            return f"content weights ({len(job.weights)}, even): keyframes at {keyframes}; there are no in-betweens"
        return (f"content weights ({len(job.weights)}, even): keyframes at {keyframes}"
                + "; the in-betweens are placed where the keyframes differ most, once they are done")
    spacing = "linear" if config.sweep.content_weight.spacing == "linear" else "log"
    return f"content weights ({len(job.weights)}, {spacing}): " + ", ".join(format_weight(w) for w in job.weights)


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


def photo_name(source: str) -> str:
    if source.startswith(SAMPLE_PREFIX):
        stem = source[len(SAMPLE_PREFIX):]
    else:
        stem = Path(source).stem
    # letters of any script stay (as in artist names): 東京.png and 大阪.png are two folders
    return re.sub(r"[^\w.-]+", "_", stem).strip("._") or "photo"


def photo_names(sources: Sequence[str]) -> list[str]:
    """A directory name per photo that depends only on that photo's own path and the
    names it collides with, so that a gallery glob gaining or losing a file renames no
    other job (whose frames would then resume into the wrong photo) unless the new
    file's name collides with it: the file stem, or, where two stems collide, the stem
    with its extension, then with its parent folder too, then with a digest of its
    whole path (`a b.png` and `a_b.png` read alike). A name that still meets another
    one's (`a_png.jpg` against the `a_png` of `a.png` beside `a.jpg`), or is too long for a
    folder, takes the digest. Names that differ only in case are two folders, except on a
    file system that ignores case, where the run refuses them (`RunStore.check_case_collisions`)."""
    def candidates(source: str) -> list[str]:
        if source.startswith(SAMPLE_PREFIX):
            return [photo_name(source)]
        path = Path(source)
        digest = hashlib.sha256(str(path).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        short = photo_name(source)[:MAX_NAME - 9]
        while name_bytes(short) > MAX_NAME_BYTES - 9:
            short = short[:-1]
        with_digest = f"{short}_{digest}"
        names = [photo_name(source), photo_name(path.name.replace(".", "_")),
                 photo_name(f"{path.parent.name}_{path.name}".replace(".", "_")),
                 photo_name(str(path).replace("/", "_").replace(".", "_"))]
        return [name if name_fits(name) else with_digest for name in names] + [with_digest]

    options = [candidates(source) for source in sources]
    names = []
    for own in options:
        level = 0
        while level < len(own) - 1 and sum(own[level] == (o[level] if level < len(o) else None)
                                           for o in options) > 1:
            level += 1
        names.append(own[level])
    names = [own[-1] if names.count(name) > 1 else name for name, own in zip(names, options)]
    for name, source in zip(names, sources):
        check_safe_name(name, "photo name")
        if names.count(name) > 1:
            raise SweepError(f"two photos would share the output folder {name!r} (one is {source}); "
                             f"list each photo once, or rename one")
    return names


def is_gallery(config: Config) -> bool:
    """A list or a glob of photos lays out PHOTO/ARTIST folders, however many files match."""
    items = config.content if isinstance(config.content, list) else [config.content]
    return isinstance(config.content, list) or any(glob.has_magic(item) and not item.startswith(SAMPLE_PREFIX)
                                                   for item in items)


def job_names(config: Config) -> list[tuple[str, str, str, str]]:
    """(photo name, photo source, artist, job directory) of every job, photo-major,
    without reading an image: each photo gets a unique name (`photo_names`), and a
    gallery (a list or a glob) puts its jobs under the photo's name (`sweep.layout.job_dirs`)."""
    sources = content_sources(config)
    names = photo_names(sources)
    artists = list(config.styles)
    relative_dirs = iter(job_dirs(names, artists, is_gallery(config)))
    return [(name, source, artist, next(relative_dirs)) for name, source in zip(names, sources) for artist in artists]


def inputs_digest(photo: np.ndarray, paintings: Sequence[np.ndarray]) -> str:
    """sha256 over a job's decoded, resized photo and paintings: a new image saved
    under an old name changes it."""
    digest = hashlib.sha256()
    for image in (photo, *paintings):
        digest.update(repr(image.shape).encode())
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def read_styles(config: Config, side: int) -> dict[str, Style]:
    """Every artist's paintings read (each file once) and resized to longest side `side`."""
    images: dict[str, np.ndarray] = {}
    for artist in config.styles.values():
        for path in artist.paintings:
            if path not in images:
                images[path] = _frame_sized(config, "painting", path, side,
                                            "image.style_scale x image.max_size", config.image.style_scale)
    return {name: Style(paintings=[images[path] for path in artist.paintings], weights=list(artist.weights),
                        colors=artist.colors) for name, artist in config.styles.items()}


def make_plan(config: Config, size_setting: str = "image.max_size") -> Plan:
    """The jobs and their cost; `size_setting` is what sets the frames' longest side, for
    the message of a frame that does not fit the memory budget (`sweep pick`: --size)."""
    jobs = make_jobs(config)
    chunk_size, estimate = size_chunks(config, jobs, size_setting)
    return Plan(config=config, jobs=jobs, chunk_size=chunk_size, estimate=estimate)


def make_jobs(config: Config) -> list[Job]:
    """Every job, with its photo and paintings read and resized to the frame size."""
    max_size = config.image.max_size
    style_side = max(MIN_IMAGE_SIDE, round(max_size * config.image.style_scale))
    styles = read_styles(config, style_side)
    weights = config.content_weights()
    jobs = []
    photos: dict[str, np.ndarray] = {}
    for name, source, artist, relative_dir in job_names(config):
        if source not in photos:
            photos[source] = _frame_sized(config, "photo", source, max_size, "image.max_size", 1.0)
        jobs.append(Job(photo=name, artist=artist, photo_source=source,
                        style_sources=list(config.styles[artist].paintings), relative_dir=relative_dir,
                        photo_image=photos[source], style=styles[artist], weights=list(weights),
                        keyframes=keyframes_of(config)))
    return jobs


def _frame_sized(config: Config, what: str, source: str, side: int, key: str, scale: float) -> np.ndarray:
    """The input resized to its longest side `side`, refused when VGG16 cannot take it."""
    original = load_image(source)
    if max(original.shape[:2]) < MIN_IMAGE_SIDE:   # a 1x1 photo was stretched into a flat frame
        raise SweepError(f"{what} {source} is {original.shape[1]}x{original.shape[0]} px: too small to carry a "
                         f"picture; sweep takes images of at least {MIN_IMAGE_SIDE} px on the long side")
    image = resize_max_side(original, side)
    check_frame_side(what, source, image.shape[:2], original.shape[:2], f"{key} = {side}", scale, config)
    return image


def chunk_size_for(config: Config, photo: np.ndarray, style: Style, weights: Sequence[float]) -> int:
    """Frames per batch for one job's frames on this machine (`size_chunks` of that job):
    a Ray worker sizes its own batches with it, the driver may have planned on another machine."""
    job = Job(photo="", artist="", photo_source="", style_sources=[], relative_dir="",
              photo_image=photo, style=style, weights=list(weights))
    return size_chunks(config, [job])[0]


def size_chunks(config: Config, jobs: list[Job], size_setting: str = "image.max_size") -> tuple[int, Estimate]:
    """(frames per batch, the run's estimate): `runtime.chunk_size` when set, capped by
    what fits the memory budget, else as many frames as fit it; 1 for frames that do
    not fit the budget, which are optimised in tiles (sweep/tiles.py; `size_setting` as
    in `make_plan`)."""
    from .tiles import budget_bytes, tile_grid, tiled_flops, tiled_peak_bytes, whole_frame_bytes

    height = max(job.frame_size[0] for job in jobs)
    width = max(job.frame_size[1] for job in jobs)
    # The resident painting of a tiled frame: the largest of any artist's paintings.
    style_shape = max((p.shape[:2] for job in jobs for p in job.style.paintings), key=lambda shape: shape[0] * shape[1])
    flops, per_frame = frame_costs(height, width, config)
    budget = budget_bytes(config)
    from . import device  # imports Keras: only once the inputs have been read and checked
    frames = sum(len(job.weights) for job in jobs)
    rate = device.flops_per_second(config.model.precision)
    described = device.describe(config.model.precision)
    # A frame that does not fit is optimised alone, in tiles.
    tiles = tile_grid(config, height, width, style_shape, budget, size_setting)
    if tiles is not None:
        return 1, Estimate(flops_per_frame_step=flops, seconds=frames * tiled_flops(tiles, config) / rate,
                           bytes_per_frame=whole_frame_bytes(height, width, style_shape, config),
                           peak_bytes=tiled_peak_bytes(tiles, config, style_shape),
                           device=described, tiles=tiles)
    fixed = _WEIGHTS_BYTES + forward_bytes(*style_shape, config)   # the weights, the painting's pass
    fitting = max(1, (budget - fixed) // per_frame)
    # An explicit runtime.chunk_size is honoured up to what fits the budget.
    chunk = min(config.runtime.chunk_size or fitting, fitting)
    chunk = int(max(1, min(chunk, len(jobs[0].weights))))
    # Frame-iterations of every job: under init: keyframes the in-betweens run a share of them.
    seconds = len(jobs) * iteration_budget(config) * flops / rate
    estimate = Estimate(flops_per_frame_step=flops, seconds=seconds,
                        bytes_per_frame=per_frame, peak_bytes=chunk * per_frame + fixed,
                        device=described)
    return chunk, estimate


def min_frame_side(deepest_layer: str) -> int:
    """The shortest side VGG16 accepts up to `deepest_layer`: 2 per pooling layer on the way."""
    layers = VGG16_FEATURE_LAYERS[:VGG16_FEATURE_LAYERS.index(deepest_layer) + 1]
    return 2 ** sum(1 for name in layers if name.endswith("_pool"))


def check_frame_side(what: str, source: str, image_hw: tuple[int, int], original_hw: tuple[int, int],
                     key: str, scale: float, config) -> None:
    """Refuse an input whose short side at the frame size is below min_frame_side:
    VGG16 halves the image at every pooling layer before the deepest layer the losses
    use, and a side that falls under one pixel there crashes the network."""
    need = min_frame_side(config.model.deepest_layer)
    if min(image_hw) >= need:
        return
    height, width = original_hw
    fits = math.ceil(need * max(height, width) / min(height, width) / scale)
    hint = (f"set image.max_size (for `sweep pick`: --size) to at least {fits}" if fits <= MAX_IMAGE_SIDE else
            "crop it to a less elongated shape")
    raise SweepError(f"{what} {source} becomes {image_hw[1]}x{image_hw[0]} px at {key}, but VGG16 up to "
                     f"{config.model.deepest_layer} needs at least {need} px on the short side; {hint}")
