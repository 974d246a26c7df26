"""Resumed frames are batched exactly as in a clean run, so they come out bit-identical."""
import pytest

from sweep.plan import chunk_frames

from ._resume import resume_matches_clean

CONFIG = """
content: sample:grace_hopper
styles: {rings: sample:rings}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 6, spacing: log}}  # weights fixed up front
image: {max_size: 32}
optimizer: {iterations: 10}
movie: {formats: []}
runtime: {chunk_size: 3, progress: false}
"""


def test_chunks_lie_on_a_fixed_grid_of_indices():
    frames = [(0, 100.0), (2, 10.0), (3, 3.0), (5, 1.0), (6, 0.3)]
    assert chunk_frames(frames, 3) == [[(0, 100.0), (2, 10.0)], [(3, 3.0), (5, 1.0)], [(6, 0.3)]]
    assert chunk_frames(frames, 10) == [frames]


@pytest.mark.slow
@pytest.mark.parametrize("init", ["content", "chain"])
def test_a_resumed_chunk_is_bit_identical_to_the_clean_run(tmp_path, real_weights, init):
    """Under `init: chain` the resumed chunk starts from the stored frame 2, as the
    clean run's second chunk started from its in-memory result."""
    # the whole second chunk lost, as after a kill
    result = resume_matches_clean(tmp_path, CONFIG + f"init: {init}\n", lambda record: record["index"] < 3)
    assert result.optimised == 3


@pytest.mark.slow
def test_a_smaller_chunk_first_does_not_change_the_later_chunks(tmp_path, real_weights):
    """Resuming frames 1-5 of chunks of 2 batches [1], [2, 3], [4, 5]: the one-frame
    batch is compiled first. TensorFlow's reduce_retracing then compiled the two-frame
    batches for any batch size, which rounds differently (up to 14/255 at 32 px); every
    shape gets its own exact trace, so the resumed frames match the clean run's bit for bit."""
    config = CONFIG.replace("chunk_size: 3", "chunk_size: 2").replace(
        "optimizer: {iterations: 10}", "optimizer: {iterations: 30, tolerance: 0}")
    result = resume_matches_clean(tmp_path, config, lambda record: record["index"] < 1)
    assert result.optimised == 5
