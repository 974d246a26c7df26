"""`sweep pick --size 2048` beyond the memory budget: tiles, peak memory, wall time, seams.

    .venv/bin/python scripts/bench_tiles.py     # 2048 px, 2500 MB, 3 iterations: the plan estimates 8.8 min on 2 free cores
    .venv/bin/python scripts/bench_tiles.py --size 1024 --budget-mb 1000 --iterations 2 --passes 2   # 2.0 min

1. A tiny quickstart-like run (sample:grace_hopper + sample:brushstrokes, 3 content
   weights, 64 px, 10 L-BFGS iterations), through the CLI.
2. The fixed overhead: peak RSS of `sweep pick --suggested --size 64 --iterations 1`,
   the same process with a frame that costs next to nothing (Python, TensorFlow, the
   network and its weights).
3. `sweep pick --suggested --size SIZE --set runtime.memory_budget_mb=BUDGET --dry-run`
   (the plan: tile grid, tile size, estimated peak memory and time), then the re-render
   itself: wall time and peak RSS (RUSAGE_CHILDREN of this process, which only ran
   the smaller child before). Pass: peak RSS <= budget + fixed overhead.
4. The seam measure on the written PNG, along every row and column where a core of
   some tile pass begins: mean |difference| between the two pixel rows (columns)
   across the border over the same measure 8 px away. Pass: every ratio <= 1.5.

The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEAM_LIMIT = 1.5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sweep_cli(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sweep.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sweep {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done, seconds


def peak_rss_of_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: kB


def tiny_run(base: Path) -> Path:
    config = base / "tiny.yaml"
    config.write_text("content: sample:grace_hopper\n"
                      "styles: {brushstrokes: sample:brushstrokes}\n"
                      "sweep: {content_weight: {start: 10, stop: 0.1, steps: 3}}\n"
                      "image: {max_size: 64}\n"
                      "optimizer: {name: lbfgs, iterations: 10}\n"
                      "movie: {formats: [gif]}\n"
                      "runtime: {progress: false}\n")
    sweep_cli("run", str(config), "--out", str(base / "run"))
    return base / "run" / "brushstrokes"


def seams(png: Path, job: Path, size: int, budget_mb: int, iterations: int) -> dict:
    sys.path.insert(0, str(REPO))
    from sweep.images import read_png
    from sweep.pick import rerender_plan
    from sweep.tiles import seam_ratios

    _, plan, _ = rerender_plan(job, size, iterations, [f"runtime.memory_budget_mb={budget_mb}"])
    rows, cols = plan.estimate.tiles.borders()
    ratios = seam_ratios(read_png(png), rows, cols)
    return dict(borders=len(ratios), seam_ratio_max=round(max(ratios), 3),
                seam_ratio_mean=round(sum(ratios) / len(ratios), 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--budget-mb", type=int, default=2500, help="runtime.memory_budget_mb of the re-render")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--passes", type=int, default=3, help="runtime.tile_passes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tiles_") as tmp:
        base = Path(tmp)
        job = tiny_run(base)
        log("tiny run done")
        small = base / "small.png"
        sweep_cli("pick", str(job), "--suggested", "--size", "64", "--iterations", "1", "--out", str(small))
        overhead_mb = peak_rss_of_children_mb()
        log(f"fixed overhead (peak RSS of a 64 px pick): {overhead_mb:.0f} MB")
        settings = ["--set", f"runtime.memory_budget_mb={args.budget_mb}", "--set", f"runtime.tile_passes={args.passes}",
                    "--iterations", str(args.iterations)]
        big = base / "big.png"
        plan, _ = sweep_cli("pick", str(job), "--suggested", "--size", str(args.size), *settings, "--out", str(big),
                            "--dry-run")
        log(plan.stdout.strip())
        _, seconds = sweep_cli("pick", str(job), "--suggested", "--size", str(args.size), *settings,
                               "--out", str(big))
        peak_mb = peak_rss_of_children_mb()
        result = dict(size=args.size, iterations=args.iterations, tile_passes=args.passes,
                      budget_mb=args.budget_mb, fixed_overhead_mb=round(overhead_mb), peak_rss_mb=round(peak_mb),
                      within_budget=peak_mb <= args.budget_mb + overhead_mb, wall_seconds=round(seconds, 1),
                      plan=plan.stdout.strip().splitlines(),
                      **seams(big, job, args.size, args.budget_mb, args.iterations))
        result["seams_pass"] = result["seam_ratio_max"] <= SEAM_LIMIT
        print(json.dumps(result))


if __name__ == "__main__":
    main()
