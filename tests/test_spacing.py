"""`spacing: even` (sweep/spacing.py): the keyframes first, as a hidden job, then the
in-betweens placed where the keyframes differ most; on tiny real runs."""
import argparse
import json
import shutil

import numpy as np
import pytest

import sweep
from sweep import morph
from sweep.cli import _interrupted_message
from sweep.config import parse_config
from sweep.images import read_png
from sweep.layout import snapshot_dir
from sweep.status import format_status, run_status

CONFIG = """
content: sample:grace_hopper
styles: {rings: sample:rings}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 9, spacing: even}}
image: {max_size: 32}
optimizer: {iterations: 12}
keyframes: {every: 4, in_between_fraction: 0.5}
movie: {formats: [gif]}
runtime: {chunk_size: 4, progress: false}
"""


def records_of(job_dir):
    return json.loads((job_dir / "frames.json").read_text())


def test_even_spacing_without_keyframes_is_log_spacing():
    for init in ("content", "noise", "chain"):
        config = parse_config(CONFIG + f"init: {init}\n")
        assert not morph.even_spacing(config)
        assert config.content_weights() == pytest.approx(list(np.logspace(2, -1, 9)))
    assert morph.even_spacing(parse_config(CONFIG))
    # so its frames are those of log spacing, and a run made before even was the default resumes
    from sweep.identity import config_hash

    log = CONFIG.replace("spacing: even", "spacing: log")
    assert config_hash(parse_config(CONFIG + "init: content\n")) == config_hash(parse_config(log + "init: content\n"))
    assert config_hash(parse_config(CONFIG)) != config_hash(parse_config(log))


@pytest.mark.slow
def test_even_spacing_places_the_in_betweens_by_the_stored_keyframes(tmp_path, real_weights):
    """Two artists of one photo: their keyframes first, then one layout for both (so the
    comparison still pairs equal weights), their keyframes copied, the in-betweens blends."""
    (tmp_path / "c.yaml").write_text(CONFIG.replace("styles: {rings: sample:rings}",
                                                    "styles: {rings: sample:rings, glass: sample:stained_glass}")
                                     .replace("movie: {formats: [gif]}", "movie: {formats: [gif], progress_every: 6}"))
    result = sweep.run(tmp_path / "c.yaml", tmp_path / "out")
    assert not result.failed and result.optimised == 2 * 9
    log_weights = parse_config(CONFIG).content_weights()
    hidden = {artist: records_of(result.out_dir / artist / ".keyframes") for artist in ("rings", "glass")}
    assert [r["content_weight"] for r in hidden["rings"]] == [log_weights[k] for k in (0, 4, 8)]
    images = {artist: [read_png(result.out_dir / artist / ".keyframes" / r["file"]) for r in records]
              for artist, records in hidden.items()}
    weights, keys = morph.even_layout([log_weights[k] for k in (0, 4, 8)], list(images.values()), 9)
    assert [job.layout for job in result.plan.jobs] == [(weights, keys)] * 2
    for artist in ("rings", "glass"):
        job = result.out_dir / artist
        records = records_of(job)
        assert [r["content_weight"] for r in records] == weights
        for key, image in zip(keys, images[artist]):   # the keyframes, copied into the job
            assert np.array_equal(read_png(job / records[key]["file"]), image)
        for index in set(range(9)) - set(keys):   # the in-betweens are blends of their keyframes
            below, above = morph.neighbours(index, keys)
            t = morph.blend_fraction(weights[index], weights[below], weights[above])
            first, second = (images[artist][keys.index(k)].astype(float) for k in (below, above))
            frame = read_png(job / records[index]["file"]).astype(float)
            assert np.abs(frame - ((1 - t) * first + t * second)).mean() < 0.5 * np.abs(second - first).mean()
        assert json.loads((job / "motion.json").read_text())["frames"] == 9 and (job / "movie.gif").is_file()
        # the keyframes' progress snapshots came along, so progress.gif shows whichever frame is balanced
        assert all(len(list(snapshot_dir(job, key).glob("s*.png"))) >= 2 for key in keys)
        assert (job / "progress.gif").is_file()
    assert (result.out_dir / "compare.gif").is_file()
    status = run_status(result.out_dir)
    assert status.complete and status.jobs[0].weights == weights and "18 of 18 frames done" in format_status(status)


@pytest.mark.slow
def test_a_run_killed_before_its_in_betweens_resumes_bit_identical(tmp_path, real_weights):
    (tmp_path / "c.yaml").write_text(CONFIG)
    clean = sweep.run(tmp_path / "c.yaml", tmp_path / "clean").out_dir
    resumed = tmp_path / "resumed"
    shutil.copytree(clean, resumed)
    # killed after the second keyframe: no frame of the job, the last keyframe missing
    hidden = records_of(resumed / "rings" / ".keyframes")
    (resumed / "rings" / ".keyframes" / hidden[2]["file"]).unlink()
    (resumed / "rings" / ".keyframes" / "frames.json").write_text(json.dumps(hidden[:2]))
    for record in records_of(resumed / "rings"):
        (resumed / "rings" / record["file"]).unlink()
    (resumed / "rings" / "frames.json").unlink()
    status = format_status(run_status(resumed))
    assert "missing frames 0-8 (content weights placed once all its keyframes are done; 2 of 3 done so far)" in status
    interrupted = _interrupted_message(argparse.Namespace(command="run", dry_run=False, out=resumed), 143)
    assert f"kept 0 finished frame(s) and 2 keyframe(s) in {resumed}" in interrupted

    result = sweep.run(tmp_path / "c.yaml", resumed)
    assert result.optimised == 1 + 6   # the last keyframe, then the in-betweens; the copies are not optimised
    for record in records_of(clean / "rings"):
        assert (resumed / "rings" / record["file"]).read_bytes() == (clean / "rings" / record["file"]).read_bytes()


def same_job_files(first, second) -> bool:
    """Whether two job folders hold the same frames.json and the same frame files."""
    records = records_of(first)
    return records == records_of(second) and all(
        (first / record["file"]).read_bytes() == (second / record["file"]).read_bytes() for record in records)


def test_a_keyframe_is_copied_back_only_from_the_one_frame_of_exactly_its_weight(tmp_path):
    """A frame whose weight is only within the tolerance of a keyframe's (a sweep of
    steps that close), or a weight that two frames claim (an edited record), names no
    copy: that keyframe is optimised again rather than copied from a guess."""
    from sweep.records import FrameResult
    from sweep.spacing import restorable_keyframes
    from sweep.store import JobStore

    def frame(index, weight):
        return FrameResult(index=index, content_weight=weight, image=np.full((4, 4, 3), index, np.uint8),
                           content_loss=1.0, style_loss=2.0, tv_loss=0.1, iterations=3)

    job, hidden = JobStore(tmp_path / "job"), JobStore(tmp_path / "job" / ".keyframes")
    for index, weight in enumerate([99.99995, 10.0, 3.0, 1.0, 1.0]):   # frame 0, at weight 100, lost
        job.save(frame(index + 1, weight))
    restored = restorable_keyframes(hidden, job, [100.0, 10.0, 1.0])
    assert [(r.index, r.content_weight, int(r.image[0, 0, 0])) for r in restored] == [(1, 10.0, 2)]
    job.save(frame(0, 100.0))
    hidden.save(restored[0])
    assert [(r.index, int(r.image[0, 0, 0])) for r in restorable_keyframes(hidden, job, [100.0, 10.0, 1.0])] == \
        [(0, 0)]


@pytest.mark.slow
def test_lost_keyframes_are_copied_back_from_the_job_or_made_again(tmp_path, real_weights):
    """A hidden keyframe job lost or damaged after a complete run: its job still holds the
    keyframes, so they are copied back, not optimised again; one the job lacks too is made again, the same."""
    (tmp_path / "c.yaml").write_text(CONFIG)
    clean = sweep.run(tmp_path / "c.yaml", tmp_path / "clean").out_dir

    deleted = tmp_path / "deleted"
    shutil.copytree(clean, deleted)
    shutil.rmtree(deleted / "rings" / ".keyframes")
    messages = []
    assert sweep.run(tmp_path / "c.yaml", deleted, log=messages.append).optimised == 0
    assert "rings/.keyframes: 3 missing keyframe(s) copied back from rings's frames" in messages
    assert same_job_files(deleted / "rings" / ".keyframes", clean / "rings" / ".keyframes")
    assert same_job_files(deleted / "rings", clean / "rings")

    # a keyframe whose record lost its losses cannot be copied into the job: the job's own copy is put back
    damaged = tmp_path / "damaged"
    shutil.copytree(clean, damaged)
    hidden = records_of(damaged / "rings" / ".keyframes")
    hidden[1]["content_loss"] = None
    (damaged / "rings" / ".keyframes" / "frames.json").write_text(json.dumps(hidden))
    messages = []
    assert sweep.run(tmp_path / "c.yaml", damaged, log=messages.append).optimised == 0
    assert any("frame 1's record has no losses; it is copied back" in message for message in messages)
    assert same_job_files(damaged / "rings" / ".keyframes", clean / "rings" / ".keyframes")

    # ... and when the job lost its copy too, the keyframe is optimised again, to the same frame
    (damaged / "rings" / ".keyframes" / "frames.json").write_text(json.dumps(hidden))
    copy = next(r for r in records_of(damaged / "rings") if r["content_weight"] == hidden[1]["content_weight"])
    (damaged / "rings" / copy["file"]).unlink()
    messages = []
    assert sweep.run(tmp_path / "c.yaml", damaged, log=messages.append).optimised == 1
    assert any("frame 1's record has no losses; it will be optimised again" in message for message in messages)
    assert same_job_files(damaged / "rings", clean / "rings")


def poisoned_objective(weight: float):
    """sweep.engine.make_objective whose loss is NaN for frames of content weight `weight`."""
    from keras import ops

    import sweep.engine

    real = sweep.engine.make_objective

    def make(extractor):
        evaluate = real(extractor)

        def poisoned(images01, content_weights, *rest):
            total, content, style, tv, gradient = evaluate(images01, content_weights, *rest)
            hit = np.isclose(np.asarray(ops.convert_to_numpy(content_weights)), weight, rtol=1e-6)
            poison = ops.convert_to_tensor(np.where(hit, np.nan, 0.0).astype(np.float32))
            return total + poison, content + poison, style, tv, gradient + ops.reshape(poison, (-1, 1, 1, 1))

        return poisoned

    return make


@pytest.mark.slow
def test_a_failed_keyframe_keeps_the_log_grid_until_a_later_run_places_the_frames(tmp_path, real_weights,
                                                                                   monkeypatch):
    import sweep.engine

    (tmp_path / "c.yaml").write_text(CONFIG)
    log_weights = parse_config(CONFIG).content_weights()
    with monkeypatch.context() as patch:
        patch.setattr(sweep.engine, "make_objective", poisoned_objective(log_weights[4]))
        first = sweep.run(tmp_path / "c.yaml", tmp_path / "out", log=lambda message: None)
    # the other frames carry on, on the log grid; the keyframe is the job's failed frame 4
    assert [(job, index) for job, index, _ in first.failed] == [("rings", 4)]
    assert "its keyframe failed: the loss became NaN" in first.failed[0][2]
    records = records_of(first.out_dir / "rings")
    assert [r["index"] for r in records] == [0, 1, 2, 3, 5, 6, 7, 8]
    assert [r["content_weight"] for r in records] == [w for i, w in enumerate(log_weights) if i != 4]
    status = format_status(run_status(first.out_dir))
    assert "failed frame 4 (content weight 3.16): its keyframe failed" in status

    messages = []
    second = sweep.run(tmp_path / "c.yaml", tmp_path / "out", log=messages.append)
    assert not second.failed
    weights, keys = second.plan.jobs[0].layout
    hidden = [read_png(first.out_dir / "rings" / ".keyframes" / r["file"])
              for r in records_of(first.out_dir / "rings" / ".keyframes")]
    assert (weights, keys) == morph.even_layout([log_weights[k] for k in (0, 4, 8)], [hidden], 9)
    assert [r["content_weight"] for r in records_of(second.out_dir / "rings")] == weights
    # the frames of the log grid (the in-betweens beside the failed keyframe started from
    # the photo) were made again: the retried keyframe, then all six in-betweens
    assert any("made for another placement" in message for message in messages)
    assert second.optimised == 1 + 6 and run_status(second.out_dir).complete


@pytest.mark.slow
def test_a_changed_painting_replaces_the_frames_of_every_artist_of_its_photo(tmp_path, real_weights):
    from PIL import Image

    from sweep.samples import sample_image

    Image.fromarray(sample_image("stained_glass")).save(tmp_path / "glass.png")
    (tmp_path / "c.yaml").write_text(CONFIG.replace("styles: {rings: sample:rings}",
                                                    "styles: {rings: sample:rings, glass: glass.png}"))
    sweep.run(tmp_path / "c.yaml", tmp_path / "out", log=lambda message: None)
    Image.fromarray(sample_image("brushstrokes")).save(tmp_path / "glass.png")
    with pytest.raises(sweep.errors.SweepError, match="other pixels"):
        sweep.run(tmp_path / "c.yaml", tmp_path / "out", log=lambda message: None)
    second = sweep.run(tmp_path / "c.yaml", tmp_path / "out", force=True, log=lambda message: None)
    assert not second.failed and run_status(second.out_dir).complete
    layout = second.plan.jobs[0].layout
    assert [job.layout for job in second.plan.jobs] == [layout, layout]
    for artist in ("rings", "glass"):   # one placement, whatever rings had before
        assert [r["content_weight"] for r in records_of(second.out_dir / artist)] == layout[0]
    assert (second.out_dir / "compare.gif").is_file()   # the artists still compare at equal weights
