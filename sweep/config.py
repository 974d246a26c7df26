"""The config schema: every key, its type and its default live here and nowhere else.

A config is YAML read with `yaml.safe_load`, overlaid with `--set KEY=VALUE`
overrides, then checked against these dataclasses. Unknown keys and wrong types
are refused with a `SweepError` that names the key, what was received and what is
allowed. Relative paths are resolved against the config file's directory, and the
resolved config (every default filled in, every path absolute) is what a run saves
as `config.yaml`.
"""
from __future__ import annotations

import dataclasses
import glob
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from . import limits
from .artist import Artist
from .errors import SweepError
from .layout import CONFIG_FILE, check_safe_name, inside_run_dir
from .samples import SAMPLE_PREFIX
from .schema import build, check_key, field_type, unknown_key_message
from .vgg16_layers import VGG16_FEATURE_LAYERS

MIN_IMAGE_SIDE = 16
# A 4096 px frame needs tens of GB for VGG16 activations and gradients: such frames
# are optimised in tiles (sweep/tiles.py) within runtime.memory_budget_mb; anything
# larger is a typo, not a request.
MAX_IMAGE_SIDE = 4096


@dataclass
class ContentWeightSweep:
    """The content weights of the frames, in frame order: start (photo) -> stop (style)."""
    start: float = 100.0
    # 0.001: the last frame keeps under 15% of the photo's layout for every pair measured
    stop: float = 0.001
    steps: int = 30
    # even: log-spaced keyframes, the in-betweens where they differ most, nearer together
    # around weight 1 (sweep/spacing.py, morph.segment_weights); without init: keyframes, as log
    spacing: Literal["even", "log", "linear"] = "even"


@dataclass
class SweepSection:
    content_weight: ContentWeightSweep = field(default_factory=ContentWeightSweep)
    style_weight: float = 1.0
    # Relative to the photo's own total variation (losses.py): keeps the style end from noise.
    tv_weight: float = 0.1
    # What a style loss of 1 means: (photo) as far from the painting's style as the
    # photo itself, so a content weight means the same balance for every pair;
    # (painting) the painting's own Gram norm only, as before.
    style_unit: Literal["photo", "painting"] = "photo"
    # From this content weight on, the photo's fine detail (model.detail_layers) counts in full;
    # below, in proportion (1% at weight 1): it holds the photo end's pixels (docs/morph.md).
    detail_full_at: float = 100.0


@dataclass
class ImageSection:
    max_size: int = 512          # longest side of the generated frames, in pixels
    # The painting is resized so that its longest side is style_scale x max_size:
    # larger values give coarser brush strokes.
    style_scale: float = 1.0


@dataclass
class OptimizerSection:
    name: Literal["lbfgs", "adam"] = "lbfgs"
    iterations: int = 300
    learning_rate: float = 0.02  # Adam only; pixels live in [0, 1]
    history: int = 10            # L-BFGS only: (s, y) pairs kept per frame
    # A frame stops once its loss has changed by less than this fraction for
    # `patience` consecutive iterations; 0 disables early stopping.
    tolerance: float = 1e-4
    patience: int = 5
    # Coarse-to-fine: the frame sizes, as fractions of image.max_size, that the
    # iterations visit in order; the last must be 1.0. [0.5, 1.0] optimises at half
    # size first (a quarter of the cost per step), then refines at full size.
    scales: list[float] = field(default_factory=lambda: [1.0])
    # Share of `iterations` spent on the scales below 1.0 (split evenly among them).
    coarse_fraction: float = 0.5


@dataclass
class ModelSection:
    weights: str = "imagenet"
    content_layers: list[str] = field(default_factory=lambda: ["block4_conv2"])
    # The photo's fine detail, weighed by sweep.detail_full_at; [] leaves only the layout.
    detail_layers: list[str] = field(default_factory=lambda: ["block1_conv2"])
    style_layers: list[str] = field(default_factory=lambda: [
        "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"])
    # The network's arithmetic. bfloat16 runs VGG16 in bfloat16 (losses, pixel gradient and
    # optimiser stay float32): 2-4x faster on bfloat16 matrix units (CPUs with AMX, GPUs from
    # Ampere on), but long runs stop short of the float32 optimum at high content weights
    # (docs/design.md, Precision). auto: bfloat16 where it is faster, else float32.
    precision: Literal["float32", "bfloat16", "auto"] = "float32"

    @property
    def deepest_layer(self) -> str:
        """The layer the losses use that lies deepest in VGG16: where the network is cut."""
        return max([*self.content_layers, *self.detail_layers, *self.style_layers], key=VGG16_FEATURE_LAYERS.index)


@dataclass
class MovieSection:
    fps: int = 12
    formats: list[Literal["mp4", "gif"]] = field(default_factory=lambda: ["mp4", "gif"])
    hold: float = 1.0            # seconds on the first and last frame
    crossfade: int = 0           # interpolated in-between frames between sweep frames
    boomerang: bool = False      # play forward, then back
    label: bool = True           # print the content weight on each movie frame
    # Every K optimiser steps, snapshot every frame into JOB/progress/f007/s0040.png;
    # after the run JOB/progress.gif shows the balanced frame taking shape. 0 = off.
    progress_every: int = 0


@dataclass
class KeyframeSection:
    """`init: keyframes` (sweep/morph.py, docs/morph.md): every `every`-th frame and both
    ends are keyframes, optimised first; the frames between start from a blend of their
    two keyframes and run `in_between_fraction` of the iterations. `coupling` > 0 adds
    coupling x mean((x(i+1) - 2 x(i) + x(i-1))^2) (pixels in [0, 1]) to an in-between's
    objective (sweep/neighbours.py), never to its stored losses. Keyframes of content
    weight <= `noise_below` start from noise."""
    every: int = 5
    # An eighth (38 of 300): coupled in-betweens settle in 40-50; more costs work, not quality.
    in_between_fraction: float = 0.125
    # 60, up to 4x that for a morph that changes the picture less (morph.coupling_strength): jitter
    # 0.35-0.46 at 128 px on 12 pairs; brushstrokes' frames within 3% of their optimum (docs/morph.md)
    coupling: float = 60.0
    # Keyframes stop by the tighter of this and optimizer.tolerance: all frames build on them.
    tolerance: float = 1e-5
    noise_below: float = 0.0
    # Keyframes one after another, each from the keyframe before it (strokes stay in place).
    continuation: bool = True


@dataclass
class RuntimeSection:
    # Frames optimised together; 0 picks the largest chunk that fits memory_budget_mb.
    chunk_size: int = 0
    # Memory the optimisation may use; 0 means a share of what the machine has.
    memory_budget_mb: int = 0
    progress: bool = True
    # Frames that do not fit the budget are optimised in overlapping square tiles
    # (sweep/tiles.py). 0 = the largest tile that fits, only when the frame does not;
    # N = tiles of N px whenever the frame is larger than N.
    tile_size: int = 0
    # Pixels of context around the part of a tile that is optimised: 64 covers the 58 px
    # that zero padding reaches into block5_conv1 (the deepest default layer); see docs/tiles.md.
    tile_overlap: int = 64
    # Positions the tile grid takes in turn, one per evaluation of the objective, each
    # shifted by a fraction of a tile, so that no tile border stays in place.
    tile_passes: int = 4


@dataclass
class Config:
    content: Union[str, list[str]]
    styles: dict[str, Artist]
    sweep: SweepSection = field(default_factory=SweepSection)
    image: ImageSection = field(default_factory=ImageSection)
    optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    # Where frames start: (keyframes) keyframes, the first from the photo and each next from the
    # one before, then the frames between them from a blend of their two keyframes
    # (sweep/morph.py); (content) the photo; (noise) seeded noise; or (chain)
    # the neighbouring frame of the previous chunk, done (the first chunk: from the photo).
    init: Literal["keyframes", "content", "noise", "chain"] = "keyframes"
    keyframes: KeyframeSection = field(default_factory=KeyframeSection)
    model: ModelSection = field(default_factory=ModelSection)
    movie: MovieSection = field(default_factory=MovieSection)
    runtime: RuntimeSection = field(default_factory=RuntimeSection)
    seed: int = 0

    def content_weights(self) -> list[float]:
        return sweep_values(self.sweep.content_weight)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def sweep_values(spec: ContentWeightSweep) -> list[float]:
    """The weights from start to stop inclusive, evenly spaced on a log or linear scale (even: log)."""
    if spec.steps == 1:
        return [float(spec.start)]
    fractions = [i / (spec.steps - 1) for i in range(spec.steps)]
    if spec.spacing != "linear":
        lo, hi = math.log10(spec.start), math.log10(spec.stop)
        return [float(10 ** (lo + (hi - lo) * f)) for f in fractions]
    return [float(spec.start + (spec.stop - spec.start) * f) for f in fractions]


# ---------------------------------------------------------------------------
# Loading

def load_config(path: str | os.PathLike, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config, apply `KEY=VALUE` overrides, validate, resolve paths."""
    config_path = Path(path)
    if config_path.is_dir():
        raise SweepError(f"{config_path} is a directory, not a config file (a run directory's is its {CONFIG_FILE})")
    if not config_path.is_file():
        raise SweepError(f"config file not found: {config_path}")
    try:
        if config_path.stat().st_size > limits.MAX_CONFIG_BYTES:
            raise SweepError(f"config {config_path} is {config_path.stat().st_size} bytes; "
                             f"at most {limits.MAX_CONFIG_BYTES}")
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read config {config_path}: {exc}") from None
    return parse_config(text, base_dir=config_path.parent, overrides=overrides, source=str(config_path))


def parse_config(text: str, *, base_dir: str | os.PathLike = ".", overrides: typing.Sequence[str] = (),
                 source: str = "<config>") -> Config:
    raw = limits.safe_load_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SweepError(f"{source} must be a mapping of keys to values, got {type(raw).__name__}")
    for override in overrides:
        apply_override(raw, override)
    limits.check_document(raw, source)
    config = build(Config, raw, "")
    validate(config)
    limits.check_bounds(config)
    return resolve_paths(config, Path(base_dir))


def apply_override(raw: dict, override: str) -> None:
    """Set a dotted key, e.g. `image.max_size=96`; the value is parsed as YAML."""
    key, sep, value_text = override.partition("=")
    if not sep or not key.strip():
        raise SweepError(f"--set expects KEY=VALUE, got {override!r}")
    value = limits.set_value(value_text, f"--set {key.strip()}")
    parts = key.strip().split(".")
    node = raw
    schema: Any = Config
    for depth, part in enumerate(parts[:-1]):
        check_key(schema, part, ".".join(parts[:depth]))
        schema = field_type(schema, part)
        child = node.get(part)
        if child is None and schema is Artist:
            raise SweepError(unknown_key_message(part, list(node), ".".join(parts[:depth])))
        if child is None:
            child = node[part] = {}
        if schema is Artist and isinstance(child, str):
            child = node[part] = {"painting": child}  # `--set styles.NAME.colors=photo` on `NAME: path`
        if not isinstance(child, dict):
            raise SweepError(f"--set {key}: {'.'.join(parts[:depth + 1])} is not a section")
        node = child
    check_key(schema, parts[-1], ".".join(parts[:-1]))
    if schema is Artist:  # the override replaces the artist's painting(s), whichever spelling
        node.pop({"painting": "paintings", "paintings": "painting"}.get(parts[-1], ""), None)
    node[parts[-1]] = value


# ---------------------------------------------------------------------------
# Value checks that types alone cannot express

def validate(config: Config) -> None:
    if isinstance(config.content, list) and not config.content:
        raise SweepError("'content' is an empty list; name at least one photo")
    if not config.styles:
        raise SweepError("'styles' is empty; name at least one painting, e.g. styles: {van_gogh: starry.jpg}")
    for name in config.styles:
        check_safe_name(name, "style name")
    cw = config.sweep.content_weight
    if cw.steps < 1:
        raise SweepError(f"'sweep.content_weight.steps' must be at least 1; got {cw.steps}")
    if cw.start <= 0 or cw.stop <= 0:   # weight 0 is a frame without the photo; a log scale has no 0 either
        raise SweepError(f"'sweep.content_weight.start' and 'stop' must be > 0 (for a frame that is nearly all "
                         f"style, use a small weight such as 0.001); got start={cw.start:g}, stop={cw.stop:g}")
    if config.sweep.detail_full_at <= 0:
        raise SweepError(f"'sweep.detail_full_at' must be > 0; got {config.sweep.detail_full_at:g}")
    for key in ("style_weight", "tv_weight"):
        if getattr(config.sweep, key) < 0:
            raise SweepError(f"'sweep.{key}' must be >= 0; got {getattr(config.sweep, key):g}")
    size = config.image.max_size
    if not MIN_IMAGE_SIDE <= size <= MAX_IMAGE_SIDE:
        raise SweepError(f"'image.max_size' must be between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels; got {size}")
    if not 0.1 <= config.image.style_scale <= 4:
        raise SweepError(f"'image.style_scale' must be between 0.1 and 4; got {config.image.style_scale:g}")
    opt = config.optimizer
    if opt.iterations < 1:
        raise SweepError(f"'optimizer.iterations' must be at least 1; got {opt.iterations}")
    if opt.learning_rate <= 0:
        raise SweepError(f"'optimizer.learning_rate' must be > 0; got {opt.learning_rate:g}")
    if opt.history < 1:
        raise SweepError(f"'optimizer.history' must be at least 1; got {opt.history}")
    if opt.tolerance < 0:
        raise SweepError(f"'optimizer.tolerance' must be >= 0 (0 = never stop early); got {opt.tolerance:g}")
    if opt.patience < 1:
        raise SweepError(f"'optimizer.patience' must be at least 1; got {opt.patience}")
    if not opt.scales or opt.scales[-1] != 1.0 or any(not 0.05 <= v <= 1.0 for v in opt.scales) \
            or any(a >= b for a, b in zip(opt.scales, opt.scales[1:])):
        raise SweepError(f"'optimizer.scales' must rise strictly to 1.0, each between 0.05 and 1, "
                         f"e.g. [0.5, 1.0]; got {opt.scales}")
    if not 0 <= opt.coarse_fraction < 1:
        raise SweepError(f"'optimizer.coarse_fraction' must be >= 0 and < 1; got {opt.coarse_fraction:g}")
    for key in ("content_layers", "detail_layers", "style_layers"):
        layers = getattr(config.model, key)
        if not layers and key != "detail_layers":
            raise SweepError(f"'model.{key}' is empty; name at least one of: {', '.join(VGG16_FEATURE_LAYERS)}")
        for layer in layers:
            if layer not in VGG16_FEATURE_LAYERS:
                raise SweepError(f"unknown VGG16 layer '{layer}' in model.{key}; "
                                 f"valid layers: {', '.join(VGG16_FEATURE_LAYERS)}")
    _validate_movie(config.movie)
    _validate_keyframes(config.keyframes)
    for key in ("chunk_size", "memory_budget_mb"):
        if getattr(config.runtime, key) < 0:
            raise SweepError(f"'runtime.{key}' must be >= 0 (0 = automatic); got {getattr(config.runtime, key)}")
    _validate_tiles(config.runtime)


def _validate_movie(movie: "MovieSection") -> None:
    if not 1 <= movie.fps <= 120:
        raise SweepError(f"'movie.fps' must be between 1 and 120; got {movie.fps}")
    for key in ("hold", "crossfade"):
        if getattr(movie, key) < 0:
            raise SweepError(f"'movie.{key}' must be >= 0; got {getattr(movie, key):g}")
    if movie.progress_every < 0:
        raise SweepError(f"'movie.progress_every' must be >= 0 (0 = off); got {movie.progress_every}")


def _validate_keyframes(keyframes: "KeyframeSection") -> None:
    if keyframes.every < 1:
        raise SweepError(f"'keyframes.every' must be at least 1; got {keyframes.every}")
    if not 0 < keyframes.in_between_fraction <= 1:
        raise SweepError(f"'keyframes.in_between_fraction' must be > 0 and <= 1; "
                         f"got {keyframes.in_between_fraction:g}")
    for key in ("coupling", "tolerance", "noise_below"):
        if getattr(keyframes, key) < 0:
            raise SweepError(f"'keyframes.{key}' must be >= 0; got {getattr(keyframes, key):g}")


def _validate_tiles(runtime: "RuntimeSection") -> None:
    if runtime.tile_overlap < 0:
        raise SweepError(f"'runtime.tile_overlap' must be >= 0 pixels; got {runtime.tile_overlap}")
    if runtime.tile_passes < 1:
        raise SweepError(f"'runtime.tile_passes' must be at least 1; got {runtime.tile_passes}")
    smallest = limits.smallest_tile(runtime.tile_overlap)
    if runtime.tile_size and not smallest <= runtime.tile_size <= MAX_IMAGE_SIDE:
        raise SweepError(f"'runtime.tile_size' must be 0 (automatic) or between {smallest} (twice "
                         f"runtime.tile_overlap={runtime.tile_overlap}, plus {2 * limits.TILE_GRID}) and "
                         f"{MAX_IMAGE_SIDE} pixels; got {runtime.tile_size}")


# ---------------------------------------------------------------------------
# Paths

def resolve_paths(config: Config, base_dir: Path) -> Config:
    def resolve(value: str) -> str:
        if value.startswith(SAMPLE_PREFIX):
            return value
        path = Path(os.path.expanduser(value))
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    content = config.content
    content = [resolve(item) for item in content] if isinstance(content, list) else resolve(content)
    styles = {name: dataclasses.replace(artist, paintings=[resolve(p) for p in artist.paintings])
              for name, artist in config.styles.items()}
    weights = config.model.weights
    if weights != "imagenet":
        weights = resolve(weights)
    return dataclasses.replace(config, content=content, styles=styles,
                               model=dataclasses.replace(config.model, weights=weights))


def content_sources(config: Config) -> list[str]:
    """The photos of a run: a single path, a list, or glob patterns, expanded in sorted order."""
    items = config.content if isinstance(config.content, list) else [config.content]
    sources: list[str] = []
    for item in items:
        if not item.startswith(SAMPLE_PREFIX) and glob.has_magic(item):
            # `photos/**/*.png` reaches into folders, but never into a run's own outputs
            matches = [match for match in sorted(glob.glob(item, recursive=True)) if not inside_run_dir(match)]
            if not matches:
                raise SweepError(f"content pattern {item!r} matches no file (outside sweep's run directories)")
            sources.extend(matches)
        else:
            sources.append(item)
    return sources
