"""`spacing: even` (sweep/spacing.py): the keyframes first, as a hidden job, then the
in-betweens placed where the keyframes differ most; on tiny real runs."""
import json
import shutil

import numpy as np
import pytest

import sweep
from sweep import morph
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
    assert "missing frames 0-8 (content weights placed once its keyframes are done)" in status

    result = sweep.run(tmp_path / "c.yaml", resumed)
    assert result.optimised == 1 + 6   # the last keyframe, then the in-betweens; the copies are not optimised
    for record in records_of(clean / "rings"):
        assert (resumed / "rings" / record["file"]).read_bytes() == (clean / "rings" / record["file"]).read_bytes()
