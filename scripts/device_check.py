"""The prepared device check: what sweep does on this machine's accelerator, in one JSON.

    scripts/device_check.sh [--tiny] [OUT_DIR]        # the wrapper: installs carried wheels, then runs this

Measures, within a budget of BUDGET_S seconds (the wrapper's limit is 8 minutes):
- configs/gallery-gpu.yaml run twice, each in a fresh process: cold (empty compilation
  cache) and warm (JAX's on-disk cache filled by the cold run), wall time, seconds per
  artist, compilations per run, peak accelerator memory; the cold run's frames checked
  with the quality tests of tests/test_sweep_quality.py;
- frame-iterations per second at 512 px for batches 1, 8 and 30 (L-BFGS steps of sweep's
  objective), and the step efficiency against the network alone: the time of the
  network's forward and input gradient with no loss, over the time of a step.
`--tiny` shrinks everything so that it runs on a CPU in under 2 minutes (CI runs it,
tests/test_device_check.py). The JSON is rewritten after every phase, so a run stopped
early still leaves what it measured; a phase with too little time left is skipped
and named in "skipped".
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BUDGET_S = 450
CONFIG = REPO / "configs" / "gallery-gpu.yaml"
SIDE, BATCHES = 512, (1, 8, 30)
STEP_SECONDS = 3.0   # timed steps per batch size, after the warm-up
TINY = {"side": 48, "batches": (1, 2), "step_seconds": 0.5,
        "overrides": ["image.max_size=32", "sweep.content_weight.steps=4", "optimizer.iterations=4"]}
# A phase is started only with at least this much of the budget left (seconds).
RUN_RESERVE_S, STEPS_RESERVE_S = 30, 20

# One sweep run in its own process, as a user would start it; prints one JSON line.
RUN = """
import json, sys, time
started = time.perf_counter()
import sweep.api, sweep.backend, sweep.device
config = sweep.api.load_config(sys.argv[1], sys.argv[3:])
result = sweep.api.run(config, sys.argv[2], progress=False, log=lambda message: None)
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "optimised": result.optimised,
                  "failed": len(result.failed), "compilations": result.compilations.summary(),
                  "peak_accelerator_bytes": sweep.backend.peak_accelerator_bytes(),
                  "device": sweep.device.describe(config.model.precision)}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Check:
    def __init__(self, out_dir: Path, budget_s: float):
        self.path = out_dir / "device_check.json"
        self.deadline = time.monotonic() + budget_s
        self.started = time.monotonic()
        self.report: dict = {"skipped": []}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def write(self) -> None:
        self.report["check_seconds"] = round(time.monotonic() - self.started, 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.report, indent=1) + "\n")


def run_sweep(check: Check, label: str, config: Path, overrides: list[str], work: Path, env: dict) -> dict | None:
    if check.left() < RUN_RESERVE_S:
        check.report["skipped"].append(f"{label} run: {check.left():.0f} s left")
        return None
    log(f"{label} run of {config.name} ...")
    try:
        done = subprocess.run([sys.executable, "-c", RUN, str(config), str(work / label), *overrides],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=check.left())
    except subprocess.TimeoutExpired:
        check.report["skipped"].append(f"{label} run: stopped at the budget")
        return None
    if done.returncode != 0:
        raise SystemExit(f"the {label} run failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    log(json.dumps(result))
    return result


def frame_quality(run_dir: Path, config) -> dict:
    """tests/test_sweep_quality.py's checks, per job: the first frame close to the photo
    (PSNR >= 20 dB), the last one styled (style loss <= 0.3 x the first frame's), the
    content loss rising along the sweep, no failed frame."""
    import imageio.v3 as iio
    import numpy as np

    from sweep.plan import make_plan

    jobs = {}
    for job in make_plan(config).jobs:
        records = json.loads((run_dir / job.relative_dir / "frames.json").read_text())
        first = iio.imread(run_dir / job.relative_dir / records[0]["file"]).astype(np.float64)
        mse = np.mean((first - job.photo_image.astype(np.float64)) ** 2)
        psnr = float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
        content = [r["content_loss"] for r in records]
        checks = {"frames": len(records) == len(job.weights), "first_frame_psnr_db": round(psnr, 2),
                  "first_close_to_photo": psnr >= 20,
                  "last_styled": records[-1]["style_loss"] <= 0.3 * records[0]["style_loss"],
                  "content_loss_rises": all(a < b for a, b in zip(content, content[1:]))}
        checks["passed"] = all(v for k, v in checks.items() if isinstance(v, bool))
        jobs[job.relative_dir] = checks
    return {"passed": all(j["passed"] for j in jobs.values()), "jobs": jobs}


def step_rates(check: Check, config, side: int, batches, seconds: float) -> list[dict]:
    """Frame-iterations/s and the efficiency against the network alone, per batch."""
    from sweep import weights
    from sweep.microbench import StepTimer
    from sweep.model import build_extractor

    resolved = weights.resolve_weights(config.model.weights)
    extractor = build_extractor(config.model, lambda model: weights.load_into(model, resolved))
    timer = StepTimer(extractor, config.model)
    rows = []
    for batch in batches:
        if check.left() < STEPS_RESERVE_S:
            check.report["skipped"].append(f"steps at batch {batch}: {check.left():.0f} s left")
            continue
        log(f"steps at {side} px, batch {batch} ...")
        rate = timer.step_rate(side, batch, seconds=seconds)
        network = timer.network_seconds(side, batch)
        row = {**rate.as_dict(), "network_s": round(network, 5),
               "efficiency_vs_network": round(network / rate.step_seconds, 3)}
        rows.append(row)
        log(json.dumps(row))
    return rows


def targets(report: dict) -> dict:
    """Issue 17's targets on an H100/H200: <= 30 s per artist warm, frames that pass the
    quality checks, steps at >= 0.8 of the network alone (at the largest batch).
    None where the figure is missing."""
    warm = report.get("seconds_per_artist_warm")
    steps = report.get("steps") or []
    largest = max(steps, key=lambda row: row["batch"]) if steps else None
    return {"warm_at_most_30_s_per_artist": None if warm is None else warm <= 30,
            "quality_passed": report["quality"]["passed"] if "quality" in report else None,
            "efficiency_vs_network_at_least_0.8": None if largest is None else largest["efficiency_vs_network"] >= 0.8}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO / "outputs" / "device_check"))
    parser.add_argument("--tiny", action="store_true", help="a tiny config and 48 px steps: a CPU, in < 2 min")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for everything")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    check = Check(args.out, args.budget)
    side, batches, seconds = ((TINY["side"], TINY["batches"], TINY["step_seconds"]) if args.tiny
                              else (SIDE, BATCHES, STEP_SECONDS))
    overrides = ["runtime.progress=false", *(TINY["overrides"] if args.tiny else [])]
    try:
        import imageio_ffmpeg  # noqa: F401  (the GPU image may have no ffmpeg: GIFs only then)
    except ImportError:
        overrides.append("movie.formats=[gif]")
    work = Path(tempfile.mkdtemp(prefix="device_check_"))
    # A fresh JAX cache: the cold run starts empty, the warm one loads what it stored. A
    # cache directory set this way keeps JAX's own 1 s threshold, so sweep's (0.1 s,
    # gradients.JAX_CACHE_MIN_COMPILE_SECONDS) is set too, as sweep sets it for its own.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               JAX_COMPILATION_CACHE_DIR=str(work / "jax_cache"))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")
    check.report.update(config=str(args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config),
                        overrides=overrides, tiny=args.tiny, python=platform.python_version(),
                        keras_backend=os.environ.get("KERAS_BACKEND", "tensorflow"))
    check.write()
    runs = {}
    for label in ("cold", "warm"):
        runs[label] = run_sweep(check, label, args.config, overrides, work, env)
        check.report[f"run_{label}"] = runs[label]
        check.write()
    import sweep.backend
    import sweep.device
    from sweep.config import load_config

    config = load_config(args.config, overrides)
    artists = len(config.styles)
    check.report.update(device=sweep.device.describe(config.model.precision),
                        precision=sweep.device.resolve_precision(config.model.precision),
                        accelerator=getattr(sweep.backend.accelerator(), "name", None))
    for label, result in runs.items():
        if result:
            check.report[f"seconds_{label}"] = result["seconds"]
            check.report[f"seconds_per_artist_{label}"] = round(result["seconds"] / artists, 2)
    if runs["cold"]:
        check.report["compilations"] = runs["cold"]["compilations"]["total"]
        check.report["quality"] = frame_quality(work / "cold", config)
    check.write()
    check.report["steps"] = step_rates(check, config, side, batches, seconds)
    peaks = [r["peak_accelerator_bytes"] for r in runs.values() if r and r["peak_accelerator_bytes"]]
    peaks.append(sweep.backend.peak_accelerator_bytes())
    check.report["peak_accelerator_mb"] = round(max(p for p in peaks if p) / 2**20) if any(peaks) else None
    # The sweeps run in child processes: their peak counts too.
    peak_rss_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    check.report["peak_host_rss_mb"] = round(peak_rss_kb / 1024)
    check.report["targets"] = targets(check.report)
    check.write()
    print(json.dumps(check.report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
