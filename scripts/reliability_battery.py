"""Replay bad inputs and faults against the `sweep` command and check each promise held.

    python scripts/reliability_battery.py            # every case, a summary line at the end
    python scripts/reliability_battery.py -k lock    # the cases whose name contains "lock"

Each case runs the real CLI in a subprocess, in a fresh temporary directory, on
tiny generated images (a 56x40 photo, a 48x48 painting, 32 px frames, 2 frames of
2 iterations). A refusal holds when the command exits 2 with exactly one line on
stderr, `error: ...` with the expected words, no traceback, nothing on stdout, and
every file of the directory is byte for byte and mtime for mtime what it was.
Other cases state their own promise (a resumed or recovered run completes, a
signal ends in 143 without a traceback, a full disk keeps the previous files).
Most cases are refused before TensorFlow is imported (about a second each); the
cases that need a finished run copy one made once at the start.

The last line is the summary: `cases N, held H, failed F` (and `, skipped S` where a
case cannot run: the full-disk case mounts a tmpfs, which needs root); the failures
and skips are listed above it. Exit status 0 when no case failed, else 1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import battery_cases  # noqa: E402
from battery_cases import CASES, Case, make_inputs, write_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SWEEP = [sys.executable, "-m", "sweep.cli"]


def run_cli(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([*SWEEP, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def refusal_problem(case: Case, result: subprocess.CompletedProcess, before: dict, after: dict) -> str | None:
    lines = result.stderr.splitlines()
    if result.returncode != 2:
        return f"exit {result.returncode}, expected 2; stderr: {result.stderr[-300:]!r}"
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"stderr is not one `error:` line: {result.stderr[-300:]!r}"
    if case.expect not in lines[0]:
        return f"the error does not say {case.expect!r}: {lines[0][:300]!r}"
    if result.stdout:
        return f"stdout is not empty: {result.stdout[:200]!r}"
    changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
    if changed:
        return f"files changed by a refused run: {changed[:5]}"
    return None


def run_case(case: Case, base_run: Path | None, work: Path) -> str | None:
    """None when the case held, else what went wrong (one line)."""
    root = work / case.name.replace(" ", "_").replace("/", "_")
    root.mkdir()
    make_inputs(root)
    write_config(root, case.config)
    if case.needs_run:
        shutil.copytree(base_run, root / "out")
    context = case.setup(root) if case.setup else None
    try:
        before = snapshot(root)
        result = case.action(root) if case.action else run_cli(case.args, root)
        if "Traceback" in result.stderr:
            return f"traceback: {result.stderr.strip().splitlines()[-1][:200]!r}"
        if case.check:
            return case.check(root, result)
        return refusal_problem(case, result, before, snapshot(root))
    finally:
        if case.teardown:
            case.teardown(root, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="pattern", default="", help="only the cases whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    cases = [case for case in CASES if args.pattern in case.name]
    work = Path(tempfile.mkdtemp(prefix="sweep-battery-"))
    started = time.monotonic()
    failures: list[tuple[str, str]] = []
    skipped: list[str] = []
    try:
        battery_cases.INPUTS["root"] = work / "_inputs"
        (work / "_inputs").mkdir()
        make_inputs(work / "_inputs")
        base_run = None
        if any(case.needs_run for case in cases):
            base_run = make_base_run(work)
        for case in cases:
            try:
                problem = run_case(case, base_run, work)
            except subprocess.TimeoutExpired:
                problem = "timed out"
            if problem and problem.startswith(battery_cases.SKIPPED):
                skipped.append(case.name)
                print(f"SKIPPED {case.name}: {problem[len(battery_cases.SKIPPED):]}", flush=True)
            elif problem:
                failures.append((case.name, problem))
                print(f"FAILED {case.name}: {problem}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    held = len(cases) - len(failures) - len(skipped)
    print(f"cases {len(cases)}, held {held}, failed {len(failures)}" + (f", skipped {len(skipped)}" if skipped else ""))
    return 1 if failures else 0


def make_base_run(work: Path) -> Path:
    """One finished tiny run, copied into every case that starts from a run directory."""
    root = work / "_base"
    root.mkdir()
    make_inputs(root)
    write_config(root, {})
    result = run_cli(["run", "c.yaml", "--out", "out"], root)
    if result.returncode != 0:
        raise SystemExit(f"the base run failed: {result.stderr[-2000:]}")
    return root / "out"


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
