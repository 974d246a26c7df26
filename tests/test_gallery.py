"""Galleries (photos x artists) under the local executor; executor choice and its errors.

Ray itself is exercised in tests/test_ray.py.
"""
from __future__ import annotations

import sys

import pytest

from sweep import cli
from sweep.api import load_config, make_plan
from sweep.errors import SweepError
from sweep.api import make_executor
from sweep.executors import LocalExecutor, split_tasks
from sweep.ray_executor import RayExecutor

from ._gallery import ARTISTS, FRAMES, PHOTOS, frame_files, write_gallery


@pytest.mark.parametrize("content", ["photos/*.png", "[photos/left.png, photos/right.png]",
                                     "[photos/left.*, photos/r*.png]", "'**/*.png'"])
def test_glob_or_list_makes_one_job_per_photo_and_artist(tmp_path, content):
    plan = make_plan(load_config(write_gallery(tmp_path, content)))
    assert [job.relative_dir for job in plan.jobs] == [f"{p}/{a}" for p in PHOTOS for a in ARTISTS]
    assert plan.frame_count == len(PHOTOS) * len(ARTISTS) * FRAMES
    assert {job.photo_source for job in plan.jobs} == {str(tmp_path / "photos" / f"{p}.png") for p in PHOTOS}


def test_a_recursive_glob_never_takes_a_runs_own_frames_as_photos(tmp_path):
    """A gallery run into a folder below its photos: its frames, sheets and comparisons
    match `**/*.png` too, and each rerun would sweep them."""
    config = write_gallery(tmp_path, "'**/*.png'")
    run_dir = tmp_path / "outputs" / "gallery"
    (run_dir / "left" / "a" / "frames").mkdir(parents=True)
    for name in ("manifest.json", "config.yaml"):
        (run_dir / name).write_text("{}")
    for frame in ("left/a/frames/f000_cw-100.000.png", "left/a/sheet.png", "left/compare.png"):
        (run_dir / frame).write_bytes((tmp_path / "photos" / "left.png").read_bytes())
    plan = make_plan(load_config(config))
    assert {job.photo_source for job in plan.jobs} == {str(tmp_path / "photos" / f"{p}.png") for p in PHOTOS}


def test_single_photo_keeps_the_flat_layout(tmp_path):
    plan = make_plan(load_config(write_gallery(tmp_path, "photos/left.png")))
    assert [job.relative_dir for job in plan.jobs] == list(ARTISTS)


def test_glob_matching_nothing_is_refused(tmp_path):
    with pytest.raises(SweepError, match="matches no file"):
        make_plan(load_config(write_gallery(tmp_path, "photos/*.jpeg")))


def test_dry_run_shows_jobs_frames_cost_and_tasks(tmp_path, capsys):
    config = write_gallery(tmp_path)
    assert cli.main(["run", str(config), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "jobs: 4 (2 photo(s) x 2 artist(s)), 12 frames" in text
    assert "estimated time:" in text and "estimated peak memory" in text
    assert "left/rings: 41x48 frames" in text
    assert "executor: local" in text
    assert cli.main(["run", str(config), "--dry-run", "--executor", "ray", "--frames-per-task", "2",
                     "--gpus-per-task", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "executor: ray" in text and "8 task(s) of up to 2 frame(s), 0.5 GPU(s) per task" in text
    assert not (tmp_path / "outputs").exists()


def test_split_tasks_chunks_each_jobs_missing_frames(tmp_path):
    plan = make_plan(load_config(write_gallery(tmp_path)))
    todo = {job.relative_dir: list(enumerate(job.weights)) for job in plan.jobs}
    todo["left/rings"] = todo["left/rings"][2:]
    todo["right/brushstrokes"] = []
    tasks = split_tasks(plan, todo, 2)
    assert [(t.job.relative_dir, [i for i, _ in t.frames]) for t in tasks] == [
        ("left/brushstrokes", [0, 1]), ("left/brushstrokes", [2]), ("left/rings", [2]),
        ("right/rings", [0, 1]), ("right/rings", [2])]


def test_executor_options():
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(SweepError, match="--address only applies to --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(SweepError, match="--address and --frames-per-task only apply to --executor ray"):
        make_executor("local", address="auto", frames_per_task=2)
    with pytest.raises(SweepError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(SweepError, match="--gpus-per-task must be >= 0"):
        RayExecutor(gpus_per_task=-1)
    with pytest.raises(SweepError, match="--frames-per-task must be at least 1"):
        RayExecutor(frames_per_task=0)


def test_ray_executor_without_ray_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    assert cli.main(["run", str(write_gallery(tmp_path)), "--out", str(out), "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: the ray executor needs Ray: pip install 'sweep[ray]'"
    assert not out.exists()


@pytest.mark.slow
def test_local_gallery_layout_compare_and_resume(tmp_path, monkeypatch):
    import sweep.render.compare as compare_module
    from sweep import api

    compared = {}
    real_write_compare = compare_module.write_compare

    def spy(job_dirs, out_dir, **kwargs):
        compared[out_dir.name] = list(job_dirs)
        return real_write_compare(job_dirs, out_dir, **kwargs)

    monkeypatch.setattr(compare_module, "write_compare", spy)
    config, out = write_gallery(tmp_path), tmp_path / "out"
    result = api.run(config, out, log=lambda message: None)
    assert (result.executor, result.tasks, result.optimised, result.failed) == ("local", 4, 12, [])
    assert frame_files(out) == sorted(f"{p}/{a}/frames/f{i:03d}_cw-{w}.png" for p in PHOTOS for a in ARTISTS
                                      for i, w in enumerate(("100.000", "3.162", "0.100")))
    for photo in PHOTOS:
        for artist in ARTISTS:
            job = out / photo / artist
            assert (job / "frames.json").is_file() and (job / "movie.gif").is_file() and (job / "sheet.png").is_file()
        assert (out / photo / "compare.png").is_file() and (out / photo / "compare.gif").is_file()
    assert compared == {photo: list(ARTISTS) for photo in PHOTOS}

    (out / "right" / "rings" / "frames" / "f001_cw-3.162.png").unlink()
    again = api.run(config, out, log=lambda message: None)
    assert (again.tasks, again.optimised, again.failed) == (1, 1, [])
    assert len(frame_files(out)) == 12
