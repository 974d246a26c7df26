"""The contact sheet: every frame of a job in a grid, above the trade-off plot, the
balanced frame (`sweep.balance`) outlined.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from sweep.atomic import atomic_path
from sweep.balance import balanced_position, finite
from sweep.layout import SHEET_FILE, load_records
from sweep.render.artist_summary import artist_summary
from sweep.motion import summary
from sweep.render.frames import (
    ACCENT, INK, MUTED, PAPER, draw_label, draw_text, fit_tile, load_frames, outline, resize,
    title_font,
)
from sweep.weight_text import format_weight

CONTENT_COLOUR = "#2f6db5"
STYLE_COLOUR = "#c2452d"
MIN_SHEET_WIDTH = 760


# --------------------------------------------------------------------------- layout

GRID_ASPECT = 4 / 3


def sheet_columns(n: int, height: int, width: int) -> int:
    """Columns of a near-square grid of n frames of this size.

    ceil(sqrt(n * aspect * height / width)) with aspect = 4/3 makes the grid a little
    wider than tall (a screen's shape; the plot below makes the sheet taller); the
    column count is then reduced as far as that keeps the same number of rows, so
    the last row is as full as possible. 9 square frames -> 4 + 4 + 1 is avoided:
    ceil(9 / ceil(9 / 4)) = 3 columns.
    """
    if n <= 1:
        return 1
    cols = max(1, min(n, math.ceil(math.sqrt(n * GRID_ASPECT * height / width))))
    rows = math.ceil(n / cols)
    return math.ceil(n / rows)


# --------------------------------------------------------------------------- the plot

def tradeoff_plot(records: Sequence[dict], suggested: int | None, width: int, *,
                  background=PAPER, motion: dict | None = None) -> np.ndarray:
    """The trade-off curve as an RGB array `width` px wide (height 0.34 * width, at
    least 340 px).

    x: content weight, log scale, decreasing to the right (photo left, style right,
    as in the grid). y: each loss divided by its largest value over the sweep, so
    both curves share [0, 1] and keep their shape (a curve that is 0 everywhere
    stays 0). Frames with a NaN/missing loss are left out of that curve. The
    suggested frame gets a dashed vertical line and ringed markers. `motion`
    (sweep.motion.summary) puts the movie's jitter and pace just after the title, or that it
    is still, which the plot then says too.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # 10 x 3.4 inches scaled to `width`; narrow sheets keep 100 dpi so text stays legible
    dpi = max(100.0, width / 10.0)
    inches_w, inches_h = width / dpi, 3.4
    face = tuple(v / 255 for v in background)
    fig = Figure(figsize=(inches_w, inches_h), dpi=dpi, facecolor=face)
    canvas = FigureCanvasAgg(fig)
    # the legend shares the title's row when there is room, else gets a row below it
    one_row = inches_w >= 9.5 and not motion_text(motion)  # the movie's figures take the title's row
    left, right, bottom, top = 0.75, 0.3, 0.68, (0.55 if one_row else 0.85)  # inches
    ax = fig.add_axes((left / inches_w, bottom / inches_h,
                       1 - (left + right) / inches_w, 1 - (bottom + top) / inches_h))
    ax.set_facecolor(face)
    weights = np.array([float(r["content_weight"]) for r in records], dtype=np.float64)
    curves = _plot_curves(ax, records, weights)
    title = _style_axes(ax, weights, one_row)
    # each curve is divided by its own peak, so the losses of frames that look alike still fill the height
    still = bool(motion and motion.get("still"))
    note = ("no loss values recorded" if not any(ok.any() for _, ok in curves)
            else "a still movie: its frames look alike, whatever the curves show" if still else "")
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#6e6e76",
                bbox={"facecolor": face, "edgecolor": "none", "alpha": 0.85}, zorder=5)
    if suggested is not None:
        _mark_suggested(ax, records, weights, curves, suggested)
    ax.legend(loc="lower right" if one_row else "lower left", bbox_to_anchor=(1.0 if one_row else 0.0, 1.0),
              ncol=3, frameon=False, fontsize=9.5, borderaxespad=0.3, handlelength=2.2, columnspacing=1.6)
    canvas.draw()
    if motion_text(motion):
        # just after the title, on its baseline (laid out by the draw above)
        title_box = title.get_window_extent(canvas.get_renderer())
        fig.text((title_box.x1 + 0.12 * dpi) / fig.bbox.width, title_box.y0 / fig.bbox.height,
                 motion_text(motion), fontsize=9.5, color="#4a4a50", ha="left", va="baseline")
        canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3])


def _plot_curves(ax, records: Sequence[dict], weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Both losses, each divided by its peak; returns (normalised values, usable mask) per curve."""
    curves = []
    for key, name, colour, marker in (("content_loss", "content loss", CONTENT_COLOUR, "o"),
                                      ("style_loss", "style loss", STYLE_COLOUR, "s")):
        values = np.array([np.nan if finite(r.get(key)) is None else finite(r.get(key))
                           for r in records], dtype=np.float64)
        ok = np.isfinite(values)
        peak = np.max(np.abs(values[ok])) if ok.any() else 0.0
        normed = values / peak if peak > 0 else np.where(ok, 0.0, np.nan)
        curves.append((normed, ok))
        if ok.any():
            ax.plot(weights[ok], normed[ok], color=colour, marker=marker, markersize=4.5,
                    linewidth=1.8, label=name, zorder=3)
    return curves


def _style_axes(ax, weights: np.ndarray, one_row: bool):
    """Log x axis from the photo (left) to the style (right), grid, labels and title;
    returns the title."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    if weights.min() < weights.max():
        pad = (math.log10(weights.max()) - math.log10(weights.min())) * 0.03
        ax.set_xlim(weights.max() * 10 ** pad, weights.min() / 10 ** pad)
    else:
        ax.set_xlim(weights.max() * 2, weights.min() / 2)
    ax.set_ylim(-0.05, 1.1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.grid(True, which="major", color="#d9d7d0", linewidth=0.8, zorder=0)
    ax.grid(True, which="minor", axis="x", color="#e8e6df", linewidth=0.5, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#8a8a90")
    ax.tick_params(which="both", colors="#4a4a50", labelsize=9)
    plain = FuncFormatter(lambda value, _: format_weight(value))
    ax.xaxis.set_major_formatter(plain)
    narrow = weights.min() > 0 and math.log10(weights.max() / weights.min()) < 1.3
    ax.xaxis.set_minor_formatter(plain if narrow else NullFormatter())  # label 2, 3, ... if < 1 decade
    ax.set_xlabel("content weight (log scale)", fontsize=10, color="#3a3a40")
    for x, text, align in ((0.0, "\u2190 photo", "left"), (1.0, "style \u2192", "right")):
        ax.annotate(text, xy=(x, 0), xycoords="axes fraction", xytext=(0, -26),
                    textcoords="offset points", ha=align, va="top", fontsize=9.5, color="#6e6e76")
    ax.set_ylabel("loss / max", fontsize=10, color="#3a3a40")
    return ax.set_title("Content / style trade-off", loc="left", fontsize=12, color="#222226",
                        fontweight="bold", pad=8 if one_row else 24)


def motion_text(motion: dict | None) -> str:
    """"movie: jitter 0.42, pace 1.30" from a sweep.motion summary, "movie: still (mean step
    0.0008 grey levels)" for a still one, which has neither ('' without a summary)."""
    if motion and motion.get("still"):
        return f"movie: still (mean step {motion.get('mean_step') or 0:.2g} grey levels)"
    if not motion or motion.get("jitter") is None:
        return ""
    text = f"movie: jitter {motion['jitter']:.2f}"
    return text + (f", pace {motion['pace']:.2f}" if motion.get("pace") is not None else "")


def _mark_suggested(ax, records: Sequence[dict], weights: np.ndarray, curves, suggested: int) -> None:
    """A dashed line at the suggested frame's weight, its points ringed, and a legend entry."""
    accent = tuple(v / 255 for v in ACCENT)
    w = weights[suggested]
    ax.axvline(w, color=accent, linestyle="--", linewidth=1.6, zorder=2)
    for (normed, ok), colour in zip(curves, (CONTENT_COLOUR, STYLE_COLOUR)):
        if ok[suggested]:
            ax.plot([w], [normed[suggested]], marker="o", markersize=11, markerfacecolor="none",
                    markeredgecolor=accent, markeredgewidth=2.4, zorder=4)
    record = records[suggested]
    ax.plot([], [], color=accent, linestyle="--", linewidth=1.6,
            label=f"balanced: #{int(record['index']):02d}, cw {format_weight(w)}")


# --------------------------------------------------------------------------- the sheet

def compose_sheet(frames: Sequence[np.ndarray], records: Sequence[dict], suggested: int | None, *,
                  title: str = "", motion: dict | None = None) -> tuple[np.ndarray, tuple[int, int, int, int], list[tuple[int, int, int, int]]]:
    """Build the sheet image. Returns (image, grid_box, tile_boxes) with boxes as
    (top, left, height, width): the grid's bounding box and every frame's tile."""
    n = len(frames)
    height, width = frames[0].shape[:2]
    th, tw = fit_tile(height, width, min_short=160, max_long=360)
    cols = sheet_columns(n, th, tw)
    rows = math.ceil(n / cols)
    gap = max(10, round(min(th, tw) * 0.07))
    border = max(4, round(gap * 0.55))
    grid_w = cols * tw + (cols - 1) * gap
    grid_h = rows * th + (rows - 1) * gap
    margin = max(28, 2 * gap)
    sheet_w = max(MIN_SHEET_WIDTH, grid_w + 2 * margin)
    title_size = max(16, round(sheet_w * 0.018))
    sub_size = max(12, round(title_size * 0.7))
    header_h = margin + round(title_size * 1.3) + round(sub_size * 1.6) + round(gap * 1.2)
    plot = tradeoff_plot(records, suggested, sheet_w - 2 * (margin // 2), motion=motion)
    plot_top = header_h + grid_h + 2 * gap
    sheet_h = plot_top + plot.shape[0] + margin // 2

    canvas = np.empty((sheet_h, sheet_w, 3), dtype=np.uint8)
    canvas[:] = PAPER
    grid_left = (sheet_w - grid_w) // 2
    boxes: list[tuple[int, int, int, int]] = []
    for k, (frame, record) in enumerate(zip(frames, records)):
        r, c = divmod(k, cols)
        top, left = header_h + r * (th + gap), grid_left + c * (tw + gap)
        tile = resize(frame, th, tw)
        label = f"#{int(record['index']):02d}  cw {format_weight(record['content_weight'])}"
        tile = draw_label(tile, label, "bottom-left", size=max(11, round(min(th, tw) * 0.075)))
        if k == suggested:
            tile = draw_label(tile, "balanced", "top-left", size=max(11, round(min(th, tw) * 0.07)),
                              box=ACCENT, alpha=1.0, ink=(20, 20, 20))
        canvas[top:top + th, left:left + tw] = tile
        boxes.append((top, left, th, tw))
    if suggested is not None:
        outline(canvas, boxes[suggested], border, ACCENT)
    plot_left = (sheet_w - plot.shape[1]) // 2
    canvas[plot_top:plot_top + plot.shape[0], plot_left:plot_left + plot.shape[1]] = plot

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    text_left = min(grid_left, margin)
    title = title or "Content weight sweep"
    shown_size = title_size  # a long title (a blend's paintings) shrinks to fit the sheet
    while shown_size > 10 and title_font(shown_size, title).getlength(title) > sheet_w - 2 * text_left:
        shown_size = max(10, int(shown_size * 0.9))
    draw.text((text_left, margin), title, font=title_font(shown_size, title), fill=INK)
    weights = [float(r["content_weight"]) for r in records]
    subtitle = (f"{n} frame{'s' if n != 1 else ''}  |  content weight {format_weight(weights[0])}"
                f" to {format_weight(weights[-1])}  |  photo -> style")
    if suggested is not None:
        subtitle += (f"  |  balanced: #{int(records[suggested]['index']):02d} "
                     f"(cw {format_weight(weights[suggested])})")
    draw_text(draw, (text_left, margin + round(title_size * 1.3)), subtitle, sub_size, fill=MUTED)
    grid_box = (header_h, grid_left, grid_h, grid_w)
    return np.asarray(image, dtype=np.uint8), grid_box, boxes


def write_sheet(job_dir: str | os.PathLike, path: str | os.PathLike | None = None, *,
                title: str | None = None) -> Path:
    """Write the contact sheet of a job (default `JOB/sheet.png`) and return its path.

    Top: `title` (default: the job directory's name and its artist's paintings, shares
    and colours) and the sweep's range. Middle:
    every frame in sweep order in a near-square grid (`sheet_columns`), small frames
    upscaled by an integer factor (nearest) to >= 160 px and large ones shrunk
    (Lanczos) to <= 360 px, each labelled "#07  cw 3.16". Bottom: `tradeoff_plot`, the content and style losses against
    the content weight (log x axis), each divided by its maximum over the sweep.
    The balanced frame (`sweep.balance.balanced_position`) has a thick orange outline and a "balanced"
    badge in the grid, and a dashed line and ringed markers on the plot; the movie's
    jitter and pace (sweep/motion.py), or "still", stand just after the plot's title.
    """
    job = Path(job_dir)
    records = load_records(job)
    frames = load_frames(job, records)
    suggested = balanced_position(records)
    if title is None:
        description = artist_summary(records)
        title = f"{job.resolve().name}: {description}" if description else job.resolve().name
    image, _, _ = compose_sheet(frames, records, suggested, title=title,
                                motion=summary(frames) if len(frames) >= 3 else None)
    target = Path(path) if path is not None else job / SHEET_FILE
    with atomic_path(target) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", optimize=False, compress_level=6)
    return target
