"""Frames larger than memory: where the tiles go, what they cost, and the seam measure.

A frame whose optimisation does not fit `runtime.memory_budget_mb` is still optimised
as one image (its pixels and optimiser state are small), but VGG16 runs on one window
at a time (sweep/tiled.py). A window is at most `tile_size` pixels square; its *core*
is where its features count, the `tile_overlap` pixels around the core are context,
so that the core's features are those of the whole frame (exactly so when the overlap
covers `context_pixels` of the deepest layer and windows start on the pooling grid).
Cores tile the frame. The grid takes `tile_passes` positions in turn, one per
evaluation of the objective, each shifted by a fraction of the core size, so no tile
border stays in place. Windows keep one shape (those at the frame's edge are moved
inward), so the objective is compiled once.

This module imports no Keras: the plan uses it to describe and size a run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .vgg16_layers import VGG16_FEATURE_LAYERS
from .costs import _WEIGHTS_BYTES as WEIGHTS_BYTES, activation_bytes, forward_bytes, frame_costs, optimiser_bytes
from .limits import TILE_GRID, smallest_tile
from .errors import SweepError

# VGG16 halves the frame four times before block5: automatic tile sizes and the
# shifts between passes are multiples of 16, so feature grids line up between windows.
ALIGN = TILE_GRID
# Bytes held per frame pixel besides the optimiser's state while a tiled frame is
# optimised: the photo, the iterate's copies (engine, objective), the assembled
# gradient and the total variation's differences, all float32 RGB (12 B each), and the
# uint8 start and result (sized by scripts/bench_tiles.py, see docs/tiles.md).
RESIDENT_BYTES_PER_PIXEL = 96


@dataclass(frozen=True)
class Window:
    """One tile visit: the window's top-left corner and its core, in frame pixels."""
    pass_index: int
    top: int
    left: int
    rows: tuple[int, int]      # core rows [start, stop)
    cols: tuple[int, int]      # core columns [start, stop)


@dataclass(frozen=True)
class TileGrid:
    height: int                # the frame
    width: int
    tile: int                  # window side (clipped to the frame's side per axis)
    overlap: int
    passes: int

    @property
    def align(self) -> int:
        """The largest power of two up to ALIGN dividing the tile and the overlap: window
        starts are multiples of it, so pools see the same grid in a window as in the frame."""
        align = ALIGN
        while align > 1 and (self.tile % align or self.overlap % align):
            align //= 2
        return align

    def window_side(self, length: int) -> int:
        """The window's side along an axis of `length` pixels: at most `tile`, and
        congruent to `length` modulo `align`, so the last window (which ends at the
        frame's edge) starts on the grid too."""
        if self.tile >= length:
            return length
        return self.tile - (self.tile - length) % self.align

    @property
    def window_size(self) -> tuple[int, int]:
        return self.window_side(self.height), self.window_side(self.width)

    def axis(self, length: int, pass_index: int) -> list[tuple[int, int, int]]:
        """(window start, core start, core stop) along one axis for one pass; the passes'
        first cuts spread evenly over one core size."""
        side = self.window_side(length)
        if side >= length:
            return [(0, 0, length)]
        step = self.step(length)
        shift = pass_index * step // self.passes // self.align * self.align
        # A cut nearer the frame's edge than `overlap` would leave a sliver of a core.
        cuts = [c for c in range(shift or step, length, step) if max(self.overlap, 1) <= c <= length - self.overlap]
        bounds = [0, *cuts, length]
        return [(min(max(0, a - self.overlap), length - side), a, b) for a, b in zip(bounds, bounds[1:])]

    def step(self, length: int) -> int:
        """Core size along an axis: the window less the overlap on both sides, on the grid."""
        return (self.window_side(length) - 2 * self.overlap) // self.align * self.align

    def windows(self, pass_index: int) -> list[Window]:
        return [Window(pass_index, top, left, (r0, r1), (c0, c1))
                for top, r0, r1 in self.axis(self.height, pass_index)
                for left, c0, c1 in self.axis(self.width, pass_index)]

    def visits(self) -> Iterator[Window]:
        for pass_index in range(self.passes):
            yield from self.windows(pass_index)

    @property
    def visit_count(self) -> int:
        return sum(len(self.windows(p)) for p in range(self.passes))

    def grid_shape(self, pass_index: int = 0) -> tuple[int, int]:
        """(rows, columns) of tiles in one pass."""
        return len(self.axis(self.height, pass_index)), len(self.axis(self.width, pass_index))

    def borders(self) -> tuple[list[int], list[int]]:
        """The frame rows and columns where a core of some pass begins (the seams to check)."""
        rows, cols = set(), set()
        for window in self.visits():
            if window.rows[0] > 0:
                rows.add(window.rows[0])
            if window.cols[0] > 0:
                cols.add(window.cols[0])
        return sorted(rows), sorted(cols)

    def describe(self, deepest_layer: str) -> str:
        rows, cols = self.grid_shape()
        th, tw = self.window_size
        needed = context_pixels(deepest_layer)
        exact = ("exact" if self.overlap >= needed else
                 f"approximate near the tile borders: raise runtime.tile_overlap to {needed} for exact")
        overlap = f"{self.overlap} px overlap"
        if rows == cols == 1:   # every pass is the same window: only a painting larger than it is cut up
            return (f"tiles: one {tw}x{th} px window, the whole frame (no shifted passes), {overlap} for a "
                    f"painting larger than the window ({deepest_layer} needs {needed}: {exact})")
        return (f"tiles: {tw}x{th} px windows, {overlap} ({deepest_layer} needs {needed}: "
                f"{exact}), a {cols}x{rows} grid, {self.passes} shifted pass(es), "
                f"{self.visit_count} tile visits per frame")


def context_pixels(deepest_layer: str) -> int:
    """How far (in frame pixels) the zero padding at a window's edge reaches into the
    features of `deepest_layer`: each 3x3 convolution at scale s adds s pixels. With
    `tile_overlap` at least this (58 for block5_conv1), a core's features are the
    untiled frame's, and the tiled objective is the untiled one."""
    layers = VGG16_FEATURE_LAYERS[:VGG16_FEATURE_LAYERS.index(deepest_layer) + 1]
    return sum(2 ** (int(name[len("block")]) - 1) for name in layers if "conv" in name)


def budget_bytes(config) -> int:
    """`runtime.memory_budget_mb` in bytes, or the device's share when it is 0."""
    if config.runtime.memory_budget_mb:
        return config.runtime.memory_budget_mb * 2**20
    from . import device  # imports Keras: only once the inputs have been read and checked
    return device.memory_budget_bytes()


def resident_bytes(height: int, width: int, style_shape: tuple[int, int], config) -> int:
    """What a tiled frame holds besides the window's activations: the optimiser's state
    and the other frame-sized arrays, and the painting."""
    return (optimiser_bytes(height, width, config) + height * width * RESIDENT_BYTES_PER_PIXEL
            + style_shape[0] * style_shape[1] * 3 * 4)   # the painting in float32, as the tiled targets hold it


def whole_frame_bytes(height: int, width: int, style_shape: tuple[int, int], config) -> int:
    """Peak bytes of one frame optimised whole: its optimisation, the weights and the
    pass of its painting (the largest, `style_shape`), which tiles would cut up too."""
    return frame_costs(height, width, config)[1] + WEIGHTS_BYTES + forward_bytes(*style_shape, config)


def tile_grid(config, height: int, width: int, style_shape: tuple[int, int], budget: int,
              size_setting: str = "image.max_size") -> TileGrid | None:
    """The tiles for a height x width frame, or None when it is optimised whole.

    Whole when the frame and its painting's pass fit `budget` (and `runtime.tile_size`,
    if set, covers the frame). Else tiles: of `runtime.tile_size`, or automatically the
    largest window (a multiple of ALIGN, or the whole frame as one window, which still
    takes the painting window by window) whose optimisation fits beside the frame-sized
    arrays. Refused with the budget that would do when none fits, naming `size_setting`
    as what sets the frame's side (`sweep pick`: --size): tiles of a size the user chose
    are not shrunk, as an explicit chunk size is, but refused."""
    runtime = config.runtime
    passes = max(1, min(runtime.tile_passes, config.optimizer.iterations))
    side = max(height, width)
    fixed = WEIGHTS_BYTES + resident_bytes(height, width, style_shape, config)

    def cost(tile: int) -> int:
        return activation_bytes(min(tile, height), min(tile, width), config) + fixed

    covers = not runtime.tile_size or runtime.tile_size >= side
    if covers and whole_frame_bytes(height, width, style_shape, config) <= budget:
        return None
    chosen = runtime.tile_size
    if not chosen:
        smallest = math.ceil(smallest_tile(runtime.tile_overlap) / ALIGN) * ALIGN
        fitting = [t for t in [*range(smallest, side, ALIGN), side] if cost(t) <= budget]
        chosen = fitting[-1] if fitting else min(smallest, side)
    if cost(chosen) > budget:
        size = "as one tile" if chosen >= side else f"in {chosen} px tiles"
        smaller = runtime.tile_size > smallest_tile(runtime.tile_overlap)
        fixes = (("lower runtime.tile_size, set it to 0 (automatic), " if smaller else "")
                 + f"raise runtime.memory_budget_mb, or lower {size_setting} or image.style_scale")
        raise SweepError(f"a {width}x{height} frame does not fit the {budget / 2**20:.0f} MB memory budget even "
                         f"{size} (runtime.tile_overlap={runtime.tile_overlap}): that needs about "
                         f"{math.ceil(cost(chosen) / 2**20)} MB; {fixes}")
    return TileGrid(height, width, min(chosen, side), runtime.tile_overlap, passes)


def tiled_peak_bytes(grid: TileGrid, config, style_shape: tuple[int, int]) -> int:
    th, tw = grid.window_size
    return (activation_bytes(th, tw, config) + WEIGHTS_BYTES
            + resident_bytes(grid.height, grid.width, style_shape, config))


def tiled_flops(grid: TileGrid, config) -> float:
    """FLOPs of one tiled frame: per evaluation (one per iteration, plus the first and
    the final score), every window's step (forward and input gradient) plus two more
    forward passes (the frame's Gram matrices, the photo's content features)."""
    th, tw = grid.window_size
    step = frame_costs(th, tw, config)[0]
    windows = grid.visit_count / grid.passes
    # A forward pass is about half a step (the input gradient costs another one).
    return (config.optimizer.iterations + 2) * windows * 2 * step


def seam_ratios(image: np.ndarray, rows: list[int], cols: list[int], distance: int = 8) -> list[float]:
    """For every border, the mean absolute difference between the two pixel rows (or
    columns) across it, divided by the mean of the same measure `distance` pixels to
    either side (only the sides inside the frame). About 1 where there is no seam."""
    pixels = image.astype(np.float64)
    ratios = []
    for axis, cuts in ((0, rows), (1, cols)):
        length = pixels.shape[axis]

        def step_at(position: int) -> float:
            after = np.take(pixels, position, axis=axis)
            before = np.take(pixels, position - 1, axis=axis)
            return float(np.abs(after - before).mean())

        for cut in cuts:
            near = [step_at(p) for p in (cut - distance, cut + distance) if 1 <= p < length]
            if near:
                ratios.append(step_at(cut) / max(float(np.mean(near)), 1e-6))
    return ratios


__all__ = ["ALIGN", "TileGrid", "Window", "budget_bytes", "resident_bytes", "seam_ratios", "tile_grid",
           "tiled_flops", "tiled_peak_bytes"]
