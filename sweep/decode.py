"""Reading image files robustly.

Every image leaves this module as a C-contiguous `numpy.uint8` array of shape
`(H, W, 3)` in RGB order, whatever it was on disk:

- grayscale (`L`) and 1-bit (`1`) images are repeated over the three channels;
- anything with transparency (`RGBA`, `LA`, `PA`, palette images with a `tRNS`
  entry, ...) is composited over **white**: a painting scanned or exported with a
  transparent margin should read as paper, not as black, which would otherwise
  pull dark tones into the style statistics;
- 16-bit integer grayscale (`I;16`, `I;16B`, `I;16L`) is scaled from the 16-bit
  range 0..65535 to 0..255 with rounding (65535 -> 255, 32768 -> 128), not clipped
  as Pillow's own `convert` does; 16-bit RGB(A) PNGs are already reduced to 8 bits
  per channel by Pillow (the high byte);
- 32-bit integer grayscale (`I`) in a TIFF carries no bit depth of its own, so its
  range is read from its values, as for `F` below: 0..2^n-1 for the fewest bits n (at
  least 8) that hold its largest value (255: 8 bits; 256: 9; 4095: 12, a 12-bit camera's);
  a 16-bit PGM, which Pillow also opens as `I`, is already scaled to 0..65535 by its maxval;
- 32-bit float (`F`) is read as 0..1 when its maximum is at most 1, else 0..255;
- CMYK JPEGs (including Adobe's inverted CMYK, which Pillow undoes when it sees
  the Adobe APP14 marker) are converted through their embedded ICC profile when
  they carry one and littlecms is available, else with Pillow's plain formula;
- the EXIF orientation tag is applied, so a portrait photo is upright;
- multi-frame files (GIF, APNG, TIFF) give their first frame.

Bad input raises `SweepError` with one line that names the file: a missing file,
a directory or other non-regular file, a file we may not read, an empty file,
something that is not an image, a truncated or corrupt image, or one with more
pixels than `max_pixels`. Truncation is found by forcing the decode with
`Image.load()` (Pillow opens lazily and would otherwise only notice later);
`ImageFile.LOAD_TRUNCATED_IMAGES` is deliberately left off.
"""
from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sweep.errors import SweepError

#: Largest image (width * height) that `load_image` decodes by default.
#:
#: A tiny, highly compressed file (a PNG of one colour, say) can declare a huge
#: canvas and take gigabytes of memory once decoded: a "decompression bomb". The
#: size is in the file's header, so we refuse such files before decoding them.
#: 100 megapixels (e.g. 12000 x 8333) is far beyond any photo or scan one would
#: style-transfer (inputs are resized to a few hundred pixels anyway) and decodes
#: to 300 MB of RGB, which any machine that runs VGG16 can hold.
MAX_INPUT_PIXELS = 100_000_000

_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC
_PNG_TAIL_WINDOW = 1 << 20
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_INTEGER_GRAY_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})


def _fail(path: Path, reason: str) -> SweepError:
    # One line, whatever the underlying exception said.
    reason = " ".join(str(reason).split())
    return SweepError(f"cannot read image {path}: {reason}")


def read_image_file(path: Path, max_pixels: int) -> np.ndarray:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except PermissionError:
        raise _fail(path, "permission denied") from None
    except OSError as exc:
        raise _fail(path, exc.strerror or exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, "is not a regular file")  # a FIFO would block the open
    if info.st_size == 0:
        raise _fail(path, "file is empty (0 bytes)")
    try:
        handle = open(path, "rb")
    except PermissionError:
        raise _fail(path, "permission denied") from None
    except OSError as exc:
        raise _fail(path, exc.strerror or exc) from None
    with handle, warnings.catch_warnings():
        # Our own max_pixels check below replaces Pillow's global limit's warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            pil = Image.open(handle)
        except Image.DecompressionBombError as exc:
            raise _fail(path, f"too many pixels, refused as a possible decompression bomb ({exc})") from None
        except UnidentifiedImageError:
            raise _fail(path, "not an image file, or a format Pillow cannot read") from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise _fail(path, f"corrupt image header ({exc})") from None
        with pil:
            width, height = pil.size
            if width < 1 or height < 1:
                raise _fail(path, f"image has no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise _fail(
                    path,
                    f"image is {width}x{height} = {width * height:,} pixels, more than the "
                    f"limit of {max_pixels:,} (refused as a possible decompression bomb)",
                )
            try:
                pil.load()  # force the full decode: lazy loading hides truncation
            except Image.DecompressionBombError as exc:
                raise _fail(path, f"too many pixels, refused as a possible decompression bomb ({exc})") from None
            except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
                raise _fail(path, f"truncated or corrupt image data ({exc})") from None
            if pil.format == "PNG" and not _png_has_end(handle, info.st_size):
                raise _fail(path, "truncated PNG (the image data is not followed by an IEND chunk)")
            try:
                return _to_rgb(pil, path)
            except SweepError:
                raise
            except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
                raise _fail(path, f"truncated or corrupt image data ({exc})") from None


def _png_has_end(handle, size: int) -> bool:
    """Whether the PNG's closing IEND chunk is there (Pillow ignores its absence).

    A PNG cut just after its pixel data still decodes; the missing IEND (and often
    the zlib checksum) is the only sign. Searching the file's tail, not its very
    last bytes, tolerates the junk some tools append after IEND.
    """
    window = min(size, _PNG_TAIL_WINDOW)
    handle.seek(size - window)
    return _PNG_IEND in handle.read(window)


def _to_rgb(pil: Image.Image, path: Path) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to uint8 (H, W, 3) RGB."""
    source_format = pil.format   # exif_transpose's copy has none
    try:
        oriented = ImageOps.exif_transpose(pil)
    except Exception:  # a damaged EXIF block must not lose an otherwise good image
        oriented = None
    if oriented is not None:
        pil = oriented
    mode = pil.mode

    if mode in _INTEGER_GRAY_MODES:
        values = np.clip(np.asarray(pil).astype(np.int64), 0, None)
        # a TIFF's mode I has no bit depth: the fewest bits (at least 8) that hold its largest value
        by_values = mode == "I" and source_format == "TIFF" and values.size
        top = 2 ** max(8, int(values.max()).bit_length()) - 1 if by_values else 65535
        values = np.clip(values, 0, top)
        gray = ((values * 255 + top // 2) // top).astype(np.uint8)
        return _gray_to_rgb(gray)
    if mode == "F":
        values = np.nan_to_num(np.asarray(pil, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if values.size and values.max() <= 1.0:
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return _gray_to_rgb(gray)
    if mode in _ALPHA_MODES or "transparency" in pil.info:
        try:
            rgba = np.asarray(pil.convert("RGBA"), dtype=np.uint8)
        except ValueError as exc:
            raise _fail(path, f"cannot convert image mode {mode} to RGB ({exc})") from None
        return _over_white(rgba)
    if mode == "L":
        return _gray_to_rgb(np.asarray(pil, dtype=np.uint8))
    if mode == "1":
        return _gray_to_rgb(np.asarray(pil.convert("L"), dtype=np.uint8))
    if mode == "CMYK":
        return np.array(_cmyk_to_rgb(pil), dtype=np.uint8)
    if mode == "RGB":
        return np.array(pil, dtype=np.uint8)
    try:
        return np.array(pil.convert("RGB"), dtype=np.uint8)
    except ValueError as exc:
        raise _fail(path, f"cannot convert image mode {mode} to RGB ({exc})") from None


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """Composite straight (non-premultiplied) RGBA over white, with rounding."""
    rgb = rgba[:, :, :3].astype(np.uint32)
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(out.astype(np.uint8))


def _cmyk_to_rgb(pil: Image.Image) -> Image.Image:
    icc = pil.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(pil, source, target, outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # no littlecms, or a broken profile: use the plain formula
            pass
    return pil.convert("RGB")
