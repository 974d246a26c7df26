"""Keyframes, then in-betweens (sweep/morph.py and `init: keyframes` in the engine)."""
import json
import math

import numpy as np
import pytest

import sweep
from sweep import morph

from ._resume import resume_matches_clean

CONFIG = """
content: sample:grace_hopper
styles: {rings: sample:rings}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 7, spacing: log}}
image: {max_size: 32}
optimizer: {iterations: 12}
keyframes: {every: 3, in_between_fraction: 0.5}
movie: {formats: []}
runtime: {chunk_size: 4, progress: false}
"""


def test_keyframes_are_every_kth_frame_and_both_ends():
    assert morph.keyframe_indices(30, 5) == [0, 5, 10, 15, 20, 25, 29]
    assert morph.keyframe_indices(7, 3) == [0, 3, 6]
    assert morph.keyframe_indices(1, 5) == [0]
    frames = [(i, 10.0 ** -i) for i in range(7)]
    keys, betweens = morph.split_passes(frames, [0, 3, 6])
    assert [i for i, _ in keys] == [0, 3, 6] and [i for i, _ in betweens] == [1, 2, 4, 5]
    assert morph.neighbours(4, [0, 3, 6]) == (3, 6)
    assert morph.previous_keyframe(6, [0, 3, 6]) == 3 and morph.previous_keyframe(0, [0, 3, 6]) is None


def test_an_in_between_starts_from_the_log_weighted_blend_of_its_keyframes():
    assert morph.blend_fraction(10.0, 100.0, 1.0) == pytest.approx(0.5)
    assert morph.blend_fraction(1.0, 100.0, 1.0) == pytest.approx(1.0)
    weights = [100.0, 10.0, 1.0]
    dark, light = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    starts = morph.in_between_starts([(1, 10.0)], weights, [0, 2], {0: dark, 2: light}.get)
    assert np.allclose(starts[1], 100.0)
    assert morph.in_between_starts([(1, 10.0)], weights, [0, 2], {0: dark}.get) == {}  # a keyframe failed
    assert morph.in_between_iterations(300, 0.25) == 75 and morph.in_between_iterations(2, 0.1) == 1


def test_even_layout_gives_the_in_betweens_to_the_keyframes_that_differ_most():
    grey = [np.full((4, 4, 3), level, np.uint8) for level in (0, 10, 70, 100)]   # differences 10, 60, 30
    weights, keys = morph.even_layout([100.0, 10.0, 1.0, 0.1], [grey], 13)
    assert len(weights) == 13 and keys[0] == 0 and keys[-1] == 12
    assert [weights[k] for k in keys] == [100.0, 10.0, 1.0, 0.1]   # the keyframes keep their weights exactly
    in_betweens = [b - a - 1 for a, b in zip(keys, keys[1:])]
    # steps 10/2 = 5, 60/7 = 8.6, 30/3 = 10: no allocation of 9 in-betweens keeps every step under 10
    assert in_betweens == [1, 6, 2]
    assert all(a > b for a, b in zip(weights, weights[1:]))
    assert weights[keys[1]:keys[2] + 1] == [10.0, *morph.segment_weights(10.0, 1.0, 6), 1.0]
    # Deterministic, and a sweep of keyframes only keeps them all.
    assert morph.even_layout([100.0, 10.0, 1.0, 0.1], [grey], 13) == (weights, keys)
    assert morph.even_layout([100.0, 0.1], [grey[:2]], 2) == ([100.0, 0.1], [0, 1])
    # keyframes all alike: the in-betweens are spread evenly, not all into the first segment
    alike = [grey[0]] * 4
    assert morph.even_layout([100.0, 10.0, 1.0, 0.1], [alike], 13)[1] == [0, 4, 8, 12]


def test_in_betweens_crowd_towards_content_weight_1_and_are_log_spaced_far_from_it():
    towards_1 = np.diff(np.log([10.0, *morph.segment_weights(10.0, 1.0, 6), 1.0]))
    assert np.all(np.diff(np.abs(towards_1)) < 0)   # log-steps shrink as the weights near 1
    assert np.abs(towards_1[-1]) < 0.75 * np.abs(towards_1[0])
    around_1 = morph.segment_weights(math.e, 1 / math.e, 4)
    assert np.allclose(np.log(around_1), -np.log(around_1[::-1]))   # symmetric about 1
    far = np.log([1e-3, *morph.segment_weights(1e-3, 1e-4, 4), 1e-4])
    assert np.allclose(np.diff(far), np.diff(far)[0], rtol=1e-6)
    assert morph.segment_weights(5.0, 2.0, 0) == []
    # a sweep from the style end up: the same weights, in its order
    assert morph.segment_weights(0.1, 100.0, 5) == morph.segment_weights(100.0, 0.1, 5)[::-1]
    weights, keys = morph.even_layout([0.1, 1.0, 10.0], [[np.full((2, 2, 3), v, np.uint8) for v in (0, 50, 60)]], 9)
    assert np.all(np.diff(weights) > 0) and keys == [0, 6, 8] and (weights[0], weights[-1]) == (0.1, 10.0)


def test_the_artists_of_a_photo_share_one_even_layout_and_count_alike():
    """Each job's differences count as shares of its own total, so a faint artist moves
    the layout as much as a loud one: here one changes early, the other late."""
    early = [np.full((4, 4, 3), level, np.uint8) for level in (0, 90, 100, 110)]   # 90, 10, 10
    late = [np.full((4, 4, 3), level, np.uint8) for level in (0, 1, 2, 20)]       # 1, 1, 18
    _, alone = morph.even_layout([100.0, 10.0, 1.0, 0.1], [early], 10)
    _, shared = morph.even_layout([100.0, 10.0, 1.0, 0.1], [early, late], 10)
    assert [b - a - 1 for a, b in zip(alone, alone[1:])] == [6, 0, 0]
    assert [b - a - 1 for a, b in zip(shared, shared[1:])] == [3, 0, 3]   # summed shares 0.87, 0.14, 0.99


def test_a_morph_that_changes_the_picture_less_is_coupled_harder():
    """Jitter is relative to the movie's steps: keyframes that differ by 0.7 of the
    built-in photo's change in all get twice the coupling, by half or less four times;
    more change never gets less."""
    def keyframes(total):   # three keyframes whose two differences add up to `total` levels
        return [np.full((4, 4, 3), level, np.uint8) for level in (0, total / 2, total)]

    reference = morph.REFERENCE_CHANGE
    assert morph.coupling_strength(60.0, keyframes(reference / math.sqrt(2))) == pytest.approx(120.0, rel=0.03)
    assert morph.coupling_strength(60.0, keyframes(reference / 2)) == pytest.approx(240.0, rel=0.03)
    assert morph.coupling_strength(60.0, keyframes(reference / 10)) == 240.0
    assert morph.coupling_strength(60.0, keyframes(0.0)) == 240.0   # keyframes all alike
    assert morph.coupling_strength(60.0, keyframes(reference)) == pytest.approx(60.0, rel=0.02)
    assert morph.coupling_strength(60.0, keyframes(2 * reference)) == 60.0
    # off, or a keyframe failed: the configured coupling
    assert morph.coupling_strength(0.0, keyframes(10.0)) == 0.0
    assert morph.coupling_strength(60.0, [*keyframes(10.0)[:2], None]) == 60.0


@pytest.mark.slow
def test_keyframes_run_first_and_in_betweens_inherit_their_strokes(tmp_path, real_weights):
    from sweep.records import Callback

    class Seen(Callback):
        def __init__(self):
            self.order = []

        def on_frame(self, job, result):
            self.order.append((result.index, result.iterations))

    (tmp_path / "c.yaml").write_text(CONFIG)
    seen = Seen()
    result = sweep.run(tmp_path / "c.yaml", tmp_path / "out", callbacks=[seen])
    assert not result.failed
    assert [index for index, _ in seen.order[:3]] == [0, 3, 6]
    assert all(iterations <= 6 for index, iterations in seen.order[3:])  # half of 12
    job = result.out_dir / "rings"
    records = {r["index"]: r for r in json.loads((job / "frames.json").read_text())}
    images = {i: sweep.images.read_png(job / r["file"]).astype(np.float64) for i, r in records.items()}
    photo = images[0]
    for index, (below, above) in ((4, (3, 6)), (5, (3, 6))):
        t = morph.blend_fraction(records[index]["content_weight"], records[below]["content_weight"],
                                 records[above]["content_weight"])
        blend = (1 - t) * images[below] + t * images[above]
        # far closer to the blend of its keyframes than the keyframes are to each other
        assert np.abs(images[index] - blend).mean() < 0.5 * np.abs(images[above] - images[below]).mean()
    motion = json.loads((job / "motion.json").read_text())
    assert motion["frames"] == 7 and motion["jitter"] is not None and len(motion["steps"]) == 6


def frame_iterations(tmp_path, optimizer: str, keyframes: str, out: str) -> dict[int, int]:
    """Each frame's iterations, by index, in a run of CONFIG with these optimizer and
    keyframes sections."""
    config = CONFIG.replace("optimizer: {iterations: 12}", f"optimizer: {{{optimizer}}}")
    (tmp_path / "c.yaml").write_text(config.replace("keyframes: {every: 3, in_between_fraction: 0.5}",
                                                    f"keyframes: {{{keyframes}}}"))
    result = sweep.run(tmp_path / "c.yaml", tmp_path / out)
    return {r["index"]: r["iterations"] for r in json.loads((result.out_dir / "rings" / "frames.json").read_text())}


@pytest.mark.slow
def test_keyframes_stop_by_their_own_tolerance(tmp_path, real_weights):
    """keyframes.tolerance 0 runs the keyframes to the full budget, while the
    in-betweens stop early under a loose optimizer.tolerance."""
    iterations = frame_iterations(tmp_path, "iterations: 12, tolerance: 0.5, patience: 2",
                                  "every: 3, in_between_fraction: 1.0, tolerance: 0", "out")
    assert [iterations[i] for i in (0, 3, 6)] == [12, 12, 12]
    assert max(iterations[i] for i in (1, 2, 4, 5)) < 12
    # the tighter of the two counts: optimizer.tolerance 0 stops no keyframe early either
    iterations = frame_iterations(tmp_path, "iterations: 12, tolerance: 0",
                                  "every: 3, in_between_fraction: 0.5, tolerance: 0.5", "out2")
    assert [iterations[i] for i in (0, 3, 6)] == [12, 12, 12]


@pytest.mark.slow
def test_the_coupling_moves_a_segments_in_betweens_in_step(tmp_path, real_weights):
    """Frames 1, 2 (between keyframes 0 and 3) and 4, 5 (between 3 and 6) are each one
    group: they run the same iterations, and the coupling shrinks their second
    differences along the sweep (what jitter measures) against uncoupled in-betweens."""
    def run(coupling):
        (tmp_path / "c.yaml").write_text(CONFIG.replace("in_between_fraction: 0.5",
                                                        f"in_between_fraction: 0.5, coupling: {coupling}"))
        job = sweep.run(tmp_path / "c.yaml", tmp_path / f"c{coupling}").out_dir / "rings"
        records = sorted(json.loads((job / "frames.json").read_text()), key=lambda r: r["index"])
        frames = np.stack([sweep.images.read_png(job / r["file"]).astype(np.float64) for r in records])
        bend = np.abs(frames[2:] - 2 * frames[1:-1] + frames[:-2]).mean(axis=(1, 2, 3))
        return [r["iterations"] for r in records], bend[[0, 1, 3, 4]]   # centred on frames 1, 2, 4, 5

    iterations, coupled = run(1000)
    assert iterations[1] == iterations[2] and iterations[4] == iterations[5]
    _, uncoupled = run(0)
    assert coupled.mean() < 0.5 * uncoupled.mean()


@pytest.mark.slow
def test_an_interrupt_stores_a_chunks_coupled_frames_together(tmp_path, real_weights):
    """Ctrl-C while the first in-between is stored: its group-mate (frame 2, same chunk)
    is stored too before the run stops, so a resumed run never optimises half a group."""
    from sweep import atomic
    from sweep.records import Callback

    class Interrupt(Callback):
        def on_frame(self, job, result):
            if result.index == 1:
                atomic.interrupt(KeyboardInterrupt())   # what the CLI's signal handler calls

    (tmp_path / "c.yaml").write_text(CONFIG)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(tmp_path / "c.yaml", tmp_path / "out", callbacks=[Interrupt()])
    records = json.loads((tmp_path / "out" / "rings" / "frames.json").read_text())
    assert sorted(record["index"] for record in records) == [0, 1, 2, 3, 6]


@pytest.mark.slow
def test_a_run_killed_between_the_passes_resumes_bit_identical(tmp_path, real_weights):
    keyframes = morph.keyframe_indices(7, 3)
    # as if killed after the keyframes were stored
    result = resume_matches_clean(tmp_path, CONFIG, lambda record: record["index"] in keyframes)
    assert result.optimised == 4


@pytest.mark.slow
def test_the_photo_scores_a_style_loss_of_one_under_the_photo_scale(real_weights):
    """sweep.style_unit: photo divides the style loss by the photo's own, so the photo
    end weighs the same for every pair; the painting scale leaves it as it was."""
    import dataclasses

    from sweep.config import parse_config
    from sweep.engine import SweepEngine, to_float_images
    from sweep.engine import build_engine
    from sweep.images import load_image, resize_max_side

    config = parse_config(CONFIG)
    engine = build_engine(config, real_weights)
    photo = to_float_images(resize_max_side(load_image("sample:grace_hopper"), 32))
    scores = {}
    for scale in ("photo", "painting"):
        scaled = dataclasses.replace(config, sweep=dataclasses.replace(config.sweep, style_unit=scale))
        scaled_engine = SweepEngine(scaled, engine.extractor)
        for painting in ("rings", "stained_glass"):
            targets = scaled_engine.targets(photo, to_float_images(resize_max_side(load_image(f"sample:{painting}"), 32)))
            _, _, style, _, _ = scaled_engine._evaluator(np.ones(1, np.float32), targets)(photo)
            scores[scale, painting] = float(np.asarray(style)[0])
    assert scores["photo", "rings"] == pytest.approx(1.0, rel=1e-3)
    assert scores["photo", "stained_glass"] == pytest.approx(1.0, rel=1e-3)
    assert abs(scores["painting", "rings"] - scores["painting", "stained_glass"]) > 0.3
