#!/usr/bin/env python
"""Write every built-in sample (the photo and the drawn artworks) as PNGs.

    python scripts/draw_samples.py [--out DIR]     # default: outputs/samples/

Each sample is saved as `DIR/NAME.png`; use it in a config as `sample:NAME`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from sweep.errors import SweepError  # noqa: E402
from sweep.images import save_png  # noqa: E402
from sweep.samples import SAMPLE_PHOTOS, sample_image, sample_names  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "samples",
                        help="directory to write NAME.png into (default: outputs/samples/)")
    args = parser.parse_args(argv)
    try:
        for name in sample_names():
            start = time.perf_counter()
            image = sample_image(name)
            seconds = time.perf_counter() - start
            path = args.out / f"{name}.png"
            save_png(path, image)
            kind = "photo" if name in SAMPLE_PHOTOS else "artwork"
            height, width = image.shape[:2]
            print(f"{path}  {kind:7s} {width}x{height}  ({seconds:.2f} s)")
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
