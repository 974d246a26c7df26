"""The cases of scripts/reliability_battery.py: bad inputs and faults, one promise each."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml
from PIL import Image

SWEEP = [sys.executable, "-m", "sweep.cli"]
RUN = ["run", "c.yaml", "--out", "out"]
SKIPPED = "skipped: "   # a check's answer when the case cannot run here (no tmpfs without root)
# The photo and painting of the base config, shared by every case (absolute paths, so
# that a copy of the base run belongs to the same config in any case's directory).
INPUTS = {"root": Path("/nonexistent")}


@dataclass
class Case:
    name: str
    config: Any = field(default_factory=dict)  # changes to the base config, raw YAML text, or None: no file
    args: list[str] = field(default_factory=lambda: list(RUN))
    expect: str = ""                            # words the one error line must hold
    needs_run: bool = False                     # start from a copy of a finished run in ./out
    setup: Callable[[Path], Any] | None = None
    teardown: Callable[[Path, Any], None] | None = None
    action: Callable[[Path], subprocess.CompletedProcess] | None = None  # instead of running `args`
    check: Callable[[Path, subprocess.CompletedProcess], str | None] | None = None  # instead of a refusal


# --------------------------------------------------------------------------- inputs and configs

def make_inputs(root: Path) -> None:
    y, x = np.mgrid[0:40, 0:56]
    photo = np.stack([(x * 4) % 256, (y * 6) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)
    painting = (np.random.default_rng(0).uniform(0, 1, (48, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(photo).save(root / "photo.png")
    Image.fromarray(painting).save(root / "paint.png")


def base_config(root: Path) -> dict:
    shared = INPUTS["root"]
    return {"content": str(shared / "photo.png"), "styles": {"paint": str(shared / "paint.png")},
            "sweep": {"content_weight": {"start": 100, "stop": 0.1, "steps": 2}},
            "image": {"max_size": 32}, "optimizer": {"iterations": 2},
            "movie": {"formats": ["gif"], "fps": 4}, "runtime": {"progress": False}}


def write_config(root: Path, change: Any) -> None:
    if change is None:
        return
    if isinstance(change, str):
        (root / "c.yaml").write_text(change, encoding="utf-8")
        return
    config = base_config(root)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict) and key != "styles":
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict) and isinstance(config[key].get(inner), dict):
                    config[key][inner] = {**config[key][inner], **inner_value}
                else:
                    config[key][inner] = inner_value
        elif value is ...:
            config.pop(key)
        else:
            config[key] = value
    (root / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def cli(root: Path, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SWEEP, *map(str, args)], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))


def image_file(name: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda root: make(root / name)


def _long(size):
    return lambda path: Image.new("RGB", size, (200, 100, 50)).save(path)


def _truncated(path: Path) -> None:
    data = (path.parent / "paint.png").read_bytes()
    path.write_bytes(data[:300])


BILLION_LAUGHS = ("content: photo.png\nstyles: {paint: paint.png}\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
                  + "".join(f"{chr(98 + k)}: &{chr(98 + k)} [{', '.join(['*' + chr(97 + k)] * 10)}]\n"
                            for k in range(8)))
PLAIN = "content: photo.png\nstyles: {paint: paint.png}\n"


# --------------------------------------------------------------------------- checks of cases that run

def exit_ok(*needles: str, stream: str = "stderr") -> Callable:
    def check(root: Path, result: subprocess.CompletedProcess) -> str | None:
        if result.returncode != 0:
            return f"exit {result.returncode}, expected 0: {result.stderr[-300:]!r}"
        text = getattr(result, stream)
        missing = [n for n in needles if n not in text]
        return f"{stream} lacks {missing}: {text[-300:]!r}" if missing else None
    return check


def refused_in_one_line(expect: str) -> Callable:
    """For a case whose action writes before the step that must be refused."""
    def check(root: Path, result: subprocess.CompletedProcess) -> str | None:
        lines = result.stderr.splitlines()
        if result.returncode != 2 or len(lines) != 1 or expect not in lines[0]:
            return f"exit {result.returncode}, expected 2 and one line with {expect!r}: {result.stderr[-300:]!r}"
        return None
    return check


def two_steps(first: list[str], then: Callable[[Path], None], second: list[str]) -> Callable:
    def action(root: Path) -> subprocess.CompletedProcess:
        done = cli(root, *first)
        if done.returncode != 0:
            return done
        then(root)
        return cli(root, *second)
    return action


def hold_lock(root: Path):
    code = ("import sys, time\nfrom sweep.lock import run_dir_lock\n"
            "with run_dir_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(300)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(root / "out")], stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    process.stdout.readline()
    return process


def release_lock(root: Path, process) -> None:
    process.kill()
    process.wait()
    process.stdout.close()


def names_holder(root: Path, result) -> str | None:
    lines = result.stderr.splitlines()
    if result.returncode != 2 or len(lines) != 1 or "in use by another sweep process (pid " not in lines[0]:
        return f"expected one error line naming the holder: {result.returncode} {result.stderr[-300:]!r}"
    return None


def interrupted_twice(root: Path) -> subprocess.CompletedProcess:
    write_config(root, {"optimizer": {"iterations": 300, "tolerance": 0.0}, "runtime": {"chunk_size": 1}})
    process = subprocess.Popen([*SWEEP, *RUN], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    deadline = time.monotonic() + 240
    while not (root / "out" / "paint" / "frames.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def ended_143_cleanly(root: Path, result) -> str | None:
    strays = list((root / "out").rglob(".sweep-tmp-*"))
    if result.returncode != 143 or "interrupted (SIGTERM)" not in result.stderr or strays:
        return f"exit {result.returncode}, strays {strays}: {result.stderr[-300:]!r}"
    return None


def killed_then_resumed(root: Path) -> subprocess.CompletedProcess:
    write_config(root, {"sweep": {"content_weight": {"steps": 3}}, "optimizer": {"iterations": 30, "tolerance": 0.0},
                        "runtime": {"chunk_size": 1}})
    process = subprocess.Popen([*SWEEP, *RUN], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    deadline = time.monotonic() + 240
    while not (root / "out" / "paint" / "frames.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    return cli(root, *RUN)


def full_disk(root: Path) -> subprocess.CompletedProcess:
    disk = root / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        return subprocess.CompletedProcess([], 0, "", SKIPPED + "cannot mount a tmpfs (needs root)")
    try:
        first = cli(root, "run", "c.yaml", "--out", disk / "out")
        if first.returncode != 0:
            return first
        before = {p: p.read_bytes() for p in (disk / "out").rglob("*") if p.is_file()}
        try:
            with open(disk / "filler", "wb", buffering=0) as handle:
                while True:
                    handle.write(b"\0" * 4096)
        except OSError:
            pass
        result = cli(root, "run", "c.yaml", "--out", disk / "out")
        kept = all(p.read_bytes() == data for p, data in before.items())
        return subprocess.CompletedProcess([], result.returncode, "kept" if kept else "CHANGED", result.stderr)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def disk_check(root: Path, result) -> str | None:
    if result.stderr.startswith(SKIPPED):
        return result.stderr
    lines = result.stderr.splitlines()
    if result.returncode != 2 or len(lines) != 1 or "No space left on device" not in lines[0] \
            or result.stdout != "kept":
        return f"exit {result.returncode}, {result.stdout}: {result.stderr[-300:]!r}"
    return None


def status_says(*needles: str, code: int = 0) -> Callable:
    def check(root: Path, result) -> str | None:
        if result.returncode != code or any(n not in result.stdout + result.stderr for n in needles):
            return f"exit {result.returncode}, expected {code} and {needles}: {(result.stdout + result.stderr)[-300:]!r}"
        return None
    return check


def damage(path: str, data: bytes | str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode())
    return apply


def first_frame(root: Path) -> Path:
    return sorted((root / "out" / "paint" / "frames").glob("f*.png"))[0]


# --------------------------------------------------------------------------- the cases

CASES: list[Case] = [
    # The config file itself
    Case("config file missing", None, expect="config file not found"),
    Case("config is a directory", None, args=["run", ".", "--out", "out"], expect="is a directory, not a config file"),
    Case("empty config", "", expect="missing required config key 'content'"),
    Case("config is a list", "- a\n- b\n", expect="must be a mapping"),
    Case("config is a number", "42\n", expect="must be a mapping"),
    Case("config not utf-8", None, setup=damage("c.yaml", b"content: \xff\xfe\n"), expect="cannot read config"),
    Case("yaml syntax error", "content: photo.png\nstyles: {paint: paint.png\n", expect="YAML syntax error"),
    Case("tab indentation", "content: photo.png\nstyles:\n\tpaint: paint.png\n", expect="YAML syntax error"),
    Case("config over 1 MB", "content: photo.png\nstyles: {paint: paint.png}\n#" + "x" * 1_100_000 + "\n",
         expect="at most 1000000"),
    Case("billion laughs", BILLION_LAUGHS, expect="expands to more than 100000 values"),
    Case("nested 3000 deep", PLAIN + "seed: " + "[" * 3000 + "]" * 3000 + "\n", expect="nested too deeply"),
    Case("nested 40 deep", PLAIN + "seed: " + "[" * 40 + "]" * 40 + "\n", expect="nested more than 32"),
    Case("alias containing itself", PLAIN + "x: &x [*x]\n", expect="contains itself"),
    Case("integer of 5000 digits", PLAIN + "seed: " + "7" * 5000 + "\n", expect="Exceeds the limit"),
    Case("integer of 300 digits", {"optimizer": {"iterations": 10**300}}, expect="integer of 301 digits"),
    # Keys and types
    Case("unknown key", {"optimiser": {"name": "adam"}}, expect="did you mean 'optimizer'"),
    Case("unknown nested key", {"image": {"max_sise": 32}}, expect="did you mean 'max_size'"),
    Case("iterations a string", {"optimizer": {"iterations": "many"}}, expect="must be an integer"),
    Case("iterations a float", {"optimizer": {"iterations": 2.5}}, expect="must be an integer"),
    Case("label an integer", {"movie": {"label": 1}}, expect="must be true or false"),
    Case("styles a list", {"styles": ["paint.png"]}, expect="'styles' must be a mapping"),
    Case("styles empty", {"styles": {}}, expect="'styles' is empty"),
    Case("content missing", {"content": ...}, expect="missing required config key 'content'"),
    Case("style name ..", {"styles": {"..": "paint.png"}}, expect="not a safe directory name"),
    Case("style name with a slash", {"styles": {"a/b": "paint.png"}}, expect="not a safe directory name"),
    Case("style name reserved", {"styles": {"index.html": "paint.png"}}, expect="reserved"),
    Case("style name 200 chars", {"styles": {"x" * 200: "paint.png"}},
         expect="too long for a folder name: 200 characters"),
    Case("style name 90 CJK letters", {"styles": {"東" * 90: "paint.png"}}, expect="270 bytes in UTF-8"),
    Case("unknown optimizer", {"optimizer": {"name": "sgd"}}, expect="one of lbfgs, adam"),
    Case("unknown layer", {"model": {"content_layers": ["block6_conv1"]}}, expect="unknown VGG16 layer"),
    Case("scales not ending at 1", {"optimizer": {"scales": [0.5, 0.75]}}, expect="rise strictly to 1.0"),
    Case("coarse_fraction 1", {"optimizer": {"coarse_fraction": 1}}, expect="coarse_fraction"),
    Case("learning rate 0", {"optimizer": {"learning_rate": 0}}, expect="learning_rate' must be > 0"),
    Case("init unknown", {"init": "zeros"}, expect="one of keyframes, content, noise, chain"),
    # Values that would explode or crash after writing
    Case("steps 0", {"sweep": {"content_weight": {"steps": 0}}}, expect="at least 1"),
    Case("steps 10^9", {"sweep": {"content_weight": {"steps": 10**9}}}, expect="at most 10000"),
    Case("iterations 10^12", {"optimizer": {"iterations": 10**12}}, expect="'optimizer.iterations' must be at most"),
    Case("history 10^7", {"optimizer": {"history": 10**7}}, expect="'optimizer.history' must be at most"),
    Case("start infinite", PLAIN + "sweep: {content_weight: {start: .inf}}\n", expect="finite number"),
    Case("start NaN", PLAIN + "sweep: {content_weight: {start: .nan}}\n", expect="finite number"),
    Case("start 1e300", {"sweep": {"content_weight": {"start": 1e300}}}, expect="between 1e-06 and 1e+09"),
    Case("linear stop 0", {"sweep": {"content_weight": {"stop": 0, "spacing": "linear"}}},
         expect="'sweep.content_weight.start' and 'stop' must be > 0"),
    Case("linear start negative", {"sweep": {"content_weight": {"start": -1, "spacing": "linear"}}},
         expect="must be > 0 (for a frame that is nearly all style"),
    Case("log start 0", {"sweep": {"content_weight": {"start": 0}}},
         expect="'sweep.content_weight.start' and 'stop' must be > 0"),
    Case("negative seed with noise", {"seed": -1, "init": "noise"}, expect="'seed' must be between 0"),
    Case("seed 2^64", {"seed": 2**64}, expect="numbers must be below 2^63"),
    Case("hold 10^9 s", {"movie": {"hold": 1e9}}, expect="'movie.hold' must be at most 60"),
    Case("crossfade 10^6", {"movie": {"crossfade": 10**6}}, expect="'movie.crossfade' must be at most"),
    Case("movie of 40000 frames", {"movie": {"crossfade": 100, "fps": 120, "hold": 60},
                                   "sweep": {"content_weight": {"steps": 400}}}, expect="the movie would have"),
    Case("fps 0", {"movie": {"fps": 0}}, expect="'movie.fps' must be between"),
    Case("fps 1000", {"movie": {"fps": 1000}}, expect="'movie.fps' must be between"),
    Case("max_size 8", {"image": {"max_size": 8}}, expect="between 16 and 4096"),
    Case("max_size 10^5", {"image": {"max_size": 100000}}, expect="between 16 and 4096"),
    Case("style_scale 100", {"image": {"style_scale": 100}}, expect="style_scale' must be between"),
    Case("memory budget 60 MB", {"runtime": {"memory_budget_mb": 60}}, expect="MB memory budget"),
    Case("chunk_size negative", {"runtime": {"chunk_size": -1}}, expect="must be >= 0"),
    # Command line
    Case("--set without =", {}, args=[*RUN, "--set", "image.max_size"], expect="--set expects KEY=VALUE"),
    Case("--set unknown key", {}, args=[*RUN, "--set", "optimizer.iteration=3"], expect="did you mean 'iterations'"),
    Case("--set into a value", {}, args=[*RUN, "--set", "image.max_size.x=1"], expect="is not a section"),
    Case("--set a huge nesting", {}, args=[*RUN, "--set", "seed=" + "[" * 3000 + "]" * 3000],
         expect="'seed' must be an integer"),
    Case("unknown flag", {}, args=[*RUN, "--fast"], expect="unrecognized arguments"),
    Case("unknown executor", {}, args=[*RUN, "--executor", "gpu"], expect="invalid choice"),
    Case("frames-per-task not a number", {}, args=[*RUN, "--frames-per-task", "x"], expect="invalid int value"),
    Case("no command", {}, args=[], expect="required"),
    # Input images
    Case("photo missing", {"content": "nope.png"}, expect="no such file"),
    Case("photo is a directory", {"content": "."}, expect="is a directory"),
    Case("photo is text", {"content": "x.png"}, setup=damage("x.png", "hello"), expect="not an image"),
    Case("photo is empty", {"content": "z.png"}, setup=damage("z.png", b""), expect="empty"),
    Case("painting truncated", {"styles": {"paint": "t.png"}}, setup=image_file("t.png", _truncated),
         expect="truncated"),
    Case("decompression bomb", {"content": "bomb.png"},
         setup=image_file("bomb.png", lambda p: Image.new("1", (12_000, 9_000)).save(p)),
         expect="decompression bomb"),
    Case("photo 10000 x 10", {"content": "long.png"}, setup=image_file("long.png", _long((10000, 10))),
         expect="crop it to a less elongated shape"),
    Case("painting 10 x 10000", {"styles": {"paint": "long.png"}}, setup=image_file("long.png", _long((10, 10000))),
         expect="needs at least 16 px on the short side"),
    Case("dry run of a photo 10000 x 10", {"content": "long.png"}, args=[*RUN, "--dry-run"],
         setup=image_file("long.png", _long((10000, 10))), expect="needs at least 16 px"),
    Case("painting of 1 x 1 px", {"styles": {"paint": "dot.png"}},
         setup=image_file("dot.png", lambda p: Image.new("RGB", (1, 1), "red").save(p)),
         expect="is 1x1 px: too small to carry a picture"),
    Case("max_size 16 on the sample photo", {"content": "sample:grace_hopper", "image": {"max_size": 16}},
         expect="set image.max_size (for `sweep pick`: --size) to at least 19"),
    Case("gallery glob matches nothing", {"content": ["shots/*.jpg"]}, expect="matches no file"),
    Case("photo listed twice", {"content": ["photo.png", "photo.png"]}, expect="share the output folder"),
    Case("unknown sample", {"content": "sample:nope"}, expect="unknown sample 'nope'"),
    # The output directory
    Case("--out is a file", {}, args=["run", "c.yaml", "--out", "photo.png"], expect="not a directory"),
    Case("--out under a file", {}, args=["run", "c.yaml", "--out", "photo.png/x"], expect="not a directory"),
    Case("--out . beside the user's files", {}, args=["run", "c.yaml", "--out", "."],
         expect="holds files that sweep did not write"),
    Case("--out . --force over the user's config", None, args=["run", "config.yaml", "--out", ".", "--force"],
         setup=lambda root: write_config(root, {}) or (root / "c.yaml").rename(root / "config.yaml"),
         expect="config.yaml was not written by sweep"),
    Case("--force over the user's index.html", {}, args=[*RUN, "--force"],
         setup=damage("out/index.html", "<h1>mine</h1>"), expect="index.html was not written by sweep"),
    # Run directories: another config, damage, changed inputs, a lock
    Case("another config without --force", {"optimizer": {"iterations": 3}}, needs_run=True,
         expect="different config"),
    Case("manifest not JSON", {}, needs_run=True, setup=damage("out/manifest.json", "{"), expect="is damaged"),
    Case("manifest of the wrong shape", {}, needs_run=True, setup=damage("out/manifest.json", '{"jobs": []}'),
         expect="is damaged"),
    Case("manifest with a frame entry of the wrong shape", {}, needs_run=True,
         setup=lambda root: (root / "out/manifest.json").write_text(json.dumps({
             **json.loads((root / "out/manifest.json").read_text()), "jobs": {"paint": {"frames": {"0": 7}}}})),
         expect="is damaged"),
    Case("damaged manifest cleared by --force", {}, args=[*RUN, "--force"], needs_run=True,
         setup=damage("out/manifest.json", "[]"), check=exit_ok("2 frame(s) optimised", stream="stdout")),
    Case("frames.json of the wrong shape is recomputed", {}, needs_run=True,
         setup=damage("out/paint/frames.json", '{"a": 1}'), check=exit_ok("warning: paint: frames.json holds")),
    Case("garbage frame is recomputed", {}, needs_run=True,
         setup=lambda root: first_frame(root).write_bytes(b"garbage"), check=exit_ok("does not decode")),
    Case("status of a garbage frame", {}, args=["status", "out"], needs_run=True,
         setup=lambda root: first_frame(root).write_bytes(b"garbage"), check=status_says("damaged: frame 0",
                                                                                           "incomplete")),
    Case("status of a damaged manifest", {}, args=["status", "out"], needs_run=True,
         setup=damage("out/manifest.json", "7"), expect="is damaged"),
    Case("status of a non-run directory", {}, args=["status", "."], expect="is not a sweep run directory"),
    Case("status of a missing directory", {}, args=["status", "nope"], expect="no such run directory"),
    Case("replaced photo is not resumed into", {"content": "photo.png"}, action=two_steps(
        RUN, lambda root: Image.new("RGB", (56, 40), (30, 160, 90)).save(root / "photo.png"), RUN),
        check=refused_in_one_line("other pixels")),
    Case("lock held by another process", {}, needs_run=True, setup=hold_lock, teardown=release_lock,
         check=names_holder),
    Case("stale lock of a dead process", {}, needs_run=True, setup=damage("out/.sweep.lock", "999999999 run\n"),
         check=lambda root, result: exit_ok("resuming: 2 of 2")(root, result)
         or ("the lock file stayed" if (root / "out/.sweep.lock").exists() else None)),
    Case("pick --out onto a frame", {}, needs_run=True, args=["pick", "out/paint", "--frame", "1", "--out",
                                                              "out/paint/frames/f000_cw-100.000.png"],
         expect="one of the run's own files"),
    Case("pick --out onto the user's file", {}, needs_run=True,
         args=["pick", "out/paint", "--frame", "0", "--out", "photo.png"], expect="was not written by `sweep pick`"),
    Case("pick a frame that does not exist", {}, needs_run=True, args=["pick", "out/paint", "--frame", "9"],
         expect="frame 9 is out of range"),
    Case("pick --size 5", {}, needs_run=True, args=["pick", "out/paint", "--frame", "0", "--size", "5"],
         expect="--size must be between"),
    Case("pick a non-job directory", {}, args=["pick", ".", "--frame", "0"], expect="frames.json"),
    # Faults
    Case("two SIGTERMs 50 ms apart", {}, action=interrupted_twice, check=ended_143_cleanly),
    Case("kill -9, then the rerun completes", {}, action=killed_then_resumed,
         check=exit_ok("resuming: ", "of 3 frames already done")),
    Case("full disk on a rerun", {}, action=full_disk, check=disk_check),
]
