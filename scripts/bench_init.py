"""Speed and flicker of `init: content` against `init: chain`, on the benchmark case.

    .venv/bin/python scripts/bench_init.py                  # about 4 minutes on a 2-core CPU
    .venv/bin/python scripts/bench_init.py --iterations 60  # the quickstart's budget

Case: grace_hopper + brushstrokes, 8 log-spaced content weights 100 ... 0.1, 128 px, the
product's optimiser settings. Each setup runs the whole sweep through SweepEngine:
`content` with every frame in one chunk (the default where memory allows), `chain`
with chunks of 2 and of 1 (a chunk starts from the previous chunk's last frame, so
`chain` only acts between chunks). Flicker is the mean absolute difference between
consecutive frames, in 0-255 pixel units: what a viewer sees jump in the movie.
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np

from bench import Bench, frame_objective, log

from sweep.config import ContentWeightSweep, OptimizerSection, sweep_values
from sweep.engine import SweepEngine

SETUPS = (("content", 8), ("chain", 2), ("chain", 1))


def flicker(images: np.ndarray) -> list[float]:
    """Mean absolute difference of each pair of consecutive frames (N, H, W, 3) uint8, 0-255."""
    frames = images.astype(np.float64)
    return [float(v) for v in np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))]


def run_setup(bench: Bench, weights, init: str, chunk: int, iterations: int) -> dict:
    config = dataclasses.replace(bench.config, init=init,
                                 optimizer=dataclasses.replace(OptimizerSection(), iterations=iterations))
    engine = SweepEngine(config, bench.extractor)
    photo, painting = bench.images(128)
    started = time.perf_counter()
    results = engine.optimise("bench_init", photo, painting, list(enumerate(weights)), chunk)
    seconds = time.perf_counter() - started
    losses = [frame_objective(r, config.sweep) for r in results]
    steps = flicker(np.stack([r.image for r in results]))
    return dict(init=init, chunk_size=chunk, seconds=round(seconds, 1), iterations=[r.iterations for r in results],
                losses=[round(v, 5) for v in losses], flicker_mean=round(float(np.mean(steps)), 2),
                flicker=[round(v, 1) for v in steps])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=OptimizerSection().iterations,
                        help="the iteration budget of every frame (default: the product's)")
    args = parser.parse_args(argv)
    bench = Bench()
    weights = sweep_values(ContentWeightSweep(start=100, stop=0.1, steps=8))
    rows = []
    for init, chunk in SETUPS:
        log(f"init {init}, chunks of {chunk} ...")
        rows.append(run_setup(bench, weights, init, chunk, args.iterations))
        log(json.dumps(rows[-1]))
    baseline = np.array(rows[0]["losses"])
    for row in rows:
        row["loss_relative_to_first_setup"] = [round(v, 4) for v in np.array(row["losses"]) / baseline - 1]
    print(json.dumps({"case": "grace_hopper + brushstrokes, 8 log-spaced weights 100..0.1, 128 px",
                      "iterations": args.iterations, "setups": rows}))


if __name__ == "__main__":
    sys.exit(main())
