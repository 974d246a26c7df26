"""Measure the artist controls (docs/artist-controls.md): prints one JSON object.

    .venv/bin/python scripts/bench_colors.py [--size 96] [--iterations 60]

- `photo` colours, two ways of keeping the photo's colours: optimising on luminance
  (what `colors: photo` does) against swapping the chroma after a colour run (what
  jcjohnson/neural-style's -original_colors does). Per frame: the luminance style loss
  (the frame's luminance against the painting's luminance Grams), the luminance content
  loss, and the chroma error against the photo (mean absolute, 0-255).
- `match`: the matched painting's colour mean and covariance error against the photo's.
- blends: a 50/50 blend's style loss to each painting against the single runs'.
Uses ../shared/data/starry_night.jpg and shipwreck.jpg (next to the repository) when
present, else the drawn samples.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def paintings() -> tuple[str, str]:
    first, second = SHARED / "starry_night.jpg", SHARED / "shipwreck.jpg"
    if first.is_file() and second.is_file():
        return str(first), str(second)
    return "sample:brushstrokes", "sample:stained_glass"


def run(size: int, iterations: int, weights: list[float], first: str, second: str):
    import sweep
    from sweep.records import Callback

    root = Path(tempfile.mkdtemp(prefix="bench_colors_"))
    (root / "c.yaml").write_text(yaml.safe_dump({
        "content": "sample:grace_hopper",
        "styles": {"a": first, "b": second, "half": {"paintings": [first, second]},
                   "a_photo": {"painting": first, "colors": "photo"},
                   "a_match": {"painting": first, "colors": "match"}},
        "sweep": {"content_weight": {"start": weights[0], "stop": weights[-1], "steps": len(weights)}},
        "image": {"max_size": size}, "optimizer": {"iterations": iterations},
        "movie": {"formats": ["gif"]}, "runtime": {"chunk_size": len(weights), "progress": False},
    }))
    timings = {}

    class Timer(Callback):
        def on_job_start(self, job, frame_count, iterations):
            timings[job] = time.perf_counter()

        def on_job_end(self, job):
            timings[job] = round(time.perf_counter() - timings[job], 2)

    result = sweep.run(root / "c.yaml", root / "out", progress=False, callbacks=[Timer()], log=lambda m: None)
    return result, timings


def frames_of(out: Path, artist: str) -> np.ndarray:
    from sweep.images import read_png

    records = json.loads((out / artist / "frames.json").read_text())
    return np.stack([read_png(out / artist / r["file"]) for r in records])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--iterations", type=int, default=60)
    args = parser.parse_args()
    first, second = paintings()
    weights = [10.0, 1.0, 0.1]
    result, timings = run(args.size, args.iterations, weights, first, second)

    from sweep.colors import color_statistics, match_colors, to_ycbcr, with_photo_chroma
    from sweep.engine import build_engine
    from sweep.weights import resolve_weights

    plan, out = result.plan, result.out_dir
    jobs = {job.artist: job for job in plan.jobs}
    engine = build_engine(plan.config, resolve_weights(plan.config.model.weights))
    photo = jobs["a"].photo_image
    photo_chroma = to_ycbcr(photo / 255.0)[..., 1:] * 255

    def luminance_scores(frames):
        scores = engine.score(frames, photo, jobs["a_photo"].style, weights)
        chroma = [float(np.abs(to_ycbcr(f / 255.0)[..., 1:] * 255 - photo_chroma).mean()) for f in frames]
        return {"luminance_style_loss": [round(float(v), 4) for v in scores["style"]],
                "luminance_content_loss": [round(float(v), 4) for v in scores["content"]],
                "chroma_error_levels": [round(c, 3) for c in chroma]}

    swapped = with_photo_chroma(frames_of(out, "a"), photo)
    painting = jobs["a_match"].style.paintings[0] / 255.0
    mean, cov = color_statistics(match_colors(painting, photo / 255.0))
    photo_mean, photo_cov = color_statistics(photo / 255.0)
    last = {name: frames_of(out, name)[-1:] for name in ("a", "b", "half")}

    def loss_to(name, frames):
        return round(float(engine.score(frames, photo, jobs[name].style, weights[-1:])["style"][0]), 4)

    report = {
        "size": list(photo.shape[:2]), "iterations": args.iterations, "content_weights": weights,
        "paintings": [first, second],
        "seconds_per_job": timings,
        "photo_colors": {"optimise_on_luminance": luminance_scores(frames_of(out, "a_photo")),
                         "swap_after_optimising": luminance_scores(swapped)},
        "match": {"mean_relative_error": float(np.abs(mean - photo_mean).max() / np.abs(photo_mean).max()),
                  "covariance_relative_error": float(np.abs(cov - photo_cov).max() / np.abs(photo_cov).max())},
        "blend_last_frame_style_loss": {
            "to_a": {"half": loss_to("a", last["half"]), "a": loss_to("a", last["a"]), "b": loss_to("a", last["b"])},
            "to_b": {"half": loss_to("b", last["half"]), "a": loss_to("b", last["a"]), "b": loss_to("b", last["b"])}},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
