"""Resumed frames are batched exactly as in a clean run, so they come out bit-identical."""
import json
import shutil

import pytest

import sweep
from sweep.plan import chunk_frames

CONFIG = """
content: sample:grace_hopper
styles: {rings: sample:rings}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 6}}
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
    (tmp_path / "c.yaml").write_text(CONFIG + f"init: {init}\n")
    clean = sweep.run(tmp_path / "c.yaml", tmp_path / "clean").out_dir / "rings"
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(clean.parent, resumed_dir)
    job = resumed_dir / "rings"
    records = json.loads((job / "frames.json").read_text())
    lost = [r for r in records if r["index"] >= 3]  # the whole second chunk, as after a kill
    for record in lost:
        (job / record["file"]).unlink()
    (job / "frames.json").write_text(json.dumps([r for r in records if r["index"] < 3]))

    result = sweep.run(tmp_path / "c.yaml", resumed_dir)
    assert result.optimised == 3
    for record in records:
        assert (job / record["file"]).read_bytes() == (clean / record["file"]).read_bytes(), record["file"]


@pytest.mark.slow
def test_a_smaller_chunk_first_does_not_change_the_later_chunks(tmp_path, real_weights):
    """Resuming frames 1-5 of chunks of 2 batches [1], [2, 3], [4, 5]: the one-frame
    batch is compiled first. TensorFlow's reduce_retracing then compiled the two-frame
    batches for any batch size, which rounds differently (up to 14/255 at 32 px); every
    shape gets its own exact trace, so the resumed frames match the clean run's bit for bit."""
    config = CONFIG.replace("chunk_size: 3", "chunk_size: 2").replace(
        "optimizer: {iterations: 10}", "optimizer: {iterations: 30, tolerance: 0}")
    (tmp_path / "c.yaml").write_text(config)
    clean = sweep.run(tmp_path / "c.yaml", tmp_path / "clean").out_dir / "rings"
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(clean.parent, resumed_dir)
    job = resumed_dir / "rings"
    records = json.loads((job / "frames.json").read_text())
    for record in records[1:]:
        (job / record["file"]).unlink()
    (job / "frames.json").write_text(json.dumps(records[:1]))

    result = sweep.run(tmp_path / "c.yaml", resumed_dir)
    assert result.optimised == 5
    for record in records:
        assert (job / record["file"]).read_bytes() == (clean / record["file"]).read_bytes(), record["file"]
