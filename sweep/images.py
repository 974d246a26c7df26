"""Photos and paintings in, frames out: reading an image source (a file or a
`sample:NAME`), resizing, and encoding PNGs. Every image leaves this module as a
C-contiguous `numpy.uint8` array of shape `(H, W, 3)` in RGB order; how a file of
any mode and bit depth becomes one is `sweep.decode`'s.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from sweep.atomic import write_bytes
from sweep.decode import MAX_INPUT_PIXELS, read_image_file
from sweep.errors import SweepError
from sweep.samples import SAMPLE_PREFIX, sample_image




def load_image(source: str | os.PathLike, *, max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """Read a photo or painting as a uint8 `(H, W, 3)` RGB array.

    `source` is a path, or `sample:NAME` for a built-in sample (see
    `sweep.samples.sample_names()`); only a `str` is checked for the prefix.
    Raises `SweepError` naming the file for anything that cannot be read as an
    image of at most `max_pixels` pixels.
    """
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        return sample_image(source[len(SAMPLE_PREFIX):])
    if not isinstance(source, (str, os.PathLike)):
        raise SweepError(f"image source must be a path or 'sample:NAME', got {type(source).__name__}")
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise SweepError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return read_image_file(Path(source), max_pixels)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG (as written by `save_png`) back as uint8 `(H, W, 3)` RGB, exactly."""
    return read_image_file(Path(path), MAX_INPUT_PIXELS)


def resize_max_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Scale `image` so that its longer side is `max_side` pixels, keeping the aspect.

    The shorter side is rounded and never drops below 1 pixel. Uses Lanczos
    resampling (antialiased when shrinking; big reductions first average whole
    pixel blocks, which is area resampling).
    """
    _check_image(image)
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise SweepError(f"max_side must be a positive integer, got {max_side!r}")
    height, width = image.shape[:2]
    scale = int(max_side) / max(height, width)
    if height >= width:
        size_hw = (int(max_side), max(1, round(width * scale)))
    else:
        size_hw = (max(1, round(height * scale)), int(max_side))
    return resize_to(image, size_hw)


def resize_to(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resample `image` to exactly `size_hw = (height, width)` with Lanczos."""
    _check_image(image)
    try:
        height, width = (int(v) for v in size_hw)
        if any(isinstance(v, bool) or float(v) != int(v) for v in size_hw):
            raise ValueError
    except (TypeError, ValueError):
        raise SweepError(f"size must be (height, width) integers, got {size_hw!r}") from None
    if height < 1 or width < 1:
        raise SweepError(f"size must be at least 1x1 pixels, got {height}x{width} (height x width)")
    if (height, width) == image.shape[:2]:
        return np.array(image, dtype=np.uint8, order="C", copy=True)
    pil = Image.fromarray(np.ascontiguousarray(image))
    shrinking = height < image.shape[0] and width < image.shape[1]
    out = pil.resize(
        (width, height),
        resample=Image.Resampling.LANCZOS,
        reducing_gap=3.0 if shrinking else None,
    )
    return np.array(out, dtype=np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8 `(H, W, 3)` RGB array as PNG bytes (lossless, deterministic)."""
    _check_image(image)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write `image` as a PNG at `path` atomically (temporary file, then rename)."""
    write_bytes(path, encode_png(image))


# --------------------------------------------------------------------------- internals


def _check_image(image) -> None:
    if not isinstance(image, np.ndarray):
        raise SweepError(f"expected a numpy uint8 (H, W, 3) image, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SweepError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise SweepError(f"expected a non-empty image, got shape {image.shape}")
