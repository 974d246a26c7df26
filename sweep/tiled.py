"""A frame larger than memory: the untiled objective, evaluated window by window.

The optimiser keeps the whole frame (its pixels and its L-BFGS or Adam state are
small next to VGG16's activations); only the network runs on windows (the layout:
sweep/tiles.py). Every window aims at the same statistics: the Gram matrices of the
*whole* painting, summed window by window over the painting, and the photo's global
content norm; its content target is the photo's features over the same window, from
the photo at the frame's full size. One evaluation of the frame:

1. a forward pass over every window sums F^T F over the window's core positions:
   the frame's Gram matrices G, hence the style loss and D = G - A per layer;
2. a forward and backward pass over every window of
   content_weight * content(core) + style_weight * sum_l c_l <F_core D_l, F_core>,
   whose gradient is the style loss's own, 4 / (L n_l ||A_l||^2) F (G_l - A_l), plus
   the content loss's; each window's whole gradient (halo included: the halo's
   pixels feed the core's features) is added into the frame's gradient;
3. the total variation and its gradient, over the whole frame, in numpy.

Under `colors: photo` every step sees the frame through the artist's projection
(luminance only), as the untiled objective does, and the gradient goes back through it.

So the frame is optimised as one image, with the untiled losses, and no tile border
is a border of the optimisation. The core's features are computed with only
`tile_overlap` pixels of context, so they differ slightly from the untiled ones near
a core's edge; the grid moves at every evaluation (one of `tile_passes` offsets),
so that difference never sits at the same place twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from keras import ops

from .colors import network_projection, optimisation_inputs
from .vgg16_layers import VGG16_BLOCK_CHANNELS
from .gradients import value_and_input_gradient
from .losses import EPSILON, detail_share, tv_norm
from .model import preprocess
from .records import Callback
from .tiles import TileGrid, Window


@dataclass
class TiledTargets:
    """A tiled stage's targets; the content features are taken per window from `photo`."""
    grid: TileGrid
    photo: np.ndarray            # float32 (H, W, 3) in [0, 1], the frame's size
    content_norms: np.ndarray    # per content layer: mean square of the photo's features
    grams: list                  # per style layer: each painting's (C, C) Gram matrix
    gram_norms: list             # per style layer: each painting's ||A||^2
    shares: np.ndarray           # each painting's weight in a blend (sum 1)
    photo_tv: float
    # (3, 3): what the network sees of a pixel (colors.network_projection: luminance only
    # under colors: photo), applied to the frame as losses.seen_by_network applies it
    projection: np.ndarray = field(default_factory=lambda: np.eye(3, dtype=np.float32))


@dataclass
class WindowLayout:
    """Masks of one window's core on every layer's feature grid, and the grid's counts."""
    window: Window
    masks: list                  # per output layer: float32 (1, h, w, 1), 1 on the core
    positions: list = field(default_factory=list)   # per output layer: core positions


def layer_scale(name: str) -> int:
    """How many frame pixels one position of layer `name` spans along each side."""
    block = int(name[len("block")])
    return 2 ** block if name.endswith("_pool") else 2 ** (block - 1)


def feature_size(pixels: int, scale: int) -> int:
    """Side of a feature map: VGG16's 2x2 pools floor the side at every halving."""
    while scale > 1:
        pixels, scale = pixels // 2, scale // 2
    return pixels


def core_mask(window: Window, scale: int, shape: tuple[int, int]) -> np.ndarray:
    def span(start: int, core: tuple[int, int], size: int) -> slice:
        return slice(min(size, round((core[0] - start) / scale)), min(size, round((core[1] - start) / scale)))

    mask = np.zeros((1, *shape, 1), dtype=np.float32)
    mask[0, span(window.top, window.rows, shape[0]), span(window.left, window.cols, shape[1])] = 1.0
    return mask


def window_pixels(image: np.ndarray, grid: TileGrid, window: Window) -> np.ndarray:
    """The window's pixels of an (H, W, 3) image, as a batch of one."""
    th, tw = grid.window_size
    return image[None, window.top:window.top + th, window.left:window.left + tw]


def total_variation_value(image01: np.ndarray, rows: int = 256) -> float:
    """losses.total_variation of one (H, W, C) image, in numpy, `rows` rows at a time: a
    painting of a tiled frame may be large, and the differences of all of it at once
    would need three times its memory."""
    height, width, channels = image01.shape
    sum_y = sum_x = 0.0
    for top in range(0, height, rows):
        dy = np.diff(image01[top:top + rows + 1], axis=0)   # one row more: the band's last difference
        dx = np.diff(image01[top:top + rows], axis=1)
        sum_y += float(np.einsum("ijk,ijk->", dy, dy, dtype=np.float64))
        sum_x += float(np.einsum("ijk,ijk->", dx, dx, dtype=np.float64))
    return sum_y / max(1, (height - 1) * width * channels) + sum_x / max(1, height * (width - 1) * channels)


def total_variation_and_gradient(image01: np.ndarray) -> tuple[float, np.ndarray]:
    """losses.total_variation of one (H, W, 3) image and its gradient, in numpy."""
    dy = np.diff(image01, axis=0)
    dx = np.diff(image01, axis=1)
    count_y, count_x = max(1, dy.size), max(1, dx.size)
    value = float(np.einsum("ijk,ijk->", dy, dy, dtype=np.float64)) / count_y \
        + float(np.einsum("ijk,ijk->", dx, dx, dtype=np.float64)) / count_x
    gradient = np.zeros_like(image01)
    dy *= 2.0 / count_y
    dx *= 2.0 / count_x
    gradient[1:] += dy
    gradient[:-1] -= dy
    gradient[:, 1:] += dx
    gradient[:, :-1] -= dx
    return value, gradient


def window_losses(outputs, images01, content_weights, style_weight, tv_weight, target_args):
    """One window's share of the objective (see the module docstring): the content loss
    over the core, and the style loss's linearisation at the frame's Gram matrices."""
    # The last argument is the projection that gradients.seen_by_network applies.
    photo_features, masks, content_scales, differences, style_scales, _ = target_args
    n_content = len(photo_features)
    content = 0.0
    for f, p, m, scale in zip(outputs[:n_content], photo_features, masks[:n_content], content_scales):
        content = content + ops.sum(m * ops.square(f - p)) * scale
    style = 0.0
    for f, m, d, scale in zip(outputs[n_content:], masks[n_content:], differences, style_scales):
        channels = f.shape[-1]
        flat = ops.reshape(f, (-1, channels))
        style = style + ops.sum(ops.matmul(ops.reshape(f * m, (-1, channels)), d) * flat) * scale
    return content_weights[0] * content + style_weight * style, (content,)


class TiledFrame:
    """Targets and objective of tiled frames, for one engine; counts tiles for progress."""

    def __init__(self, engine):
        self.engine = engine
        self.extractor = engine.extractor
        self.layers = tuple(self.extractor.content_layers) + tuple(self.extractor.style_layers)
        self.n_content = len(self.extractor.content_layers)
        self.window_objective = value_and_input_gradient(self.extractor, window_losses)
        self.n_detail = self.extractor.n_detail
        self.layouts: dict = {}
        self.track("", (), 0)

    def layer_shares(self, content_weight: float) -> list[float]:
        """Each content layer's factor in the content loss, as losses.frame_losses weighs
        them: the layout layers' mean plus the detail layers' mean times detail_share."""
        n_layout = self.n_content - self.n_detail
        detail = float(ops.convert_to_numpy(detail_share(np.float32(content_weight),
                                                         np.float32(self.engine.config.sweep.detail_full_at))))
        return [1.0 / n_layout] * n_layout + [detail / max(1, self.n_detail)] * self.n_detail

    def track(self, job: str, callbacks: Sequence[Callback], total: int) -> None:
        """Report every window evaluated from now on to `callbacks` as tile `done` of `total`."""
        self.job, self.callbacks, self.total, self.done = job, tuple(callbacks), total, 0

    def features(self, pixels01: np.ndarray) -> list[np.ndarray]:
        outputs = self.extractor.model(preprocess(ops.convert_to_tensor(pixels01)), training=False)
        return [np.asarray(ops.convert_to_numpy(f), dtype=np.float32) for f in outputs]

    def layout(self, grid: TileGrid, pass_index: int) -> list[WindowLayout]:
        """The windows of one pass of `grid`, with their core masks (kept for one grid at a time)."""
        if self.layouts.get("grid") != grid:
            self.layouts = {"grid": grid}
        if pass_index not in self.layouts:
            th, tw = grid.window_size
            shapes = [(feature_size(th, layer_scale(n)), feature_size(tw, layer_scale(n))) for n in self.layers]
            layouts = []
            for window in grid.windows(pass_index):
                masks = [core_mask(window, layer_scale(n), s) for n, s in zip(self.layers, shapes)]
                layouts.append(WindowLayout(window, masks, [float(m.sum()) for m in masks]))
            self.layouts[pass_index] = layouts
        return self.layouts[pass_index]

    def gram_sums(self, image01: np.ndarray, grid: TileGrid, pass_index: int) -> tuple[list, np.ndarray]:
        """Per style layer: F^T F summed over the core positions of every window, and their count."""
        sums, counts = None, np.zeros(len(self.extractor.style_layers))
        for layout in self.layout(grid, pass_index):
            outputs = self.features(window_pixels(image01, grid, layout.window))[self.n_content:]
            cores = [f[0][m[0, ..., 0] > 0] for f, m in zip(outputs, layout.masks[self.n_content:])]
            products = [np.einsum("nc,nd->cd", c, c, dtype=np.float64) for c in cores]
            sums = products if sums is None else [s + p for s, p in zip(sums, products)]
            counts += [len(c) for c in cores]
        return sums, counts

    def targets(self, photo_uint8: np.ndarray, paintings_uint8: Sequence[np.ndarray], style,
                grid: TileGrid) -> TiledTargets:
        """Targets of a tiled scale: every painting's Grams over the whole painting (a blend
        weighs its paintings' losses by `style.weights`), recoloured as `style.colors` says."""
        photo, paintings = optimisation_inputs(photo_uint8.astype(np.float32) / 255.0,
                                               [p.astype(np.float32) / 255.0 for p in paintings_uint8], style.colors)
        per_painting = []
        for painting in paintings:
            painting_grid = TileGrid(painting.shape[0], painting.shape[1], grid.tile, grid.overlap, 1)
            sums, counts = self.gram_sums(painting, painting_grid, 0)
            per_painting.append([s / n for s, n in zip(sums, counts)])
        grams = [list(layer) for layer in zip(*per_painting)]
        squares, positions = np.zeros(self.n_content), np.zeros(self.n_content)
        for layout in self.layout(grid, 0):
            outputs = self.features(window_pixels(photo, grid, layout.window))[:self.n_content]
            for k, (f, m) in enumerate(zip(outputs, layout.masks)):
                squares[k] += float(np.einsum("bhwc,bhwc->", f * m, f, dtype=np.float64))
                positions[k] += layout.positions[k] * f.shape[-1]
        photo_tv = float(ops.convert_to_numpy(tv_norm(total_variation_value(photo),
                                                      [total_variation_value(p) for p in paintings], style.weights)))
        shares = np.asarray(style.weights, dtype=np.float64)
        gram_norms = [[np.square(g).sum() + EPSILON for g in layer] for layer in grams]
        if self.engine.config.sweep.style_unit == "photo":  # as losses.compute_targets, over the whole photo
            sums, counts = self.gram_sums(photo, grid, 0)
            photo_grams = [s / n for s, n in zip(sums, counts)]
            photo_style = np.mean([sum(share * np.square(photo_gram - g).sum() / n
                                       for share, g, n in zip(shares, layer, norms))
                                   for photo_gram, layer, norms in zip(photo_grams, grams, gram_norms)]) + EPSILON
            gram_norms = [[n * photo_style for n in norms] for norms in gram_norms]
        return TiledTargets(grid=grid, photo=photo, content_norms=squares / positions + EPSILON, grams=grams,
                            gram_norms=gram_norms, shares=shares, photo_tv=photo_tv,
                            projection=network_projection(style.colors))

    def objective(self, targets: TiledTargets, content_weight: float, style_weight: float, tv_weight: float):
        """`evaluate(x)` of one frame (batch of one), as engine._evaluator's: per-frame
        (total, content, style, tv) and the gradient; the grid moves at every call."""
        calls = [0]
        # the identity (colors: style or match) needs no frame-sized copies
        projected = not np.array_equal(targets.projection, np.eye(3))

        def evaluate(x):
            pass_index = calls[0] % targets.grid.passes
            calls[0] += 1
            frame = np.array(ops.convert_to_numpy(x), dtype=np.float32)[0]
            seen = frame @ targets.projection.T if projected else frame   # per pixel, as losses.seen_by_network
            content, style, gradient = self._network_terms(frame, seen, targets, pass_index, content_weight,
                                                           style_weight)
            tv, tv_gradient = total_variation_and_gradient(seen)
            if projected:
                tv_gradient = tv_gradient @ targets.projection
            gradient += tv_gradient * np.float32(tv_weight / targets.photo_tv)
            tv /= targets.photo_tv
            total = content_weight * content + style_weight * style + tv_weight * tv
            values = [np.array([v], dtype=np.float32) for v in (total, content, style, tv)]
            return (*values, ops.convert_to_tensor(gradient[None]))

        return evaluate

    def _network_terms(self, frame, seen, targets: TiledTargets, pass_index: int, content_weight: float,
                       style_weight: float) -> tuple[float, float, np.ndarray]:
        """(content, style, their gradient) of `frame`, which the network sees as `seen`."""
        grid = targets.grid
        sums, counts = self.gram_sums(seen, grid, pass_index)
        # Per style layer and painting: G - A_k; the loss is sum_k s_k ||G - A_k||^2 / norm_k.
        differences = [[s / n - a for a in layer] for s, n, layer in zip(sums, counts, targets.grams)]
        n_style = len(differences)
        style = float(np.mean([sum(share * np.square(d).sum() / g for share, d, g in zip(targets.shares, layer, norms))
                               for layer, norms in zip(differences, targets.gram_norms)]))
        # Its gradient is that of <F M, F> with M = sum_k s_k (G - A_k) / norm_k, times 2 / (L n).
        blended = [sum(share * d / g for share, d, g in zip(targets.shares, layer, norms))
                   for layer, norms in zip(differences, targets.gram_norms)]
        layouts = self.layout(grid, pass_index)
        channels = [VGG16_BLOCK_CHANNELS[int(name[len("block")])] for name in self.extractor.content_layers]
        positions = np.sum([layout.positions[:self.n_content] for layout in layouts], axis=0)
        as_tensor = lambda value: ops.convert_to_tensor(np.asarray(value, dtype=np.float32))  # noqa: E731
        content_scales = [as_tensor(share / (n * c * norm)) for share, n, c, norm
                          in zip(self.layer_shares(content_weight), positions, channels, targets.content_norms)]
        style_args = ([as_tensor(m) for m in blended], [as_tensor(2.0 / (n_style * n)) for n in counts])
        weights = (as_tensor([content_weight]), as_tensor(style_weight), as_tensor(0.0))
        projection = as_tensor(targets.projection)
        gradient = np.zeros_like(frame)
        content = 0.0
        th, tw = grid.window_size
        for layout in layouts:
            photo = self.features(window_pixels(targets.photo, grid, layout.window))[:self.n_content]
            args = (tuple(as_tensor(p) for p in photo), tuple(as_tensor(m) for m in layout.masks),
                    tuple(content_scales), *(tuple(a) for a in style_args), projection)
            value, window_gradient = self.window_objective(as_tensor(window_pixels(frame, grid, layout.window)),
                                                           *weights, args)
            content += float(np.asarray(ops.convert_to_numpy(value)))
            top, left = layout.window.top, layout.window.left
            gradient[top:top + th, left:left + tw] += np.asarray(ops.convert_to_numpy(window_gradient))[0]
            self._tile_done()
        return content, style, gradient

    def _tile_done(self) -> None:
        self.done += 1
        for callback in self.callbacks:
            callback.on_tile(self.job, min(self.done, self.total), self.total)


__all__ = ["TiledFrame", "TiledTargets", "core_mask", "feature_size", "layer_scale", "total_variation_and_gradient",
           "window_losses"]
