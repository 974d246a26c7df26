"""Morph quality and cost of a sweep: today's `init: content` against `init: keyframes`.

    .venv/bin/python scripts/bench_morph.py                      # the issue's case, about an hour on 2 cores
    .venv/bin/python scripts/bench_morph.py --size 64 --pairs brushstrokes --setups content keyframes

Case: 30 frames at 128 px, the product's optimiser settings, every frame of a job in one
chunk; `content` is the default before keyframes (content weight 100 -> 0.1, style loss
on the painting's scale, no detail layers), the other setups use today's default range
and scale. Pairs: the built-in photo (or `--photo`) with `sample:brushstrokes`, and with
the two public-domain paintings of ../shared/data/ when that folder is there. Per pair
and setup it prints the movie's jitter and pace (sweep/motion.py; under `init: keyframes`
also `jitter_floor`, the jitter of the 8-bit crossfade through the run's own keyframes,
which no movie through them goes much below; each null for a still movie), the first
frame's PSNR to the photo, the last frame's normalised content loss, the wall and CPU time
(the process's, steadier than wall time on a shared machine) and the optimiser's total
frame-iterations.
With the `reference` setup in the run, every frame's loss is compared with that
independent `init: content` run to convergence (L-BFGS history 20, up to 600 iterations,
tolerance 1e-5). The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench import Bench, even_keyframes, frame_objective, log

from sweep import motion
from sweep import weights as weights_module
from sweep.model import build_extractor
from sweep.config import ContentWeightSweep, KeyframeSection, SweepSection, sweep_values
from sweep.engine import SweepEngine, to_float_images
from sweep.images import load_image, resize_max_side
from sweep.morph import keyframes_of

SHARED = Path(os.environ.get("SWEEP_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
PAIRS = {"brushstrokes": "sample:brushstrokes", "stained_glass": "sample:stained_glass", "rings": "sample:rings",
         "starry_night": str(SHARED / "starry_night.jpg"),
         "shipwreck": str(SHARED / "shipwreck.jpg")}
# name -> config changes; "content" is today's default
TODAY = dict(start=100.0, stop=0.1)   # the default range before the keyframes
SETUPS = {
    # the default before this benchmark's changes: every frame from the photo, one batch
    "content": dict(init="content", sweep=dict(style_unit="painting"), keyframes=dict(continuation=False),
                    model=dict(detail_layers=[])),
    "keyframes": dict(init="keyframes"),
    # the in-betweens placed where the keyframes differ most (sweep/spacing.py)
    "even": dict(init="keyframes", spacing="even"),
    # every frame from the photo under today's losses and budget: what the optimiser alone reaches
    "content_today": dict(init="content"),
    # candidates measured for the default (docs/morph.md)
    "keyframes_batched": dict(init="keyframes", keyframes=dict(continuation=False)),
    "keyframes_every3": dict(init="keyframes", keyframes=dict(every=3)),
    "keyframes_noise_end": dict(init="keyframes", keyframes=dict(noise_below=0.1)),
    # every frame on its own from the photo, run to convergence: what "within 3%" compares with
    "reference": dict(init="content", optimizer=dict(iterations=600, history=20, tolerance=1e-5, patience=10)),
}


EXTRACTORS: dict = {}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def parse_setup(text: str) -> tuple[str, dict]:
    """"NAME" or "NAME:key=value,key=value" (keys of the `keyframes` section, values YAML)."""
    import yaml

    name, _, extra = text.partition(":")
    if name not in SETUPS:
        raise SystemExit(f"unknown setup {name!r}; choose from {', '.join(SETUPS)}")
    overrides = dict(item.split("=", 1) for item in extra.split(",") if item)
    return name, {key: yaml.safe_load(value) for key, value in overrides.items()}


def config_for(bench: Bench, setup: str, args) -> object:
    name, overrides = parse_setup(setup)
    changes = dict(SETUPS[name])
    keyframes = dataclasses.replace(KeyframeSection(), **{**changes.pop("keyframes", {}), **overrides})
    optimizer = dataclasses.replace(bench.config.optimizer, **{"iterations": args.iterations,
                                                               **changes.pop("optimizer", {})})
    default_range = ContentWeightSweep()
    if name == "content":
        default_range = dataclasses.replace(default_range, **TODAY)
    sweep = dataclasses.replace(SweepSection(), content_weight=ContentWeightSweep(
        start=args.start or default_range.start, stop=args.stop or default_range.stop, steps=args.frames,
        spacing=changes.pop("spacing", "log")),
        **changes.pop("sweep", {}))
    model = dataclasses.replace(bench.config.model, **changes.pop("model", {}))
    return dataclasses.replace(bench.config, optimizer=optimizer, sweep=sweep, keyframes=keyframes, model=model,
                               **changes)


def extractor_for(bench: Bench, config):
    """The bench's network, or one built for a setup's own model section (cached)."""
    if config.model == bench.config.model:
        return bench.extractor
    key = repr(config.model)
    if key not in EXTRACTORS:
        resolved = weights_module.resolve_weights("imagenet")
        EXTRACTORS[key] = build_extractor(config.model, lambda m: weights_module.load_into(m, resolved))
    return EXTRACTORS[key]


def measured(value: float) -> float | None:
    """A movie measure for the JSON: None where sweep.motion gives NaN (a still movie, too few frames)."""
    return round(value, 3) if np.isfinite(value) else None


def run_setup(bench: Bench, config, photo, painting) -> tuple[dict, list]:
    engine = SweepEngine(config, extractor_for(bench, config))
    frames = list(enumerate(config.content_weights()))
    started, cpu_started = time.perf_counter(), time.process_time()
    keyframes = keyframes_of(config) if config.init == "keyframes" else None
    if config.sweep.content_weight.spacing == "even":
        results, keyframes = run_even(engine, photo, painting, frames)
    else:
        results = engine.optimise("bench_morph", photo, painting, frames, len(frames))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    results.sort(key=lambda r: r.index)
    images = [r.image for r in results]
    row = dict(seconds=round(seconds, 1), cpu_seconds=round(cpu_seconds, 1),
               frame_iterations=int(sum(r.iterations for r in results)),
               jitter=measured(motion.jitter(images)), pace=measured(motion.pace(images)),
               jitter_floor=None if keyframes is None else measured(motion.jitter(motion.crossfade(images, keyframes))),
               first_psnr_db=round(psnr(images[0], photo), 2),
               last_content_loss=round(results[-1].content_loss, 4),
               losses=[round(frame_objective(r, config.sweep), 5) for r in results],
               weights=[round(r.content_weight, 5) for r in results],
               iterations=[r.iterations for r in results])
    return row, results


def run_even(engine: SweepEngine, photo, painting, frames) -> tuple[list, list[int]]:
    """`spacing: even` as `sweep.run` does it (sweep/spacing.py): the keyframes as a sweep
    of their own, then the in-betweens placed by them, each pass in one chunk. Returns the
    frames and the keyframes' indices."""
    done, weights, placed = even_keyframes(engine, photo, painting, [weight for _, weight in frames])
    stored = {placed[r.index]: r.image for r in done}
    betweens = [(index, weight) for index, weight in enumerate(weights) if index not in stored]
    rest = engine.optimise("bench_morph", photo, painting, betweens, len(frames), stored_frame=stored.get,
                           layout=(weights, placed))
    return [dataclasses.replace(r, index=placed[r.index]) for r in done] + rest, placed


def loss_gaps(losses, reference) -> np.ndarray:
    """Each frame's loss over its reference's, minus 1 (a frame below its reference: 0;
    the reference is then not converged for it)."""
    losses = np.asarray(losses, dtype=np.float64)
    return losses / np.minimum(np.asarray(reference, dtype=np.float64), losses) - 1


def ends(bench: Bench, photo, painting, iterations: int) -> dict:
    """Both ends of the morph: the photo end's PSNR at content weights 1000, 300, 100
    (from the photo), the style end's content loss at 0.01 and 0.001 from the photo and
    from noise, and the photo's own style loss under the painting's normalisation."""
    out = {}
    for init, weights in (("content", [1000.0, 300.0, 100.0, 0.01, 0.001]), ("noise", [0.01, 0.001])):
        optimizer = dataclasses.replace(bench.config.optimizer, iterations=iterations)
        engine = SweepEngine(dataclasses.replace(bench.config, init=init, optimizer=optimizer), bench.extractor)
        results = engine.optimise("ends", photo, painting, list(enumerate(weights)), len(weights))
        for r in results:
            if init == "content" and r.content_weight >= 100:
                out[f"psnr_db_cw{r.content_weight:g}"] = round(psnr(r.image, photo), 2)
            else:
                out[f"content_loss_cw{r.content_weight:g}_{init}"] = round(r.content_loss, 4)
    painting_scale = dataclasses.replace(bench.config.sweep, style_unit="painting")
    engine = SweepEngine(dataclasses.replace(bench.config, init="content", sweep=painting_scale), bench.extractor)
    targets = engine.targets(to_float_images(photo), to_float_images(painting))
    _, _, style, _, _ = engine._evaluator(np.array([1.0], np.float32), targets)(to_float_images(photo))
    out["photo_style_loss"] = round(float(np.asarray(style)[0]), 4)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--start", type=float, help="first content weight (default: the setup's default)")
    parser.add_argument("--stop", type=float, help="last content weight (default: the setup's default)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--pairs", nargs="+", default=["brushstrokes", "starry_night", "shipwreck"],
                        help=f"paintings: of {', '.join(PAIRS)}, or NAME=PATH for another painting")
    parser.add_argument("--setups", nargs="+", default=["content", "keyframes"],
                        help=f"of {', '.join(SETUPS)}, each optionally with keyframes settings, "
                             f"e.g. keyframes:coupling=10,every=3")
    parser.add_argument("--photo", default="sample:grace_hopper",
                        help="the photo: a sample name or a file (default: the built-in photo)")
    parser.add_argument("--ends", action="store_true", help="measure only both ends of the morph (see ends())")
    parser.add_argument("--save", type=Path, help="write each setup's frames as PNGs under this folder")
    args = parser.parse_args(argv)
    bench = Bench()
    photo_raw = load_image(args.photo)
    rows = []
    for pair in args.pairs:
        pair, _, source = pair.partition("=")
        source = source or PAIRS.get(pair)
        if source is None:
            raise SystemExit(f"unknown pair {pair!r}; choose from {', '.join(PAIRS)}, or give NAME=PATH")
        if not source.startswith("sample:") and not Path(source).is_file():
            log(f"skipping {pair}: {source} is absent")
            continue
        photo = resize_max_side(photo_raw, args.size)
        painting = resize_max_side(load_image(source), args.size)
        if args.ends:
            rows.append(dict(pair=pair, **ends(bench, photo, painting, args.iterations)))
            log(json.dumps(rows[-1]))
            continue
        for setup in args.setups:
            config = config_for(bench, setup, args)
            log(f"{pair} / {setup} ...")
            row, results = run_setup(bench, config, photo, painting)
            row = dict(pair=pair, setup=setup, **row)
            if args.save:
                from sweep.images import save_png
                for r in results:
                    save_png(args.save / pair / setup / f"f{r.index:03d}.png", r.image)
            log(json.dumps({k: v for k, v in row.items() if k not in ("losses", "loss_gaps", "iterations")}))
            rows.append(row)
    for row in rows:
        reference = next((r for r in rows if r["pair"] == row["pair"] and r.get("setup") == "reference"), None)
        # the reference's frames have the log weights: spacing: even's in-betweens have others
        if reference and row is not reference and "losses" in row and row["weights"] == reference["weights"]:
            gaps = loss_gaps(row["losses"], reference["losses"])
            row.update(worst_loss_gap=round(float(gaps.max()), 4), loss_gaps=[round(float(g), 4) for g in gaps])
        base = next((r for r in rows if r["pair"] == row["pair"] and r.get("setup") == "content"), None)
        if base and "seconds" in row:
            row["seconds_vs_content"] = round(row["seconds"] / base["seconds"], 3)
            row["cpu_seconds_vs_content"] = round(row["cpu_seconds"] / base["cpu_seconds"], 3)
            row["frame_iterations_vs_content"] = round(row["frame_iterations"] / base["frame_iterations"], 3)
    print(json.dumps({"case": dict(photo=args.photo, size=args.size, frames=args.frames, start=args.start, stop=args.stop,
                                   iterations=args.iterations), "rows": rows}))


if __name__ == "__main__":
    sys.exit(main())
