"""Comparing artists on the same photo, from the frames their jobs already stored.

Nothing is re-optimised: `write_compare` reads each artist's job directory (the
frames and `frames.json`) and writes, into `out_dir`:

- ``compare.mp4`` / ``compare.gif``: one tile per artist (in the order given) in a
  `grid_shape` grid, every tile moving through the content weights in sync, each
  captioned with the artist's name above it, and one shared caption bar at the
  bottom, "content weight 3.16". Timing (hold, crossfade, boomerang, fps) is that
  of `sweep.render.movie`.
- ``compare.png``: a table, one row per artist and one column per content weight,
  artist names as row headers and weights as column headers, each artist's
  suggested (balanced) frame outlined in orange.

All artists must share the same content weights, in the same order.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from sweep.atomic import atomic_path
from sweep.errors import SweepError
from sweep.balance import balanced_position
from sweep.layout import compare_file, load_records, same_weights
from sweep.render.frames import (
    ACCENT, INK, MUTED, PAPER, fit_font_size, fit_tile, font, load_frames,
    outline, resize, text_size, title_font, weight_label,
)
from sweep.weight_text import format_weight
from sweep.render.movie import (FORMATS, blend, movie_frame_count, remove_stale_movies, step_label,
                                write_movie_steps)

MOVIE_BACKGROUND = (18, 18, 21)
MOVIE_MIN_SHORT = 256           # tiles are upscaled (integer, nearest) to at least this
MOVIE_MAX_SIZE = (1440, 1920)   # the whole grid is shrunk to fit (height, width)
TABLE_MAX_WIDTH = 2800          # compare.png: tiles shrink as far as it takes to keep the table this wide

Box = tuple[int, int, int, int]  # (top, left, height, width)


# --------------------------------------------------------------------------- the grid

def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of the comparison grid for n artists.

    1 -> 1x1, 2 -> 1x2, 3 -> 1x3, 4 -> 2x2, 5 and 6 -> 2x3, 7 to 9 -> 3x3, 10 to 12
    -> 3x4, ...: up to three in a row, then cols = ceil(sqrt(n)), rows = ceil(n / cols).
    """
    if n < 1:
        raise SweepError(f"a comparison needs at least one artist, got {n}")
    if n <= 3:
        return 1, n
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _grid_metrics(tile_h: int, tile_w: int) -> dict[str, int]:
    name_size = max(12, round(min(tile_h, tile_w) * 0.065))
    return {
        "name_size": name_size,
        "name_h": round(name_size * 1.9),
        "gap": max(6, round(min(tile_h, tile_w) * 0.035)),
        "caption_size": max(14, round(name_size * 1.2)),
        "caption_h": round(max(14, round(name_size * 1.2)) * 2.4),
    }


def grid_boxes(tile_h: int, tile_w: int, shape: tuple[int, int], n: int, *,
               caption: bool = True) -> tuple[tuple[int, int], list[Box]]:
    """Geometry of `compose_grid`: ((height, width) of the image, one (top, left,
    height, width) box per tile in row-major order). A last row that is not full is
    centred. With `caption`, a caption bar runs along the bottom."""
    rows, cols = shape
    if n > rows * cols:
        raise SweepError(f"{n} tiles do not fit a {rows}x{cols} grid")
    m = _grid_metrics(tile_h, tile_w)
    gap, name_h = m["gap"], m["name_h"]
    cell_h = name_h + tile_h
    width = cols * tile_w + (cols + 1) * gap
    height = rows * cell_h + (rows + 1) * gap + (m["caption_h"] if caption else 0)
    boxes: list[Box] = []
    for k in range(n):
        r, c = divmod(k, cols)
        in_row = min(cols, n - r * cols)
        offset = (cols - in_row) * (tile_w + gap) // 2
        top = gap + r * (cell_h + gap) + name_h
        left = gap + offset + c * (tile_w + gap)
        boxes.append((top, left, tile_h, tile_w))
    return (height, width), boxes


def _fit_text(text: str, size: int, max_width: int, *, keep_end: bool = False) -> tuple[str, int]:
    """Shrink the font a little, then shorten `text` so it fits `max_width`: drop
    leading words if `keep_end` (a caption's value is at its end), else truncate with
    '...' (names)."""
    size = fit_font_size(text, size, max_width, minimum=max(8, int(size * 0.75)))
    if text_size(text, size)[0] <= max_width:
        return text, size
    if keep_end:
        words = text.split()
        while len(words) > 1 and text_size(" ".join(words), size)[0] > max_width:
            words = words[1:]
        return " ".join(words), size
    while len(text) > 1 and text_size(text + "...", size)[0] > max_width:
        text = text[:-1]
    return text.rstrip() + "...", size


def compose_grid(tiles: list[np.ndarray], names: list[str], shape: tuple[int, int], *,
                 caption: str | None = None) -> np.ndarray:
    """One comparison movie frame: `tiles` (same size, uint8 RGB) laid out row-major in a
    (rows, cols) grid on a dark background, each with its name above it, and, if
    `caption` is given, a caption bar along the bottom. Geometry: `grid_boxes`."""
    if len(tiles) != len(names):
        raise SweepError(f"got {len(tiles)} tiles and {len(names)} names")
    if not tiles:
        raise SweepError("a comparison needs at least one tile")
    tile_h, tile_w = tiles[0].shape[:2]
    (height, width), boxes = grid_boxes(tile_h, tile_w, shape, len(tiles), caption=caption is not None)
    m = _grid_metrics(tile_h, tile_w)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = MOVIE_BACKGROUND
    for tile, (top, left, h, w) in zip(tiles, boxes):
        canvas[top:top + h, left:left + w] = resize(np.asarray(tile, dtype=np.uint8), h, w)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for name, (top, left, h, w) in zip(names, boxes):
        text, size = _fit_text(name, m["name_size"], w - 4)
        draw.text((left + 2, top - m["name_h"] // 2 - max(1, m["gap"] // 4)), text, font=font(size, text),
                  fill=(236, 236, 240), anchor="lm")
    if caption is not None:
        bar_top = height - m["caption_h"]
        draw.rectangle((0, bar_top, width, height), fill=(8, 8, 10))
        text, size = _fit_text(caption, m["caption_size"], width - 2 * m["gap"], keep_end=True)
        draw.text((width / 2, bar_top + m["caption_h"] / 2), text, font=font(size, text),
                  fill=(255, 255, 255), anchor="mm")
    return np.asarray(image, dtype=np.uint8)


def movie_tile_size(height: int, width: int, shape: tuple[int, int]) -> tuple[int, int]:
    """Tile size in the comparison movie: frames under 256 px on the short side are
    upscaled by an integer factor (nearest); the grid is then shrunk (Lanczos) if it
    would exceed 1920x1440."""
    rows, cols = shape
    th, tw = fit_tile(height, width, min_short=MOVIE_MIN_SHORT, max_long=10 ** 6)
    scale = min(1.0, MOVIE_MAX_SIZE[1] / (cols * tw), MOVIE_MAX_SIZE[0] / (rows * th))
    if scale < 1.0:
        th, tw = max(2, int(th * scale)), max(2, int(tw * scale))
    return th, tw


# --------------------------------------------------------------------------- the table

def _table_sizes(th: int, tw: int, names: Sequence[str]) -> dict[str, int]:
    """The table's gaps, margins, font sizes and header sizes around tiles of th x tw."""
    gap = max(8, round(min(th, tw) * 0.06))
    head_size = max(12, round(min(th, tw) * 0.085))
    title_size = max(18, round(head_size * 1.45))
    sub_size = max(12, round(title_size * 0.62))
    corner_size = max(11, round(head_size * 0.8))
    name_w = min(max(text_size(name, head_size)[0] for name in names), int(2.2 * tw))
    return {"gap": gap, "border": max(3, round(gap * 0.4)), "margin": max(24, 3 * gap), "head": head_size,
            "title": title_size, "sub": sub_size, "corner": corner_size, "name_w": name_w,
            "header_w": max(name_w, text_size("content weight", corner_size)[0]) + 2 * gap}


def _table_width(sizes: dict[str, int], n_cols: int, tw: int) -> int:
    return 2 * sizes["margin"] + sizes["header_w"] + n_cols * tw + (n_cols - 1) * sizes["gap"]


def table_tile_size(height: int, width: int, n_cols: int, names: Sequence[str]) -> tuple[int, int]:
    """(height, width) of a tile of `compose_table`: small frames upscaled (integer, nearest)
    to >= 120 px on the short side, large ones shrunk to <= 220 px on the long side; then, with
    many weights, as much smaller as keeps the whole table within TABLE_MAX_WIDTH, the shape kept.
    The limit wins over any floor: at the default 30 weights the tiles come out about 80 px wide,
    where a floor of 96 px on the short side would make a 4:1 panorama's table (384x96 tiles)
    four times too wide."""
    th, tw = fit_tile(height, width, min_short=120, max_long=220)

    def shrunk(new_tw: int) -> tuple[int, int]:
        return max(2, round(th * new_tw / tw)), new_tw

    def fits(new_tw: int) -> bool:
        return _table_width(_table_sizes(*shrunk(new_tw), names), n_cols, new_tw) <= TABLE_MAX_WIDTH

    # the table's width grows with the tiles' (their gaps and headers with them): bisect for the widest that fits
    narrow, wide = 2, tw
    while narrow < wide:
        middle = (narrow + wide + 1) // 2
        narrow, wide = (middle, wide) if fits(middle) else (narrow, middle - 1)
    return shrunk(narrow)


def compose_table(frames_by_artist: Sequence[Sequence[np.ndarray]], names: Sequence[str],
                  weights: Sequence[float], suggested: Sequence[int | None], *,
                  title: str = "Artist comparison") -> tuple[np.ndarray, list[list[Box]]]:
    """The comparison table image and its tile boxes, boxes[artist][weight] =
    (top, left, height, width). Rows: artists (headers on the left); columns: content
    weights (headers on top); `suggested[r]` is the column outlined in row r (None:
    no outline). Tiles: `table_tile_size`."""
    n_rows, n_cols = len(frames_by_artist), len(weights)
    th, tw = table_tile_size(*frames_by_artist[0][0].shape[:2], n_cols, names)
    sizes = _table_sizes(th, tw, names)
    gap, margin, head_size = sizes["gap"], sizes["margin"], sizes["head"]
    header_h = round(head_size * 2.0)
    title_h = round(sizes["title"] * 1.3) + round(sizes["sub"] * 1.5) + round(gap * 2.0)
    sizes["legend_h"] = round(sizes["sub"] * 2.6)
    grid_left = sizes["left"] = margin + sizes["header_w"]
    grid_top = margin + title_h + header_h
    width_px = _table_width(sizes, n_cols, tw)
    height_px = grid_top + n_rows * th + (n_rows - 1) * gap + sizes["legend_h"] + margin // 2

    canvas = np.empty((height_px, width_px, 3), dtype=np.uint8)
    canvas[:] = PAPER
    boxes: list[list[Box]] = []
    for r, frames in enumerate(frames_by_artist):
        row = []
        for c, frame in enumerate(frames):
            box = (grid_top + r * (th + gap), grid_left + c * (tw + gap), th, tw)
            canvas[box[0]:box[0] + th, box[1]:box[1] + tw] = resize(frame, th, tw)
            row.append(box)
        boxes.append(row)
    for r, column in enumerate(suggested):
        if column is not None:
            outline(canvas, boxes[r][column], sizes["border"], ACCENT)

    image = Image.fromarray(canvas)
    _label_table(ImageDraw.Draw(image), boxes, names, weights, title, sizes)
    return np.asarray(image, dtype=np.uint8), boxes


def _label_table(draw: ImageDraw.ImageDraw, boxes: list[list[Box]], names: Sequence[str],
                 weights: Sequence[float], title: str, sizes: dict[str, int]) -> None:
    """The table's title, weight and artist headers, and the legend, around its tiles."""
    margin, gap, border, head_size = sizes["margin"], sizes["gap"], sizes["border"], sizes["head"]
    title_size, sub_size, corner_size = sizes["title"], sizes["sub"], sizes["corner"]
    name_w, legend_h, grid_left = sizes["name_w"], sizes["legend_h"], sizes["left"]
    n_rows, th = len(boxes), boxes[0][0][2]
    draw.text((margin, margin), title, font=title_font(title_size, title), fill=INK)
    draw.text((margin, margin + round(title_size * 1.3)),
              f"{n_rows} artist{'s' if n_rows != 1 else ''}  |  the same photo  |  "
              f"content weight {format_weight(weights[0])} to {format_weight(weights[-1])}  |  photo -> style",
              font=font(sub_size), fill=MUTED)
    for c, weight in enumerate(weights):
        top, left, _, w = boxes[0][c]
        text, size = _fit_text(format_weight(weight), head_size, w, keep_end=True)
        draw.text((left + w / 2, top - gap - 2), text, font=font(size, text), fill=INK, anchor="md")
    draw.text((margin, boxes[0][0][0] - gap - 2), "content weight", font=font(corner_size), fill=MUTED,
              anchor="ld")
    for r, name in enumerate(names):
        top, _, h, _ = boxes[r][0]
        text, size = _fit_text(name, head_size, name_w)
        draw.text((margin, top + h / 2), text, font=font(size, text), fill=INK, anchor="lm")
    legend_y = boxes[-1][0][0] + th + round(legend_h * 0.55)
    swatch = round(sub_size * 0.9)
    draw.rectangle((grid_left, legend_y - swatch // 2, grid_left + swatch, legend_y + swatch // 2),
                   outline=ACCENT, width=max(2, border - 1))
    draw.text((grid_left + swatch + gap, legend_y), "balanced frame (suggested)", font=font(sub_size),
              fill=MUTED, anchor="lm")


# --------------------------------------------------------------------------- jobs

def _load_artists(job_dirs: dict[str, Path]):
    if not job_dirs:
        raise SweepError("a comparison needs at least one artist job directory, got none")
    names = list(job_dirs)
    all_records = [load_records(Path(job_dirs[name])) for name in names]
    reference = [float(r["content_weight"]) for r in all_records[0]]
    for name, records in zip(names[1:], all_records[1:]):
        weights = [float(r["content_weight"]) for r in records]
        if not same_weights(weights, reference):
            raise SweepError(
                f"artists must share the same content weights to be compared: {names[0]!r} has "
                f"{len(reference)} ({', '.join(format_weight(w) for w in reference)}), {name!r} has "
                f"{len(weights)} ({', '.join(format_weight(w) for w in weights)})"
            )
    all_frames = [load_frames(Path(job_dirs[name]), records) for name, records in zip(names, all_records)]
    suggested = [balanced_position(records) for records in all_records]
    return names, reference, all_records, all_frames, suggested


def write_compare(job_dirs: dict[str, Path], out_dir: Path, *, fps: float = 12, hold: float = 1.0,
                  crossfade: int = 0, boomerang: bool = False,
                  formats: Sequence[str] = ("mp4", "gif"), stale_formats: Sequence[str] = ()) -> list[Path]:
    """Write `out_dir/compare.{mp4,gif}` (per `formats`) and `out_dir/compare.png` from
    the artists' stored frames (`job_dirs`: artist name -> job directory, in display
    order). Returns the written paths: the movies in `formats` order, then the PNG.
    The comparison movies of `stale_formats` (an earlier run's, not asked for now) are removed.

    Raises SweepError, before writing anything, for an unknown format, a missing or
    unreadable job, or artists whose content weights differ.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SweepError(f"unknown movie format {unknown[0]!r}: allowed are {', '.join(FORMATS)}")
    names, weights, _, all_frames, suggested = _load_artists(job_dirs)
    movie_frame_count(len(weights), fps, hold, crossfade, boomerang)  # validates the timing
    out = Path(out_dir)
    shape = grid_shape(len(names))
    height, width = all_frames[0][0].shape[:2]
    th, tw = movie_tile_size(height, width, shape)
    tiles_by_artist = [[resize(frame, th, tw) for frame in frames] for frames in all_frames]
    labels = [weight_label(w) for w in weights]

    def render(step) -> np.ndarray:
        tiles = [blend(tiles, step) for tiles in tiles_by_artist]
        return compose_grid(tiles, names, shape, caption=step_label(labels, step))

    written: list[Path] = []
    for kind in dict.fromkeys(formats):
        path = out / compare_file(kind)
        write_movie_steps(render, len(weights), path, fps=fps, hold=hold, crossfade=crossfade,
                          boomerang=boomerang)
        written.append(path)
    table, _ = compose_table(all_frames, names, weights, suggested)
    png = out / compare_file("png")
    with atomic_path(png) as tmp:
        Image.fromarray(table).save(tmp, format="PNG")
    written.append(png)
    remove_stale_movies(out, compare_file, stale_formats, formats)
    return written
