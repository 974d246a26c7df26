"""A run directory whose inputs changed, that holds the user's own files, or whose
records were damaged (issue 14, classes 4, 5 and 8)."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from sweep import api
from sweep.config import parse_config
from sweep.errors import SweepError
from sweep.lock import run_dir_lock
from sweep.pick import pick
from sweep.plan import is_gallery, make_plan, photo_names
from sweep.status import _unrendered, format_status, run_status
from sweep import identity
from sweep.store import RunStore
from tests.test_reliability import SWEEP, _config, _frames, _result, _run, _snapshot, _store_config, _write_config

W = "w" * 64


def _store_with_frames(tmp_path, count=2, inputs="pixels-1"):
    out = tmp_path / "out"
    config = _store_config(tmp_path)
    store = RunStore(out)
    manifest = store.open(config, W, ["paint"], inputs={"paint": inputs})
    for index in range(count):
        result = _result(index, config.content_weights()[index])
        store.job("paint").save(result)
        store.record(manifest, "paint", result)
    return out, config


# --------------------------------------------------------------------------- class 4: changed inputs


def test_a_new_image_under_the_same_name_is_refused_then_replaced_with_force(tmp_path):
    out, config = _store_with_frames(tmp_path)
    before = _snapshot(out)
    with pytest.raises(SweepError, match="other pixels than when its frames were rendered"):
        RunStore(out).open(config, W, ["paint"], inputs={"paint": "pixels-2"})
    assert _snapshot(out) == before
    manifest = RunStore(out).open(config, W, ["paint"], inputs={"paint": "pixels-2"}, force=True)
    assert _frames(out / "paint") == [] and manifest["jobs"]["paint"] == {"frames": {}, "inputs_sha256": "pixels-2"}


def test_the_inputs_digest_is_of_the_pixels_not_the_path(tmp_path):
    from sweep.plan import make_plan

    config_text = json.dumps({**_config(tmp_path), "runtime": {"memory_budget_mb": 500, "progress": False}})
    first = make_plan(parse_config(config_text, base_dir=tmp_path)).jobs[0].inputs_sha256
    assert make_plan(parse_config(config_text, base_dir=tmp_path)).jobs[0].inputs_sha256 == first
    image = np.asarray(Image.open(tmp_path / "photo.png")).copy()
    image[0, 0] ^= 1  # one level of one pixel
    Image.fromarray(image).save(tmp_path / "photo.png")
    assert make_plan(parse_config(config_text, base_dir=tmp_path)).jobs[0].inputs_sha256 != first


def test_job_names_do_not_shift_when_a_gallery_gains_a_photo(tmp_path):
    before = photo_names(["/p/anna.png", "/p/bob.jpg"])
    after = photo_names(["/p/anna.jpg", "/p/anna.png", "/p/bob.jpg", "/p/carl.png"])
    assert before == ["anna", "bob"]
    assert after == ["anna_jpg", "anna_png", "bob", "carl"]  # bob keeps its name; anna's clash is explicit
    assert photo_names(["/x/a.png", "/y/a.png"]) == ["x_a_png", "y_a_png"]
    with pytest.raises(SweepError, match="share the output folder"):
        photo_names(["/p/a.png", "/p/a.png"])
    # names of any script are kept; names that read alike once made safe get a digest of their path
    assert photo_names(["/p/東京.png", "/p/大阪.png"]) == ["東京", "大阪"]
    alike = photo_names(["/p/we ird.png", "/p/we_ird.png", "/p/###.png", "/p/ü.png"])
    assert len(set(alike)) == 4 and alike[2:] == ["photo", "ü"]
    assert all(name.startswith("we_ird_") and len(name) == len("we_ird_") + 8 for name in alike[:2])
    assert photo_names(["/p/we ird.png", "/p/we_ird.png"]) == alike[:2]   # each from its own path only
    # a name that meets another at another level, and long names with their digest, stay apart and safe
    crossed = photo_names(["/p/a.png", "/p/a.jpg", "/p/a_png.jpg"])
    assert crossed[1] == "a_jpg" and len(set(crossed)) == 3 and crossed[0].startswith("a_")
    long = photo_names(["/p/" + "x" * 95 + " .png", "/p/" + "x" * 95 + "_.png"])
    assert len(set(long)) == 2 and all(len(name) <= 100 for name in long)
    # over 255 bytes at the folder level, or over 100 letters at the path level: the digest, not a refusal
    wide = photo_names(["/g/dir1/" + "東" * 83 + ".png", "/g/dir2/" + "東" * 83 + ".png"])
    assert len(set(wide)) == 2 and all(len(name.encode()) <= 255 for name in wide)
    deep = "/a_rather_long_folder_name_for_my_holiday_pictures_from_the_summer/photos_exported_from_camera"
    deep_names = photo_names([f"{deep}/2024/day1/img.png", f"{deep}/2025/day1/img.png"])
    assert [name[:4] for name in deep_names] == ["img_"] * 2 and deep_names[0] != deep_names[1]
    assert photo_names(["/p/Photo.png", "/p/photo.jpg"]) == ["Photo", "photo"]   # see the next test
    one = parse_config("content: 'photos/*.png'\nstyles: {s: s.png}\n", base_dir=tmp_path)
    assert is_gallery(one)  # one match or many: the same PHOTO/ARTIST layout


def test_jobs_that_differ_only_in_case_are_refused_where_the_file_system_ignores_case(tmp_path, monkeypatch):
    """`Monet` and `monet` are two folders here, and one on macOS's and Windows' file systems:
    there the run, and its dry run, refuse them before making any folder."""
    path = _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2,
                                           styles={"Monet": "paint.png", "monet": "paint.png"}))
    config = api.resolve(str(path), [])
    assert not RunStore(tmp_path / "out")._ignores_case()   # this one keeps case, and the probe is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "paint.png", "photo.png"]
    api.check_out_dir(make_plan(config), tmp_path / "out")
    monkeypatch.setattr(RunStore, "_ignores_case", lambda self: True)
    refusal = "the jobs 'Monet' and 'monet' differ only in case, and the file system"
    with pytest.raises(SweepError, match=refusal):
        api.check_out_dir(make_plan(config), tmp_path / "out")
    with pytest.raises(SweepError, match=refusal):
        api.run(str(path), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    RunStore(tmp_path / "x").check_case_collisions(["a/.keyframes", "A/.keyframes", "a/x"])   # the user's jobs only


def test_a_job_the_config_no_longer_has_is_named_in_a_warning_and_kept(tmp_path):
    """A gallery glob that lost a photo, or gained one of the same name (which renames
    the folder): same config text, so the run resumes, and says what it leaves behind."""
    config = _store_config(tmp_path)
    RunStore(tmp_path / "out").open(config, W, ["anna/paint", "bob/paint"])
    warnings = []
    RunStore(tmp_path / "out").open(config, W, ["bob_png/paint", "carl/paint"], warn=warnings.append)
    assert warnings == ["warning: anna/paint, bob/paint: not a job of this config now (a gallery's photo gone, or "
                        "renamed by a new photo of the same name); its frames stay, and the report leaves them out"]
    warnings.clear()
    RunStore(tmp_path / "out").open(config, W, ["anna/paint", "bob/paint", "bob_png/paint", "carl/paint"],
                                    warn=warnings.append)
    assert warnings == []


@pytest.mark.slow
def test_a_replaced_photo_is_not_resumed_into(tmp_path):
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    assert _run("run", "c.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    Image.new("RGB", (56, 40), (30, 160, 90)).save(tmp_path / "photo.png")  # another photo, same name
    refused = _run("run", "c.yaml", "--out", "out", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "other pixels" in refused.stderr
    forced = _run("run", "c.yaml", "--out", "out", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "2 frame(s) optimised" in forced.stdout, forced.stderr


# --------------------------------------------------------------------------- class 5: the user's files


def test_a_directory_of_foreign_files_is_refused_and_a_foreign_config_never_overwritten(tmp_path):
    config = _store_config(tmp_path)  # tmp_path holds c.yaml-like inputs: photo.png, paint.png
    (tmp_path / "config.yaml").write_text("# my own config, with comments\ncontent: photo.png\n")
    before = _snapshot(tmp_path)
    for force in (False, True):
        with pytest.raises(SweepError, match="config.yaml was not written by sweep"):
            RunStore(tmp_path).open(config, W, ["paint"], force=force)
    assert _snapshot(tmp_path) == before
    (tmp_path / "config.yaml").unlink()
    with pytest.raises(SweepError, match="holds files that sweep did not write \\(such as paint.png\\).*--force"):
        RunStore(tmp_path).open(config, W, ["paint"])
    (tmp_path / "index.html").write_text("<h1>my page</h1>")
    with pytest.raises(SweepError, match="index.html was not written by sweep"):
        RunStore(tmp_path).open(config, W, ["paint"], force=True)
    (tmp_path / "index.html").unlink()
    manifest = RunStore(tmp_path).open(config, W, ["paint"], force=True)  # beside photo.png, paint.png
    assert "config.yaml" in manifest["files"] and "paint/frames/" in manifest["files"]
    RunStore(tmp_path).open(config, W, ["paint"], force=True)  # its own files: reopened freely


def test_a_lost_manifest_still_lets_force_replace_the_run(tmp_path):
    out, config = _store_with_frames(tmp_path)
    (out / "manifest.json").unlink()
    RunStore(out).open(config, W, ["paint"], force=True)  # config.yaml reads back as sweep's own
    assert _frames(out / "paint") == []


def test_pick_never_overwrites_a_frame_or_a_foreign_file_but_may_repeat_itself(tmp_path):
    out, _ = _store_with_frames(tmp_path)
    job = out / "paint"
    frame = _frames(job)[0]
    before = frame.read_bytes()
    with pytest.raises(SweepError, match="one of the run's own files"):
        pick(job, frame=1, out=frame)
    (tmp_path / "mine.png").write_bytes(b"the user's picture")
    with pytest.raises(SweepError, match="was not written by `sweep pick`"):
        pick(job, frame=1, out=tmp_path / "mine.png")
    assert frame.read_bytes() == before and (tmp_path / "mine.png").read_bytes() == b"the user's picture"
    pick(job, frame=1, out=tmp_path / "picked.png")
    pick(job, frame=0, out=tmp_path / "picked.png")  # its own earlier pick
    assert (tmp_path / "picked.png").read_bytes() == before
    default = pick(job, frame=0).path
    assert default.is_file()
    RunStore(out).open(_store_config(tmp_path), W, ["paint"])  # the picks are the run's own now


def _records_weight(job, index):
    return next(r["content_weight"] for r in json.loads((job / "frames.json").read_text()) if r["index"] == index)


@pytest.mark.parametrize("damage", ["truncated png", "a file outside the job", "an index that is no number"])
def test_pick_refuses_a_damaged_frame_and_writes_nothing(tmp_path, damage):
    """`pick` applies the rule `run` and `status` apply: a damaged frame is never copied."""
    out, _ = _store_with_frames(tmp_path)
    job = out / "paint"
    records = json.loads((job / "frames.json").read_text())
    if damage == "truncated png":
        frame = job / records[1]["file"]
        frame.write_bytes(frame.read_bytes()[:60])
    elif damage == "a file outside the job":
        Image.new("RGB", (8, 8)).save(tmp_path / "other.png")
        records[1]["file"] = "../../other.png"
    else:
        records[1]["index"] = "abc"
    (job / "frames.json").write_text(json.dumps(records))
    before = _snapshot(out)
    expected = {"truncated png": r"frame 1 \(content weight .*\) is damaged: f001_cw-.*does not decode",
                "a file outside the job": "frame 1 is damaged: frame 1's record names the file '../../other.png'",
                "an index that is no number": "frame 1 is out of range.*; damaged: a record has index 'abc'"}[damage]
    with pytest.raises(SweepError, match=expected + ".*makes it again"):
        pick(job, frame=1)
    if damage == "truncated png":   # the frame nearest a weight is not swapped for a farther one
        with pytest.raises(SweepError, match="frame 1 .* is damaged"):
            pick(job, weight=_records_weight(job, 1))
    assert _snapshot(out) == before
    assert pick(job, frame=0).path.is_file()


def test_a_pick_that_fails_leaves_no_file_the_run_would_call_foreign(tmp_path, monkeypatch):
    """The manifest cannot be written (a full disk): no PNG is left. The PNG cannot be written
    after the manifest was: the noted pick without its file blocks neither `run` nor `pick`."""
    out, config = _store_with_frames(tmp_path)
    job = out / "paint"

    def full_disk(*args, **kwargs):
        raise SweepError("cannot write manifest.json: No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("sweep.pick.atomic.write_json", full_disk)
        with pytest.raises(SweepError, match="No space left"):
            pick(job, frame=1)
    assert not list(job.glob("pick_*"))
    with monkeypatch.context() as patch:
        patch.setattr("sweep.pick.write_bytes", full_disk)
        with pytest.raises(SweepError, match="No space left"):
            pick(job, frame=1)
    assert not list(job.glob("pick_*"))
    RunStore(out).open(config, W, ["paint"], inputs={"paint": "pixels-1"})
    assert pick(job, frame=1).path.is_file()


def test_a_re_render_holds_the_run_directory_for_its_whole_length(tmp_path, monkeypatch):
    """A `sweep run --force` of another config during a minutes-long re-render would
    otherwise file this pick into the new run."""
    out, _ = _store_with_frames(tmp_path)
    seen = []

    def rerender(job_dir, record, size, **kwargs):
        with pytest.raises(SweepError, match=f"is in use by another sweep process \\(pid {os.getpid()}\\)"):
            with run_dir_lock(out, "run"):
                pass
        seen.append(size)
        return np.zeros((size, size, 3), np.uint8), 1

    monkeypatch.setattr("sweep.pick.rerender", rerender)
    assert pick(out / "paint", frame=1, size=24).path.is_file() and seen == [24]


def test_status_into_a_closed_pipe_ends_quietly_and_into_a_full_disk_in_one_line(tmp_path):
    out, _ = _store_with_frames(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)   # `sweep status DIR | head -1` once head has gone: every write finds no reader
    closed = subprocess.run([*SWEEP, "status", str(out)], stdout=writer, stderr=subprocess.PIPE, text=True,
                            timeout=120)
    os.close(writer)
    assert (closed.returncode, closed.stderr) == (141, "")
    with open("/dev/full", "w") as full:
        refused = subprocess.run([*SWEEP, "status", str(out)], stdout=full, stderr=subprocess.PIPE, text=True,
                                 timeout=120)
    assert refused.returncode == 2
    assert refused.stderr == "error: cannot write to standard output: No space left on device\n"


@pytest.mark.slow
def test_run_into_the_configs_own_directory_keeps_the_config(tmp_path):
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2), name="config.yaml")
    before = _snapshot(tmp_path)
    for extra in ([], ["--force"]):
        result = _run("run", "config.yaml", "--out", ".", *extra, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert _snapshot(tmp_path) == before


def test_a_run_inside_another_run_or_into_an_empty_out_is_refused(tmp_path):
    """`--out RUN/sub` made files RUN had not written, and RUN refused to resume from then
    on; `--out ""` quietly took the default folder."""
    out, config = _store_with_frames(tmp_path)
    before = _snapshot(out)
    with pytest.raises(SweepError, match="is inside the run directory .*out, which would then refuse to resume"):
        RunStore(out / "paint" / "again").open(config, W, ["paint"])
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    folders = sorted(tmp_path.iterdir())
    for target in (str(out / "sub"), ""):
        result = _run("run", "c.yaml", "--out", target, "--dry-run", cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert ("inside the run directory" if target else "--out is empty") in result.stderr
    assert _snapshot(out) == before and sorted(tmp_path.iterdir()) == folders
    (tmp_path / "other").mkdir()
    other, _ = _store_with_frames(tmp_path / "other")
    with pytest.raises(SweepError, match="is inside another run directory"):
        pick(other / "paint", frame=0, out=out / "mine.png")
    assert _snapshot(out) == before and pick(out / "paint", frame=0, out=out / "mine.png").path.is_file()
    # a folder that merely has files of those names (a web app's) is no run; a damaged run still is one
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yaml").write_text("debug: true\n")
    (tmp_path / "app" / "manifest.json").write_text('{"name": "my web app"}')
    RunStore(tmp_path / "app" / "renders").check_writable()
    for damage in ('{"config_hash": "x", "jobs": {"a": {"frames": {"0": {"status": "running"}}}}}', '{"config_'):
        (other / "manifest.json").write_text(damage)
        with pytest.raises(SweepError, match="is inside the run directory"):
            RunStore(other / "sub").check_writable()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(SweepError, match="cannot follow .*loop"):
        RunStore(tmp_path / "loop" / "run").check_writable()


# --------------------------------------------------------------------------- class 8: damaged records


@pytest.mark.parametrize("manifest", [[], {"jobs": []}, {"config_hash": 1, "weights_sha256": W, "jobs": {}},
                                      {"config_hash": "x", "weights_sha256": W, "jobs": {"paint": {"frames": []}}},
                                      {"config_hash": "x", "weights_sha256": W,
                                       "jobs": {"paint": {"frames": {"0": "done"}}}},
                                      {"config_hash": "x", "weights_sha256": W, "jobs": {}, "picks": [1, 2]},
                                      {"config_hash": "x", "weights_sha256": W, "jobs": {}, "picks": "abc"},
                                      {"config_hash": "x", "weights_sha256": W, "jobs": {}, "frame_recipe": "2"}])
def test_a_manifest_of_the_wrong_shape_is_refused_in_one_line_and_force_clears_it(tmp_path, manifest):
    out, config = _store_with_frames(tmp_path)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match="manifest.json is damaged.*--force"):
        RunStore(out).open(config, W, ["paint"])
    with pytest.raises(SweepError, match="manifest.json is damaged"):
        run_status(out)
    fresh = RunStore(out).open(config, W, ["paint"], force=True)
    assert fresh["jobs"]["paint"]["frames"] == {} and _frames(out / "paint") == []
    assert run_status(out).counts == (0, 0, 4)


def test_status_of_a_run_stopped_while_rendering_or_still_running_says_so(tmp_path):
    """Every frame done is not the whole run: a full disk at the movie left no movie,
    sheet or report, and status called it complete; so it did while a run was writing."""
    out, _ = _store_with_frames(tmp_path, count=4)
    text = format_status(run_status(out))
    assert text.splitlines()[-1] == ("frames complete, but not rendered: paint/movie.gif, paint/sheet.png, "
                                     "index.html; rerun the same `sweep run` command with this --out to render them")
    config_path = out / "config.yaml"
    config_path.write_text(config_path.read_text().replace("seed: 0", "seed: 1"))   # a rerun is refused now
    assert format_status(run_status(out)).splitlines()[-1].endswith(
        "; a rerun takes --force (see the warning above), which makes the frames again")
    config_path.write_text(config_path.read_text().replace("seed: 1", "seed: 0"))
    for name in ("paint/movie.gif", "paint/sheet.png", "index.html"):
        (out / name).write_bytes(b"rendered")
    assert format_status(run_status(out)).splitlines()[-1] == "complete"
    assert _unrendered(out, ["mp4"], ["a/x", "a/y", "b/x", "z"]) == [
        "a/x/movie.mp4", "a/x/sheet.png", "a/y/movie.mp4", "a/y/sheet.png", "b/x/movie.mp4", "b/x/sheet.png",
        "z/movie.mp4", "z/sheet.png", "a/compare.mp4", "a/compare.png"]   # b has one artist: nothing to compare
    with run_dir_lock(out, "pick"):
        text = format_status(run_status(out))
    assert text.splitlines()[-1] == f"in progress: `sweep pick` (pid {os.getpid()}) is writing into it"
    assert format_status(run_status(out)).splitlines()[-1] == "complete"


def test_status_of_a_run_whose_config_was_edited_says_how_to_go_on(tmp_path):
    """Rerunning `the same command` would be refused: the config no longer matches."""
    out, _ = _store_with_frames(tmp_path)
    assert format_status(run_status(out)).splitlines()[-1].startswith("incomplete: rerun the same `sweep run`")
    config_path = out / "config.yaml"
    edited = config_path.read_text().replace("seed: 0", "seed: 1")
    assert edited != config_path.read_text()
    config_path.write_text(edited)
    text = format_status(run_status(out))
    assert "does not match the manifest's config hash" in text and "unless --force" in text
    assert text.splitlines()[-1] == ("incomplete: restore the run's config to finish it, or rerun with --force to "
                                     "start again")


@pytest.mark.parametrize("damage", ["frames.json object", "frames.json syntax", "bad record", "garbage png",
                                    "png of another size", "another frame's png", "an edited weight"])
def test_a_damaged_record_or_frame_becomes_a_missing_frame_with_a_warning(tmp_path, damage):
    out, config = _store_with_frames(tmp_path)
    job = out / "paint"
    records = json.loads((job / "frames.json").read_text())
    if damage == "frames.json object":
        (job / "frames.json").write_text(json.dumps({"records": records}))
    elif damage == "frames.json syntax":
        (job / "frames.json").write_text(json.dumps(records)[:-5])
    elif damage == "bad record":
        records[1]["file"] = "../../etc/passwd"
        (job / "frames.json").write_text(json.dumps(records))
    elif damage == "another frame's png":   # the record names frame 0's file: pick would hand out frame 0
        records[1]["file"] = records[0]["file"]
        (job / "frames.json").write_text(json.dumps(records))
    elif damage == "an edited weight":   # its file was made at another weight
        records[1]["content_weight"] = 50.0
        (job / "frames.json").write_text(json.dumps(records))
    elif damage == "garbage png":
        (job / records[1]["file"]).write_bytes(b"\x89PNG\r\n\x1a\n not a png at all")
    else:
        Image.new("RGB", (7, 5)).save(job / records[1]["file"])
    lost = {0, 1} if damage.startswith("frames.json") else {1}
    status = run_status(out)
    assert status.jobs[0].damaged and not status.complete
    assert set(status.jobs[0].missing) == lost | {2, 3} and "damaged: " in format_status(status)
    warnings = []
    manifest = RunStore(out).open(config, W, ["paint"], warn=warnings.append,
                                  frame_shapes={"paint": (8, 8)})
    assert warnings and all(w.startswith("warning: paint: ") and "\n" not in w for w in warnings)
    assert {int(i) for i in manifest["jobs"]["paint"]["frames"]} == {0, 1} - lost
    status = run_status(out)
    assert not status.jobs[0].damaged and set(status.jobs[0].missing) == lost | {2, 3}


@pytest.mark.slow
def test_a_run_recomputes_a_garbage_frame_and_completes(tmp_path):
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    assert _run("run", "c.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    frame = _frames(tmp_path / "out" / "paint")[1]
    frame.write_bytes(b"garbage")
    status = _run("status", "out", cwd=tmp_path)
    assert "damaged: frame 1" in status.stdout and "incomplete" in status.stdout
    result = _run("run", "c.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0 and "warning: paint: frame 1" in result.stderr, result.stderr
    assert "1 frame(s) optimised" in result.stdout
    assert Image.open(frame).size == (32, 23)
    assert _run("status", "out", cwd=tmp_path).stdout.splitlines()[-1] == "complete"


@pytest.mark.slow
def test_a_dry_run_refuses_what_the_run_would_refuse_and_writes_nothing(tmp_path):
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    assert _run("run", "c.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    before = _snapshot(tmp_path / "out")
    assert _run("run", "c.yaml", "--out", "out", "--dry-run", cwd=tmp_path).returncode == 0
    other = _run("run", "c.yaml", "--out", "out", "--set", "seed=5", "--dry-run", cwd=tmp_path)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert other.stderr.strip().splitlines() == [other.stderr.strip()]
    assert "holds frames of a different config" in other.stderr and other.stdout == ""
    forced = _run("run", "c.yaml", "--out", "out", "--set", "seed=5", "--dry-run", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "jobs: 1" in forced.stdout
    assert _snapshot(tmp_path / "out") == before


@pytest.mark.slow
def test_a_rerun_removes_only_the_movies_an_earlier_run_rendered(tmp_path):
    """Formats no longer asked for go, so the report links no movie of other settings;
    a movie of a format no run here rendered is the user's: refused as such, and kept."""
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    assert _run("run", "c.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    job = tmp_path / "out" / "paint"
    (job / "movie.mp4").write_bytes(b"mine")   # never rendered here: formats were [gif]
    refused = _run("run", "c.yaml", "--out", "out", cwd=tmp_path)
    assert refused.returncode == 2 and "did not write (such as paint/movie.mp4)" in refused.stderr
    assert _run("run", "c.yaml", "--out", "out", "--force", cwd=tmp_path).returncode == 0
    assert (job / "movie.mp4").read_bytes() == b"mine" and (job / "movie.gif").is_file()
    (job / "movie.mp4").unlink()
    assert _run("run", "c.yaml", "--out", "out", "--set", "movie.formats=[mp4]", cwd=tmp_path).returncode == 0
    assert (job / "movie.mp4").is_file() and not (job / "movie.gif").exists()
    assert "movie.gif" not in (tmp_path / "out" / "index.html").read_text()


@pytest.mark.parametrize("upgrade", ["to a newer recipe", "back to an older one"])
@pytest.mark.parametrize("noted", ["noted as done", "only in the frame store"])
def test_frames_another_version_of_sweep_made_are_not_resumed_into(tmp_path, monkeypatch, upgrade, noted):
    """Frames a sweep of another FRAME_RECIPE made would be mixed into one movie with this
    one's: refused, whether the manifest notes them as done or only the frame store has
    them (`run` trusts the store); status says why; --force makes them again."""
    out, config = _store_with_frames(tmp_path, inputs="p")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frame_recipe"] == identity.FRAME_RECIPE
    if noted == "only in the frame store":
        manifest["jobs"]["paint"]["frames"] = {}
    if upgrade == "back to an older one":
        manifest["frame_recipe"] = identity.FRAME_RECIPE + 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    now = identity.FRAME_RECIPE + (upgrade == "to a newer recipe")
    monkeypatch.setattr(identity, "FRAME_RECIPE", now)
    before = _snapshot(out)
    which = "an earlier" if upgrade == "to a newer recipe" else "a newer"
    with pytest.raises(SweepError, match=f"made by {which} version of sweep .*--force to make them again"):
        RunStore(out).open(config, W, ["paint"], inputs={"paint": "p"})
    assert _snapshot(out) == before
    text = format_status(run_status(out))
    assert "made by another version of sweep" in text
    assert text.splitlines()[-1] == "incomplete: rerun with --force to start again with this version of sweep"
    fresh = RunStore(out).open(config, W, ["paint"], force=True, inputs={"paint": "p"})
    assert fresh["frame_recipe"] == now and _frames(out / "paint") == []
    assert "another version" not in format_status(run_status(out))


def test_a_manifest_without_a_recipe_is_trusted_and_one_without_frames_resumes(tmp_path, monkeypatch):
    """Written before the recipe was recorded, as the input digest's absence is trusted."""
    out, config = _store_with_frames(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["frame_recipe"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    reopened = RunStore(out).open(config, W, ["paint"], inputs={"paint": "pixels-1"})
    assert reopened["frame_recipe"] == identity.FRAME_RECIPE
    assert len(_frames(out / "paint")) == 2
    (tmp_path / "empty").mkdir()
    out, config = _store_with_frames(tmp_path / "empty", count=0)
    monkeypatch.setattr(identity, "FRAME_RECIPE", identity.FRAME_RECIPE + 1)
    reopened = RunStore(out).open(config, W, ["paint"], inputs={"paint": "pixels-1"})
    assert reopened["frame_recipe"] == identity.FRAME_RECIPE


def test_a_run_directory_of_an_older_version_owns_its_layout_and_picks(tmp_path):
    out, config = _store_with_frames(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["files"]  # written before the list existed
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "paint" / "pick_f000_cw-100.000.png").write_bytes(b"an old pick")
    (out / "index.html").write_text("<title>run &middot; sweep report</title>")
    reopened = RunStore(out).open(config, W, ["paint"])
    assert {"paint/frames/", "paint/pick_f000_cw-100.000.png"} <= set(reopened["files"])
    RunStore(out).open(config, W, ["paint"])  # and again, now from the list
    (out / "paint" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="such as paint/notes.txt"):
        RunStore(out).open(config, W, ["paint"])
