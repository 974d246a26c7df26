"""scripts/bench_morph.py, the issue's measuring tool, on a tiny real case: every setup
runs and the printed JSON carries the measures the docs quote."""
import json
import subprocess
import sys

import numpy as np
import pytest

from sweep.images import load_image, save_png

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_bench_morph_measures_both_setups_against_the_reference(real_weights, tmp_path):
    # another photo than the built-in one (--photo): the built-in photo, mirrored and cropped
    photo = tmp_path / "photo.png"
    save_png(photo, np.ascontiguousarray(load_image("sample:grace_hopper")[40:-40, ::-1]))
    command = [sys.executable, str(REPO / "scripts" / "bench_morph.py"), "--size", "32", "--frames", "6",
               "--iterations", "20", "--pairs", "brushstrokes", "--setups", "content", "keyframes", "even", "reference",
               "--photo", str(photo)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-2000:]
    printed = json.loads(completed.stdout.strip().splitlines()[-1])
    assert printed["case"]["photo"] == str(photo)
    rows = {row["setup"]: row for row in printed["rows"]}
    # the first frame is that photo (against the built-in one, unmirrored, it would score ~12 dB)
    assert rows["even"]["first_psnr_db"] > 25
    assert set(rows) == {"content", "keyframes", "even", "reference"}
    keyframes = rows["keyframes"]
    assert len(keyframes["losses"]) == len(keyframes["loss_gaps"]) == 6
    assert min(keyframes["loss_gaps"]) >= 0 and keyframes["worst_loss_gap"] == max(keyframes["loss_gaps"])
    # The baseline runs every frame from the photo with the full budget; keyframes run
    # their in-betweens on an eighth of it.
    assert keyframes["frame_iterations"] < rows["content"]["frame_iterations"]
    # spacing: even places the in-betweens after the same keyframes: other weights, same ends
    even = rows["even"]
    assert len(even["weights"]) == 6 and even["weights"][0] == keyframes["weights"][0]
    assert even["weights"][-1] == keyframes["weights"][-1] and even["frame_iterations"] > 0
    assert keyframes["frame_iterations_vs_content"] < 1 and keyframes["cpu_seconds"] > 0
    for row in rows.values():
        assert row["jitter"] >= 0 and row["pace"] >= 1 and 0 < row["last_content_loss"] < 2
    # the crossfade through each run's own keyframes: the floor of its jitter
    assert rows["content"]["jitter_floor"] is None
    assert 0 <= keyframes["jitter_floor"] <= keyframes["jitter"] and 0 <= even["jitter_floor"] <= even["jitter"]
