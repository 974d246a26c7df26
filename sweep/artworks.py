"""The three drawn sample artworks (see `sweep.samples`): deterministic for their seed,
drawn with numpy and Pillow."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Side of the square drawn artworks, in pixels.
ARTWORK_SIZE = 512


# --------------------------------------------------------------------------- shared helpers


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a `cells`-wide random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray(grid)
    up = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    lo, hi = float(up.min()), float(up.max())
    return (up - lo) / max(hi - lo, 1e-6)


def _fractal_noise(rng: np.random.Generator, size: int, octaves=(4, 8, 16, 32, 64)) -> np.ndarray:
    """Several octaves of value noise, each half the weight of the coarser one, in [0, 1]."""
    total = np.zeros((size, size), np.float32)
    weight, weights = 1.0, 0.0
    for cells in octaves:
        total += weight * _smooth_noise(rng, size, cells)
        weights += weight
        weight *= 0.55
    return total / weights


def _hex(colour: str) -> np.ndarray:
    colour = colour.lstrip("#")
    return np.array([int(colour[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float32)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- stained glass


_GLASS_PALETTE = [
    _hex(c)
    for c in (
        "#0b3d91",  # cobalt
        "#1560bd",  # blue
        "#b0101c",  # ruby
        "#d4351c",  # vermilion
        "#f2b01e",  # amber
        "#ffd447",  # gold
        "#127a3b",  # emerald
        "#2e9e6a",  # green
        "#5b1e8c",  # violet
        "#0f8b9c",  # teal
        "#e8dfc0",  # pale glass
    )
]
_GLASS_WEIGHTS = np.array([3, 3, 3, 2, 2, 1.5, 2, 1.5, 2, 1.5, 0.8])


def _two_nearest(sites: np.ndarray, size: int, tile: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi labels and each pixel's distance to its cell's border, tile by tile.

    For a tile with centre c and half-diagonal h, a pixel's two nearest sites lie
    within d2(c) + 2h of c, where d2(c) is c's second-nearest site distance; only
    those candidates are compared, which keeps this fast.
    """
    label = np.empty((size, size), np.int32)
    edge = np.empty((size, size), np.float32)
    half_diagonal = tile * math.sqrt(0.5)
    for top in range(0, size, tile):
        for left in range(0, size, tile):
            h = min(tile, size - top)
            w = min(tile, size - left)
            centre = np.array([top + h / 2, left + w / 2], np.float32)
            dc = np.linalg.norm(sites - centre, axis=1)
            bound = np.partition(dc, 1)[1] + 2 * half_diagonal
            cand = np.flatnonzero(dc <= bound)
            py, px = np.mgrid[top:top + h, left:left + w].astype(np.float32)
            d2 = (py[:, :, None] - sites[cand, 0]) ** 2 + (px[:, :, None] - sites[cand, 1]) ** 2
            i1 = np.argmin(d2, axis=2)
            a1 = np.take_along_axis(d2, i1[:, :, None], 2)[:, :, 0]
            np.put_along_axis(d2, i1[:, :, None], np.inf, 2)
            i2 = np.argmin(d2, axis=2)
            a2 = np.take_along_axis(d2, i2[:, :, None], 2)[:, :, 0]
            s1, s2 = sites[cand[i1]], sites[cand[i2]]
            # Distance from the pixel to the bisector of its two nearest sites.
            sep = np.linalg.norm(s1 - s2, axis=2)
            edge[top:top + h, left:left + w] = (a2 - a1) / (2 * np.maximum(sep, 1e-3))
            label[top:top + h, left:left + w] = cand[i1]
    return label, edge


def draw_stained_glass(size: int = ARTWORK_SIZE, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    px = size / 512.0  # pixels per pixel of a 512-pixel artwork
    # Sites on a jittered grid, denser towards the centre (a rose-window feel).
    n = 15
    gy, gx = np.mgrid[0:n, 0:n].astype(np.float32)
    sites = np.stack([(gy + 0.5 + rng.uniform(-0.42, 0.42, gy.shape)) / n,
                      (gx + 0.5 + rng.uniform(-0.42, 0.42, gx.shape)) / n], -1).reshape(-1, 2)
    centred = sites - 0.5
    radius = np.linalg.norm(centred, axis=1, keepdims=True)
    sites = 0.5 + centred * (0.55 + 0.9 * radius)  # pull the inner sites together
    sites = sites[(sites.min(1) > -0.1) & (sites.max(1) < 1.1)] * size

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    label, edge = _two_nearest(sites, size)

    count = len(sites)
    colour_index = rng.choice(len(_GLASS_PALETTE), size=count, p=_GLASS_WEIGHTS / _GLASS_WEIGHTS.sum())
    colours = np.stack([_GLASS_PALETTE[i] for i in colour_index])
    colours *= rng.uniform(0.8, 1.15, (count, 1))  # per-pane brightness
    colours += rng.normal(0, 14, (count, 3))  # per-pane tint
    glass = colours[label]

    # Rippled glass: each pane has streaks in its own direction.
    angle = rng.uniform(0, math.pi, count)[label]
    freq = rng.uniform(0.12, 0.3, count)[label] / px
    phase = rng.uniform(0, 2 * math.pi, count)[label]
    ripple = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) * freq + phase)
    mottle = _fractal_noise(rng, size, (6, 12, 24, 48, 96))
    shade = 0.78 + 0.16 * ripple + 0.35 * (mottle - 0.5)
    # Each pane glows brighter in its middle, darker by the leading.
    shade *= 0.8 + 0.35 * np.clip(edge / (14.0 * px), 0, 1)
    # Light falls off towards the corners of the window.
    radial = np.hypot(xs - size / 2, ys - size / 2) / (size / 2)
    shade *= 1.12 - 0.32 * radial ** 2
    glass = glass * shade[:, :, None]

    # Thick dark leading with a soft highlight along its middle.
    lead_width = (3.2 + 1.2 * _smooth_noise(rng, size, 10)) * px
    lead = np.clip((lead_width - edge) / (1.2 * px) + 0.5, 0, 1)
    lead_colour = 28 + 30 * np.exp(-((edge / max(lead_width.mean() * 0.45, 1e-3)) ** 2))
    image = glass * (1 - lead[:, :, None]) + lead_colour[:, :, None] * lead[:, :, None] * np.array([0.9, 0.92, 1.0])

    image += rng.normal(0, 7, (size, size, 1))  # grain
    return _to_uint8(image)


# --------------------------------------------------------------------------- brush strokes


_VORTICES = (  # (x, y, radius) as fractions of the side, and the direction of spin
    (0.28, 0.30, 0.17, 1),
    (0.70, 0.22, 0.12, -1),
    (0.55, 0.62, 0.20, 1),
    (0.18, 0.78, 0.13, -1),
    (0.86, 0.72, 0.11, 1),
)
_BLUES = [_hex(c) for c in ("#0d1b4c", "#13307a", "#1f4fa3", "#2f6fc4", "#4b8fd8", "#7fb3e6", "#1a5f8a")]
_WARMS = [_hex(c) for c in ("#f6d743", "#f3b61f", "#e8871e", "#fff1a8", "#d9622b")]
_GREENS = [_hex(c) for c in ("#2c5f4a", "#3f7f5f")]


def _flow_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Direction of the swirling flow field at (u, v) in [0, 1]^2: vortices on a wavy drift."""
    vx = 1.0 + 0.6 * np.sin(6.0 * v + 2.0 * np.sin(3.0 * u))
    vy = 0.5 * np.sin(5.0 * u + 1.5) + 0.35 * np.cos(7.0 * v)
    for cx, cy, r, spin in _VORTICES:
        dx, dy = u - cx, v - cy
        d2 = dx * dx + dy * dy
        strength = 2.8 * np.exp(-d2 / (2 * r * r)) / np.sqrt(d2 + 1e-4)
        vx = vx - spin * strength * dy
        vy = vy + spin * strength * dx
    return np.arctan2(vy, vx)


def _swirl_weight(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """1 at the vortex centres (where the paint turns yellow), falling to 0 away from them."""
    weight = np.zeros_like(u)
    for cx, cy, r, _ in _VORTICES:
        weight = np.maximum(weight, np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * (0.6 * r) ** 2)))
    return weight


def _brush_pass(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, ss: int,
                count: int, length: float, width: float, steps: int) -> None:
    """One pass of strokes of a size, traced through the flow field at once."""
    # Trace every stroke of the pass through the flow field at once.
    x = rng.uniform(-10, size + 10, count)
    y = rng.uniform(-10, size + 10, count)
    points = np.empty((steps + 1, count, 2))
    angles = np.empty((steps + 1, count))
    seg = length / steps
    for k in range(steps + 1):
        angles[k] = _flow_angle(x / size, y / size)
        points[k] = np.stack([x, y], 1)
        x = x + seg * np.cos(angles[k])
        y = y + seg * np.sin(angles[k])

    # Colour: warm near the vortex centres, blues elsewhere, a little green.
    warm = rng.random(count) < 0.85 * _swirl_weight(points[0, :, 0] / size, points[0, :, 1] / size)
    green = ~warm & (rng.random(count) > 0.97)
    colours = np.array(_BLUES)[rng.integers(0, len(_BLUES), count)]
    colours[warm] = np.array(_WARMS)[rng.integers(0, len(_WARMS), int(warm.sum()))]
    colours[green] = np.array(_GREENS)[rng.integers(0, len(_GREENS), int(green.sum()))]
    colours = colours * rng.uniform(0.85, 1.12, (count, 1)) + rng.normal(0, 10, (count, 3))
    fills = [tuple(c) for c in np.clip(colours, 0, 255).astype(int).tolist()]
    lights = [tuple(c) for c in np.clip(colours * 1.22 + 18, 0, 255).astype(int).tolist()]
    darks = [tuple(c) for c in np.clip(colours * 0.7, 0, 255).astype(int).tolist()]

    # Tapered outline: full width in the middle of the stroke, narrow at its ends.
    t = np.linspace(0, 1, steps + 1)[:, None, None]
    half = 0.5 * width * (0.3 + 0.7 * np.sin(np.pi * t) ** 0.6)
    normal = np.stack([-np.sin(angles), np.cos(angles)], 2)
    left = (points + normal * half) * ss
    right = (points - normal * half) * ss
    outlines = np.concatenate([left, right[::-1]], 0).transpose(1, 0, 2).tolist()
    # Bristle threads: a lighter and a darker line to either side of the middle.
    centre = points[1:-1] * ss
    light_paths = (centre + normal[1:-1] * half[1:-1] * 0.55 * ss).transpose(1, 0, 2).tolist()
    dark_paths = (centre - normal[1:-1] * half[1:-1] * 0.55 * ss).transpose(1, 0, 2).tolist()
    for i in range(count):
        draw.polygon([tuple(p) for p in outlines[i]], fill=fills[i])
        draw.line([tuple(p) for p in light_paths[i]], fill=lights[i], width=ss)
        draw.line([tuple(p) for p in dark_paths[i]], fill=darks[i], width=ss)


def draw_brushstrokes(size: int = ARTWORK_SIZE, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = size / 512.0
    ss = 2  # strokes are drawn at twice the size and scaled down, for clean edges
    big = size * ss

    # Canvas: a mottled dark blue ground, so gaps between strokes are not flat.
    ground = _hex("#14285e") * (0.7 + 0.6 * _fractal_noise(rng, size)[:, :, None])
    canvas = Image.fromarray(_to_uint8(ground)).resize((big, big), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)

    for count, length, width, steps in ((900, 34, 9, 6), (1800, 24, 6, 5), (1400, 15, 4, 4)):
        _brush_pass(draw, rng, size, ss, int(count * scale ** 2), length * scale, width * scale, steps)

    canvas = canvas.resize((size, size), Image.Resampling.BOX)
    image = np.asarray(canvas, dtype=np.float32)
    # Canvas weave showing through the paint, and grain.
    yy, xx = np.mgrid[0:size, 0:size]
    weave = (np.sin(xx * 1.9) * np.sin(yy * 1.9)).astype(np.float32)
    image = image * (1 + 0.05 * weave[:, :, None]) + rng.normal(0, 4, (size, size, 1))
    return _to_uint8(image)


# --------------------------------------------------------------------------- rings


_RING_PALETTE = [
    _hex(c)
    for c in (
        "#d7263d",  # red
        "#f46036",  # orange
        "#f9c80e",  # yellow
        "#2e86ab",  # blue
        "#1b998b",  # teal
        "#6a4c93",  # purple
        "#c5d86d",  # lime
        "#ff90b3",  # pink
        "#0b132b",  # near black
        "#f2efe9",  # off white
        "#3c6e71",  # slate green
    )
]


def _ring_set(canvas: Image.Image, rng: np.random.Generator, centre: tuple[float, float], outer: float,
              big: int, px: float, angles: np.ndarray) -> None:
    """One set of concentric rings, with its glow, composited onto `canvas`."""
    cx, cy = centre
    cos, sin = np.cos(angles), np.sin(angles)
    # Each set is drawn on a patch just big enough for it and its glow.
    margin = outer * 1.2 + 22 * px + 2
    left, top = max(0, int(cx - margin)), max(0, int(cy - margin))
    right, bottom = min(big, int(cx + margin) + 1), min(big, int(cy + margin) + 1)
    if right <= left or bottom <= top:
        return
    patch = (right - left, bottom - top)
    x, y = cx - left, cy - top

    # A soft glow around each set, as Kandinsky's circles shine out of the ground.
    glow_colour = _RING_PALETTE[int(rng.integers(len(_RING_PALETTE)))]
    glow = Image.new("RGBA", patch, (0, 0, 0, 0))
    reach = outer * 1.18
    ImageDraw.Draw(glow).ellipse([x - reach, y - reach, x + reach, y + reach],
                                 fill=tuple(int(c) for c in glow_colour) + (90,))
    canvas.alpha_composite(glow.filter(ImageFilter.GaussianBlur(5 * px)), dest=(left, top))

    layer = Image.new("RGBA", patch, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    count = int(rng.integers(4, 10))
    radii = np.concatenate([[1.0], np.sort(rng.uniform(0.1, 0.95, count - 1))[::-1]])
    alpha = int(rng.integers(215, 256))
    previous = -1
    for rr in radii:
        index = int(rng.integers(len(_RING_PALETTE)))
        while index == previous:
            index = int(rng.integers(len(_RING_PALETTE)))
        previous = index
        colour = np.clip(_RING_PALETTE[index] * rng.uniform(0.88, 1.08) + rng.normal(0, 8, 3), 0, 255)
        # Hand-drawn: a slight wobble, and each ring's centre drifts a little.
        wobble = 1 + sum(rng.uniform(0, 0.02) * np.cos(k * angles + rng.uniform(0, 2 * math.pi))
                         for k in (2, 3, 5))
        radius = outer * rr * wobble
        draw.polygon(list(zip(x + radius * cos, y + radius * sin)),
                     fill=tuple(int(c) for c in colour) + (alpha,))
        x += rng.normal(0, 0.05) * outer * rr
        y += rng.normal(0, 0.05) * outer * rr
    canvas.alpha_composite(layer, dest=(left, top))


def _crossing_lines(canvas: Image.Image, rng: np.random.Generator, big: int, px: float) -> None:
    """A few dark straight lines crossing the composition."""
    draw = ImageDraw.Draw(canvas)
    for _ in range(5):
        x0, y0 = rng.uniform(0, big, 2)
        a = rng.uniform(0, math.pi)
        length = rng.uniform(0.25, 0.6) * big
        draw.line([(x0, y0), (x0 + length * math.cos(a), y0 + length * math.sin(a))],
                  fill=(12, 10, 24, 255), width=max(1, int(round(3 * px))))


def draw_rings(size: int = ARTWORK_SIZE, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ss = 2  # drawn at twice the size and scaled down, for clean edges
    big = size * ss
    px = size / 512.0 * ss  # drawing units per pixel of a 512-pixel artwork

    # Mottled, scumbled ground: indigo to plum to teal-black, with brush texture.
    noise = _fractal_noise(rng, size)
    hue = _fractal_noise(rng, size, (3, 6, 12))
    fine = _smooth_noise(rng, size, 160)
    t = np.clip(noise * 1.6 - 0.3, 0, 1)[:, :, None]
    u = np.clip(hue * 2.0 - 0.6, 0, 1)[:, :, None]
    ground = (_hex("#17163a") * (1 - t) + _hex("#4b1d4f") * t) * (1 - u) + _hex("#10343f") * u
    ground *= (0.82 + 0.36 * fine)[:, :, None]
    canvas = Image.fromarray(_to_uint8(ground)).resize((big, big), Image.Resampling.BILINEAR).convert("RGBA")

    # Sets of concentric rings, biggest first so that small ones sit on top.
    sets = []
    for _ in range(34):
        band = rng.choice(3, p=[0.25, 0.5, 0.25])
        radius = (rng.uniform(14, 30), rng.uniform(30, 62), rng.uniform(62, 110))[band]
        sets.append((rng.uniform(0, big), rng.uniform(0, big), radius * px))
    sets.sort(key=lambda item: -item[2])
    angles = np.linspace(0, 2 * math.pi, 121)[:-1]
    for cx, cy, outer in sets:
        _ring_set(canvas, rng, (cx, cy), outer, big, px, angles)
    _crossing_lines(canvas, rng, big, px)

    canvas = canvas.convert("RGB").resize((size, size), Image.Resampling.BOX)
    image = np.asarray(canvas, dtype=np.float32)
    # Paint texture over everything: fine mottling and grain.
    texture = _fractal_noise(rng, size, (32, 64, 128, 256))
    image *= (0.86 + 0.28 * texture)[:, :, None]
    image += rng.normal(0, 5, (size, size, 1))
    return _to_uint8(image)
