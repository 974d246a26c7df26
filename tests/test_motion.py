"""The movie measures of sweep/motion.py on synthetic frames."""
import numpy as np
import pytest

from sweep import motion


def fade(count=10, size=16):
    """A linear fade from one random picture to another, in float (no rounding)."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 255, (2, size, size, 3))
    return [a + (b - a) * t for t in np.linspace(0, 1, count)]


def test_a_linear_fade_has_no_jitter_and_an_even_pace():
    frames = fade()
    assert motion.jitter(frames) == pytest.approx(0.0, abs=1e-9)
    assert motion.pace(frames) == pytest.approx(1.0)
    assert np.allclose(motion.steps(frames), motion.steps(frames)[0])


def test_independent_noise_frames_jitter_well_above_one():
    rng = np.random.default_rng(1)
    frames = list(rng.integers(0, 256, (12, 24, 24, 3), dtype=np.uint8))
    # E|a - 2b + c| / E|a - b| for independent uniform pixels is about 1.5
    assert motion.jitter(frames) > 1.3


def test_boiling_on_top_of_a_fade_raises_jitter():
    rng = np.random.default_rng(2)
    smooth = fade(12)
    boiling = [f + rng.normal(0, 20, f.shape) for f in smooth]
    assert motion.jitter(boiling) > motion.jitter(smooth) + 0.5


def test_a_movie_that_stands_still_then_jumps_has_a_high_pace():
    still = np.zeros((8, 8, 3))
    frames = [still, still + 1, still + 2, still + 3, still + 40]
    assert motion.steps(frames).tolist() == [1, 1, 1, 37]
    assert motion.pace(frames) == pytest.approx(37.0)


def test_degenerate_movies_give_none_in_the_summary():
    still = np.zeros((4, 4, 3), np.uint8)
    assert motion.summary([still])["jitter"] is None
    summary = motion.summary([still, still, still])
    assert summary["jitter"] is None and summary["pace"] is None and summary["steps"] == [0.0, 0.0]
    assert summary["still"] and not motion.summary([still])["still"]
    faded = motion.summary(fade(5))
    assert faded["frames"] == 5 and faded["jitter"] == pytest.approx(0.0, abs=1e-4) and len(faded["steps"]) == 4


def test_the_store_writes_the_jobs_motion_next_to_its_frames(tmp_path):
    import json

    from sweep.records import FrameResult
    from sweep.store import JobStore

    store = JobStore(tmp_path / "job")
    for index, frame in enumerate(fade(4)):
        store.save(FrameResult(index=index, content_weight=10.0 ** -index, image=np.rint(frame).astype(np.uint8),
                               content_loss=0.1, style_loss=0.2, tv_loss=0.3, iterations=1))
    written = store.write_motion()
    assert json.loads((tmp_path / "job" / "motion.json").read_text()) == written
    assert written["frames"] == 4 and written["jitter"] < 0.05 and written["pace"] == pytest.approx(1.0, abs=0.05)


def barely_changing(count=12, size=32, flips=3):
    """One grey picture, `flips` of whose pixel values go one level up or down from frame to
    frame: what `colors: match` made of a one-colour photo (mean step 0.0008 levels)."""
    rng = np.random.default_rng(5)
    frames = [np.full((size, size, 3), 128, np.int16)]
    for _ in range(count - 1):
        frame = frames[-1].copy()
        frame.reshape(-1)[rng.choice(frame.size, flips, replace=False)] += rng.choice([-1, 1], flips)
        frames.append(frame)
    return [frame.astype(np.uint8) for frame in frames]


def test_a_movie_that_barely_changes_is_still_with_no_jitter_or_pace():
    frames = barely_changing()
    assert 0 < motion.steps(frames).mean() < motion.STILL_STEP
    # its second differences are as large as its steps: the ratio would read as boiling
    second = np.abs(np.diff(np.asarray(frames, np.float64), n=2, axis=0)).mean()
    assert second / motion.steps(frames).mean() > 1.3
    assert np.isnan(motion.jitter(frames)) and np.isnan(motion.pace(frames))
    summary = motion.summary(frames)
    assert summary["still"] and summary["jitter"] is None and summary["pace"] is None
    assert summary["mean_step"] == pytest.approx(motion.steps(frames).mean(), abs=1e-4) and len(summary["steps"]) == 11


def test_a_slow_movie_above_the_threshold_is_measured():
    """A fade by a fifth of a level per frame, rounded to 8 bits: slow, but seen."""
    rng = np.random.default_rng(6)
    start = rng.uniform(20, 200, (16, 16, 3))
    frames = [np.round(start + 0.2 * k).astype(np.uint8) for k in range(12)]
    assert motion.STILL_STEP < motion.steps(frames).mean() < 1
    summary = motion.summary(frames)
    assert not summary["still"] and summary["jitter"] is not None and summary["pace"] is not None


def test_the_store_records_a_still_movie_as_null(tmp_path):
    import json

    from sweep.records import FrameResult
    from sweep.store import JobStore

    store = JobStore(tmp_path / "job")
    for index, frame in enumerate(barely_changing(5)):
        store.save(FrameResult(index=index, content_weight=10.0 ** -index, image=frame,
                               content_loss=0.1, style_loss=0.2, tv_loss=0.3, iterations=1))
    store.write_motion()
    written = json.loads((tmp_path / "job" / "motion.json").read_text())
    assert written["still"] is True and written["jitter"] is None and written["pace"] is None


def test_frames_of_another_shape_are_refused():
    with pytest.raises(ValueError, match="shape"):
        motion.jitter([np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4))])


def test_the_crossfade_through_the_keyframes_keeps_them_and_fades_straight_between():
    rng = np.random.default_rng(3)
    frames = rng.uniform(0, 255, (7, 8, 8, 3))
    faded = motion.crossfade(frames, [0, 4, 6])
    assert faded.dtype == np.uint8 and faded.shape == frames.shape
    for key in (0, 4, 6):
        assert np.array_equal(faded[key], np.round(frames[key]))
    np.testing.assert_allclose(faded[1], np.round(0.75 * frames[0] + 0.25 * frames[4]), atol=1)
    np.testing.assert_allclose(faded[5], np.round(0.5 * frames[4] + 0.5 * frames[6]), atol=1)


def test_no_movie_through_the_same_keyframes_has_less_second_difference_than_the_crossfade():
    """The floor: per pixel, the straight crossfade through fixed keyframes has the least
    sum of |second differences| of all paths through them (up to its rounding); a fade
    rounded to 8 bits keeps a little jitter."""
    rng = np.random.default_rng(4)
    keys = [0, 3, 8, 11]
    for _ in range(5):
        frames = np.clip(np.cumsum(rng.normal(0, 6, (12, 6, 6, 3)), axis=0) + 128, 0, 255)
        second = lambda movie: np.abs(np.diff(np.asarray(movie, np.float64), n=2, axis=0)).sum()
        assert second(motion.crossfade(frames, keys)) < second(np.round(frames))
    assert motion.jitter(motion.crossfade(fade(), [0, 9])) < 0.15


def test_a_crossfade_needs_both_ends_as_keyframes():
    with pytest.raises(ValueError, match="first and the last"):
        motion.crossfade(np.zeros((5, 2, 2, 3)), [0, 2])
