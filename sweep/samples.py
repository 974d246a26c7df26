"""Built-in sample inputs, so that the quickstart needs no download.

- `grace_hopper`: the public-domain portrait of Rear Admiral Grace Hopper that
  matplotlib ships in its sample data (`mpl-data/sample_data/grace_hopper.jpg`).
- Three artworks drawn here, deterministically (fixed seeds), with numpy and
  Pillow. Each is built to give VGG16's Gram-matrix style losses something
  strong to match: saturated, distinctive palettes, hard edges, and texture at
  several scales.

  - `stained_glass`: a Voronoi mosaic of jewel-coloured glass panes with thick
    dark leading, rippled and mottled glass, light falling off from the centre,
    and grain.
  - `brushstrokes`: thousands of short, tapered, bristled strokes following a
    swirling flow field, in a Van Gogh-like palette of deep blues with yellow
    and orange whirls, on a textured canvas.
  - `rings`: overlapping sets of concentric, hand-wobbled rings in a
    Kandinsky-like palette over a mottled, scumbled background.

Each artwork draws in well under a second and is cached in-process, so it is
drawn at most once per process; callers always get their own copy.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from sweep.artworks import draw_brushstrokes, draw_rings, draw_stained_glass
from sweep.decode import MAX_INPUT_PIXELS, read_image_file
from sweep.errors import SweepError

#: Prefix of an image source that names a built-in sample instead of a file.
SAMPLE_PREFIX = "sample:"

SAMPLE_PHOTOS = ("grace_hopper",)
SAMPLE_STYLES = ("stained_glass", "brushstrokes", "rings")



def sample_names() -> tuple[str, ...]:
    """All sample names, photos first: use them as `sample:NAME` image sources."""
    return SAMPLE_PHOTOS + SAMPLE_STYLES


def sample_image(name: str) -> np.ndarray:
    """The sample `name` as a fresh uint8 `(H, W, 3)` RGB array."""
    if name not in sample_names():
        valid = ", ".join(sample_names())
        raise SweepError(f"unknown sample {name!r}; valid samples: {valid}")
    return _cached(name).copy()


@functools.lru_cache(maxsize=None)
def _cached(name: str) -> np.ndarray:
    image = _grace_hopper() if name == "grace_hopper" else _ARTWORKS[name]()
    image = np.ascontiguousarray(image, dtype=np.uint8)
    image.setflags(write=False)
    return image


# --------------------------------------------------------------------------- the photo


def _grace_hopper() -> np.ndarray:
    return read_image_file(_grace_hopper_path(), MAX_INPUT_PIXELS)


def _grace_hopper_path() -> Path:
    try:
        import matplotlib
    except ImportError:
        raise SweepError("sample 'grace_hopper' needs matplotlib, which is not installed") from None
    try:
        from matplotlib import cbook

        path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except Exception:
        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        raise SweepError(f"sample 'grace_hopper' not found in matplotlib's sample data (looked for {path})")
    return path


_ARTWORKS = {
    "stained_glass": draw_stained_glass,
    "brushstrokes": draw_brushstrokes,
    "rings": draw_rings,
}
