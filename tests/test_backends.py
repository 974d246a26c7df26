"""The same config makes a movie under every Keras backend that is installed (its
artist is a blend of two paintings with the photo's colours, so every artist control runs)."""
import importlib.util
import json
import os
import subprocess
import sys

import imageio.v3 as iio
import pytest

from sweep.render.movie import movie_frame_count

from .conftest import REPO, run_cli

pytestmark = pytest.mark.slow

CONFIG = """
content: sample:grace_hopper
styles: {rings: {paintings: [sample:rings, sample:brushstrokes], weights: [0.7, 0.3], colors: photo}}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 3}}
image: {max_size: 32}
optimizer: {iterations: 4}
movie: {fps: 4, hold: 0.5, formats: [mp4]}
"""


@pytest.mark.parametrize("backend, precision", [("jax", "float32"), ("torch", "float32"),
                                                ("jax", "bfloat16"), ("torch", "bfloat16")])
def test_sweep_runs_under_backend(tmp_path, backend, precision, real_weights):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (scripts/test.sh installs torch; `pip install jax` for jax)")
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG + f"model: {{precision: {precision}}}\n")
    result = run_cli("run", config, "--out", tmp_path / "out", env={"KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-2000:]
    job = tmp_path / "out" / "rings"
    records = json.loads((job / "frames.json").read_text())
    assert [r["index"] for r in records] == [0, 1, 2]
    assert all(r["style_loss"] > 0 and r["content_loss"] >= 0 for r in records)
    assert len(list(iio.imiter(job / "movie.mp4"))) == movie_frame_count(3, fps=4, hold=0.5, crossfade=0,
                                                                          boomerang=False)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_hand_written_gradients_under_backend(backend):
    """The losses' hand-written gradients (keras.ops.custom_gradient) are checked
    against finite differences under each backend, each in its own process."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/test_losses.py::test_hand_written_gradients_match_finite_differences",
                             "tests/test_artists.py::test_blend_style_loss_and_its_gradient"],
                            capture_output=True, text=True, cwd=REPO, timeout=300,
                            env=dict(os.environ, KERAS_BACKEND=backend))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def _cached_programs(directory):
    return {p.name for p in directory.glob("*-cache")} if directory.is_dir() else set()


def test_jax_keeps_compiled_steps_on_disk(tmp_path, real_weights):
    """Under JAX a second run of the same shapes compiles nothing: every XLA program
    comes from `$KERAS_HOME/sweep/jax_cache`; a cache directory set for JAX wins."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    home = tmp_path / "keras"
    home.mkdir()
    (home / "models").symlink_to(real_weights.path.parent, target_is_directory=True)
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG + "runtime: {chunk_size: 3}\n")  # the same shapes, whatever memory is free
    env = {"KERAS_BACKEND": "jax", "KERAS_HOME": str(home)}
    cache = home / "sweep" / "jax_cache"

    first = run_cli("run", config, "--out", tmp_path / "first", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    programs = _cached_programs(cache)
    assert any(name.startswith("jit_objective") for name in programs), sorted(programs)

    second = run_cli("run", config, "--out", tmp_path / "second", env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    added = _cached_programs(cache) - programs
    # The objective (0.1-0.4 s to compile) comes from the cache. Small eager helpers
    # compile in about the caching threshold (0.1 s), so on a loaded machine the second
    # run may cache one that the first compiled a little faster: those are not counted.
    assert programs <= _cached_programs(cache)
    assert not [name for name in added if name.startswith("jit_objective")], sorted(added)
    programs = _cached_programs(cache)

    own = tmp_path / "own_cache"
    third = run_cli("run", config, "--out", tmp_path / "third",
                    env={**env, "JAX_COMPILATION_CACHE_DIR": str(own), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"})
    assert third.returncode == 0, third.stderr[-2000:]
    assert any(name.startswith("jit_objective") for name in _cached_programs(own))
    assert _cached_programs(cache) == programs
