"""The benchmark's rules for charging a tutorial recipe's frames (scripts/bench.py)."""
import importlib.util

import pytest

from .conftest import REPO


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", REPO / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frames_that_ran_out_are_charged_what_they_took(bench):
    how = ["reached", "budget (not reached: a lower bound)"]
    assert bench.charged_seconds(how, [3.0, 70.0], (0, 1), per_step=0.07, budget=1000) == [3.0, 70.0]


def test_a_capped_frame_is_charged_the_mean_of_the_full_frames_that_ran_out(bench):
    how = ["reached", "capped", "diverged", "reached"]
    charged = bench.charged_seconds(how, [40.0, 2.0, 0.5, 60.0], (0, 2, 3), per_step=0.07, budget=1000)
    assert charged[1] == pytest.approx(50.0)  # the diverged full frame is not in the mean


def test_without_full_frames_a_capped_frame_is_charged_its_budget(bench):
    assert bench.charged_seconds(["capped"], [2.0], (), per_step=0.16, budget=4000) == [pytest.approx(640.0)]


def test_a_diverged_frame_is_charged_its_whole_budget(bench):
    charged = bench.charged_seconds(["diverged", "reached"], [0.6, 30.0], (0, 1), per_step=0.16, budget=4000)
    assert charged == [pytest.approx(640.0), 30.0]


def test_flicker_is_the_mean_absolute_change_between_consecutive_frames(monkeypatch):
    import numpy as np

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import bench_init

    frames = np.zeros((3, 2, 2, 3), np.uint8)
    frames[1], frames[2] = 10, 4  # 10 -> 4 must count 6, not uint8's wrapped 250
    assert bench_init.flicker(frames) == [10.0, 6.0]
