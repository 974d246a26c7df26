"""The tiny gallery of the executor tests: 2 photos x 2 artists x 3 frames at 48 px.
The second artist is a blend of two paintings with the photo's colours, so that the
executors carry every artist control."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("left", "right")
ARTISTS = ("brushstrokes", "rings")
ARTIST_SPECS = {"brushstrokes": "sample:brushstrokes",
                "rings": "{paintings: [sample:rings, sample:brushstrokes], weights: [0.7, 0.3], colors: photo}"}
FRAMES = 3
ITERATIONS = 8


def write_gallery(directory: Path, content: str = "photos/*.png") -> Path:
    """Two photos (crops of the sample photo) and a gallery config that names them by `content`."""
    from sweep.samples import sample_image

    photos = directory / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    image = sample_image("grace_hopper")
    h, w = image.shape[:2]
    Image.fromarray(image[:h // 2, :w // 2]).save(photos / "left.png")
    Image.fromarray(image[h // 2:, w // 2:]).save(photos / "right.png")
    config = directory / "gallery.yaml"
    config.write_text(
        f"content: {content}\n"
        "styles:\n"
        + "".join(f"  {artist}: {ARTIST_SPECS[artist]}\n" for artist in ARTISTS)
        + f"sweep:\n  content_weight: {{start: 100, stop: 0.1, steps: {FRAMES}, spacing: log}}\n"
        "image: {max_size: 48}\n"
        f"optimizer: {{name: lbfgs, iterations: {ITERATIONS}}}\n"
        "movie: {formats: [gif], fps: 4, hold: 0.5}\n"
        "runtime: {progress: false}\n")
    return config


def frame_files(out: Path) -> list[str]:
    """Every frame PNG of a run directory, relative to it, sorted."""
    return sorted(str(p.relative_to(out)) for p in out.glob("**/frames/f*.png"))


def pixel_differences(a: Path, b: Path) -> tuple[int, float]:
    """(max, mean) absolute difference between two frame stores' PNGs, in 0..255 units."""
    worst, means = 0, []
    for name in frame_files(a):
        x = np.asarray(Image.open(a / name), dtype=np.int16)
        y = np.asarray(Image.open(b / name), dtype=np.int16)
        diff = np.abs(x - y)
        worst = max(worst, int(diff.max()))
        means.append(float(diff.mean()))
    return worst, max(means, default=0.0)
