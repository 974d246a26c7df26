"""Reading a job's stored frames, and the drawing helpers every renderer shares.

The job directory's layout and its records are `sweep.layout`'s; renderers only read them.

Text is drawn with Pillow's built-in scalable font (`ImageFont.load_default(size=...)`,
Aileron, Pillow >= 10.1), its lone spaces set double (`word_spaced`: its own space is as
narrow as the gaps between its letters). It covers ASCII only, so sweep's own labels are
plain ASCII; a user's name in other letters (`Dürer`, `Мунк`, `東京`) is drawn with the first font
that has them all: DejaVu Sans, which matplotlib ships (Latin, Greek, Cyrillic, Hebrew,
Arabic), then the system's fonts (`covering_fonts`).
"""
from __future__ import annotations

import functools
import io
import math
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sweep.errors import SweepError
from sweep.images import resize_to
from sweep.layout import load_records
from sweep.weight_text import format_weight

# Colours shared by the movie, the contact sheet and the comparison.
ACCENT = (255, 153, 0)          # the suggested ("balanced") frame: outline and badge
INK = (34, 34, 38)              # dark text on light backgrounds
MUTED = (110, 110, 118)         # secondary text
PAPER = (246, 245, 241)         # sheet background
LABEL_BOX = (16, 16, 20)        # label box colour (drawn translucent)
LABEL_ALPHA = 0.62

MIN_LABEL_SIZE = 9
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom")


# --------------------------------------------------------------------------- reading

def load_frames(job_dir: str | os.PathLike, records: Sequence[dict] | None = None) -> list[np.ndarray]:
    """The frame images, uint8 (H, W, 3) RGB, in record order.

    `records` defaults to `load_records(job_dir)`. Every frame must exist and all
    frames must have the same size (SweepError otherwise).
    """
    job = Path(job_dir)
    if records is None:
        records = load_records(job)
    frames: list[np.ndarray] = []
    for record in records:
        path = job / record["file"]
        if not path.is_file():
            raise SweepError(f"frame {record['index']} is missing: {path}")
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
        except OSError as exc:
            raise SweepError(f"cannot read frame {path}: {exc}") from exc
        if frames and frame.shape != frames[0].shape:
            raise SweepError(
                f"frame {path.name} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the first frame is {frames[0].shape[1]}x{frames[0].shape[0]}: all frames must match"
            )
        frames.append(frame)
    return frames


# --------------------------------------------------------------------------- text

def weight_label(weight: float) -> str:
    """The movie label of one frame: "content weight 3.16"."""
    return f"content weight {format_weight(weight)}"


def font(size: int, text: str = "") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The labels' font at `size` pixels: Pillow's built-in one, or for `text` beyond
    ASCII a font that has its letters."""
    return _builtin_font(max(6, int(size))) if text.isascii() else _covering_face(max(6, int(size)), text, False)


def title_font(size: int, text: str = "") -> ImageFont.FreeTypeFont:
    """DejaVu Sans Bold at `size` px for sheet titles (the font of the trade-off plot), or
    a font that has every letter of `text` where DejaVu lacks some."""
    return _covering_face(max(6, int(size)), text, True)


@functools.lru_cache(maxsize=64)
def _builtin_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    builtin = ImageFont.load_default(size=size)
    if not isinstance(builtin, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
        return builtin
    return _WordSpacedFont(io.BytesIO(builtin.font_bytes), size, layout_engine=builtin.layout_engine)


_LONE_SPACE = re.compile(r"(?<! ) (?! )")


def word_spaced(text: str) -> str:
    """`text` as the labels' font sets it: every lone space doubled; runs of spaces, a
    label's deliberately wide gaps ("#07  cw 3.16"), stay as they are."""
    return _LONE_SPACE.sub("  ", text)


class _WordSpacedFont(ImageFont.FreeTypeFont):
    """Pillow's built-in font with `word_spaced` text. Its space, 0.2 em, comes out no wider
    than the gaps between its letters at label sizes: at 11 px compare.png's "content weight"
    read "contentweight". Measuring and drawing both go through these three methods."""

    def getbbox(self, text, *args, **kwargs):
        return super().getbbox(word_spaced(text) if isinstance(text, str) else text, *args, **kwargs)

    def getlength(self, text, *args, **kwargs):
        return super().getlength(word_spaced(text) if isinstance(text, str) else text, *args, **kwargs)

    def getmask2(self, text, *args, **kwargs):
        return super().getmask2(word_spaced(text) if isinstance(text, str) else text, *args, **kwargs)


@functools.lru_cache(maxsize=256)
def _covering_face(size: int, text: str, bold: bool) -> ImageFont.FreeTypeFont:
    """The first of `covering_fonts` that opens at `size`: a colour-emoji font, say, has
    bitmaps of a few sizes only, and FreeType refuses the others."""
    for path in covering_fonts(text, bold):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.truetype(_dejavu(bold), size)


def covering_fonts(text: str, bold: bool = False) -> list[str]:
    """The paths of the fonts that have every letter of `text`: DejaVu Sans (Bold) first,
    then the system's (Noto Sans CJK, where installed)."""
    letters = {ord(letter) for letter in text if not letter.isspace()}
    return [path for path in (_dejavu(bold), *_system_fonts(bold)) if letters <= _letters_of(path)]


def _dejavu(bold: bool) -> str:
    """DejaVu Sans, which matplotlib ships; for the letters no font has, its boxes are what
    any font would draw."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@functools.lru_cache(maxsize=None)
def _letters_of(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):   # a font FreeType cannot read has no letters
        return frozenset()


_OTHER_STYLES = ("black", "heavy", "light", "thin", "medium", "semibold", "italic", "oblique", "condensed")


@functools.lru_cache(maxsize=2)
def _system_fonts(bold: bool) -> tuple[str, ...]:
    """The system's font files: sans-serif ones first, then those of the weight asked for
    (a CJK family's Regular, not its Black, which sorts first by name)."""
    from matplotlib import font_manager

    def rank(path: str) -> tuple:
        name = Path(path).stem.lower()
        weight_matches = ("bold" in name) == bold and not any(style in name for style in _OTHER_STYLES)
        return "sans" not in name, not weight_matches, path

    return tuple(sorted(font_manager.findSystemFonts(), key=rank))


def label_font_size(height: int, width: int) -> int:
    """Font size for a label on an image of this size: ~5% of the short side, >= 11 px."""
    return max(11, round(min(height, width) * 0.05))


def text_size(text: str, size: int) -> tuple[int, int]:
    """(width, height) in pixels of `text` at font `size` (height from ascent to descent)."""
    face = font(size, text)
    left, _, right, _ = face.getbbox(text)
    ascent, descent = _metrics(face)
    return right - left, ascent + descent


def _metrics(face) -> tuple[int, int]:
    try:
        return face.getmetrics()
    except AttributeError:  # pragma: no cover - bitmap fallback font
        return face.getbbox("Ag")[3], 0


def fit_font_size(text: str, size: int, max_width: int, minimum: int = 8) -> int:
    """The largest font size <= `size` at which `text` is at most `max_width` wide."""
    while size > minimum and text_size(text, size)[0] > max_width:
        size = max(minimum, int(size * 0.9))
    return size


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int,
              fill=INK, anchor: str = "la") -> None:
    """Draw `text` with the shared font; `anchor` as in Pillow ("la", "mm", "rs", ...)."""
    draw.text(xy, text, font=font(size, text), fill=fill, anchor=anchor)


def draw_label(image: np.ndarray, text: str, corner: str = "bottom-left", *,
               size: int | None = None, box=LABEL_BOX, alpha: float = LABEL_ALPHA,
               ink=(255, 255, 255)) -> np.ndarray:
    """Return a copy of `image` with `text` in white on a dark translucent box.

    The font size scales with the image (about 5% of its short side, at least 11 px)
    and shrinks if needed (down to 9 px) so the box fits inside the image; if it still
    does not fit, leading words are dropped ("content weight 3.16" -> "3.16"). `corner` is one of
    "top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom" (the
    last two are centred horizontally). Legible from ~200 px frames up; renderers
    upscale smaller frames before labelling them. `size` overrides the font size,
    `box`, `alpha` and `ink` the box colour, its opacity and the text colour.
    """
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {', '.join(CORNERS)}, got {corner!r}")
    frame = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = frame.shape[:2]
    if not text:
        return frame.copy()
    size = size or label_font_size(height, width)
    pad = max(3, round(size * 0.45))
    margin = max(2, round(min(height, width) * 0.025))
    room = width - 2 * margin - 2 * pad
    size = fit_font_size(text, size, room, minimum=MIN_LABEL_SIZE)
    words = text.split()
    while len(words) > 1 and text_size(" ".join(words), size)[0] > room:
        words = words[1:]  # too narrow even at the smallest size: keep the end (the value)
    text = " ".join(words) if text_size(text, size)[0] > room else text
    pad = max(3, round(size * 0.45))
    face = font(size, text)
    left, _, right, _ = face.getbbox(text)
    ascent, descent = _metrics(face)
    box_w = (right - left) + 2 * pad
    box_h = ascent + descent + pad  # the descent already leaves room below the baseline
    if corner.endswith("left"):
        x0 = margin
    elif corner.endswith("right"):
        x0 = width - margin - box_w
    else:
        x0 = (width - box_w) // 2
    y0 = margin if corner.startswith("top") else height - margin - box_h

    base = Image.fromarray(frame).convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    radius = max(2, round(size * 0.3))
    draw.rounded_rectangle((x0, y0, x0 + box_w - 1, y0 + box_h - 1), radius=radius,
                           fill=(*box, round(255 * alpha)))
    draw.text((x0 + pad - left, y0 + round(pad / 2)), text, font=face, fill=(*ink, 255))
    return np.asarray(Image.alpha_composite(base, overlay).convert("RGB"), dtype=np.uint8).copy()


# --------------------------------------------------------------------------- pixels

def upscale_factor(height: int, width: int, min_short_side: int) -> int:
    """Smallest integer factor that brings the short side to at least `min_short_side`."""
    short = min(height, width)
    if min_short_side <= 0 or short >= min_short_side:
        return 1
    return math.ceil(min_short_side / short)


def upscale_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Integer nearest-neighbour upscaling: every pixel becomes a factor x factor block.

    Keeps the pixels of small frames crisp (no blur, no ringing) and exact.
    """
    if factor <= 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to exactly (height, width): integer nearest upscaling where it fits, else Lanczos."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    if height % h == 0 and width % w == 0 and height // h == width // w:
        return upscale_nearest(image, height // h)
    return resize_to(image, (height, width))


def fit_tile(height: int, width: int, *, min_short: int, max_long: int) -> tuple[int, int]:
    """Display size of a frame in a grid: small frames are upscaled by an integer factor
    until the short side reaches `min_short`; large ones shrink so the long side is at
    most `max_long`. Returns (height, width)."""
    factor = upscale_factor(height, width, min_short)
    h, w = height * factor, width * factor
    if max(h, w) > max_long and factor == 1:
        scale = max_long / max(h, w)
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
    return h, w


def outline(image: np.ndarray, box: tuple[int, int, int, int], thickness: int, colour=ACCENT) -> None:
    """Draw a solid rectangular frame of `thickness` px *outside* box=(top, left, h, w), in place."""
    top, left, h, w = box
    H, W = image.shape[:2]
    t0, l0 = max(0, top - thickness), max(0, left - thickness)
    t1, l1 = min(H, top + h + thickness), min(W, left + w + thickness)
    image[t0:top, l0:l1] = colour
    image[top + h:t1, l0:l1] = colour
    image[t0:t1, l0:left] = colour
    image[t0:t1, left + w:l1] = colour
