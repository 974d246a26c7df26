"""Check the loss normalisation: does the default sweep span the whole morph?

For each painting, sweeps the photo from content weight 100 to 0.1 with the default
settings (at a small size) and prints, per painting: the first frame's PSNR against
the photo, the last frame's style loss relative to the first's, and whether the
content loss rises monotonically. Any image path or `sample:NAME` works:

    .venv/bin/python scripts/calibrate.py --size 64 sample:brushstrokes path/to/starry_night.jpg
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml

import sweep
from sweep.images import load_image, read_png, resize_max_side
from sweep.samples import SAMPLE_STYLES


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paintings", nargs="*", default=[f"sample:{name}" for name in SAMPLE_STYLES])
    parser.add_argument("--photo", default="sample:grace_hopper")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--iterations", type=int, help="optimizer.iterations (default: the config default)")
    args = parser.parse_args()

    photo = resize_max_side(load_image(args.photo), args.size)
    styles = {f"p{i}": str(Path(p).resolve()) if not p.startswith("sample:") else p
              for i, p in enumerate(args.paintings)}
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "calibrate.yaml"
        config_path.write_text(yaml.safe_dump({
            "content": args.photo, "styles": styles,
            "sweep": {"content_weight": {"steps": args.steps}},
            "image": {"max_size": args.size}, "movie": {"formats": []},
            **({"optimizer": {"iterations": args.iterations}} if args.iterations else {})}))
        result = sweep.run(config_path, Path(tmp) / "out")
        print(f"{'painting':40s} {'PSNR first (dB)':>16s} {'style last/first':>17s} {'content rises':>14s}")
        for name, painting in zip(styles, args.paintings):
            records = json.loads((result.out_dir / name / "frames.json").read_text())
            first = read_png(result.out_dir / name / records[0]["file"])
            content = [r["content_loss"] for r in records]
            rises = all(a < b for a, b in zip(content, content[1:]))
            ratio = records[-1]["style_loss"] / records[0]["style_loss"]
            print(f"{Path(painting).name:40s} {psnr(first, photo):16.1f} {ratio:17.3f} {str(rises):>14s}")


if __name__ == "__main__":
    main()
