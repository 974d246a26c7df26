"""One real tiny run (real VGG16 weights) shared by the pick, report and browser tests:
the sample photo at 48 px, 2 artists x 4 frames, 10 L-BFGS iterations, progress
snapshots every 3 steps. The second artist's name is full of HTML metacharacters
(allowed by config.check_safe_name, which only keeps names inside the run directory)."""
from __future__ import annotations

from pathlib import Path

ARTISTS = {"brushstrokes": "sample:brushstrokes", "<i>x&y\"q'": "sample:stained_glass"}
NASTY = "<i>x&y\"q'"
FRAMES = 4            # content weights 100, 10, 1, 0.1
ITERATIONS = 10
PROGRESS_EVERY = 3
SIZE = 48

_CACHE: dict[str, Path] = {}


def tiny_run(tmp_path_factory) -> Path:
    """Run it once per test session; returns the run directory."""
    if "run" in _CACHE:
        return _CACHE["run"]
    import yaml

    import sweep.api

    base = tmp_path_factory.mktemp("tiny_run")
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "content": "sample:grace_hopper",
        "styles": ARTISTS,
        "sweep": {"content_weight": {"start": 100, "stop": 0.1, "steps": FRAMES, "spacing": "log"}},
        "image": {"max_size": SIZE},
        "optimizer": {"name": "lbfgs", "iterations": ITERATIONS},
        # in-betweens run 3 of the 10 iterations: enough snapshots for a progress GIF
        "keyframes": {"in_between_fraction": 0.3},
        "movie": {"fps": 4, "hold": 0.5, "formats": ["mp4", "gif"], "progress_every": PROGRESS_EVERY},
        "runtime": {"progress": False},
    }, sort_keys=False))
    result = sweep.api.run(config, base / "out", progress=False, log=lambda message: None)
    assert not result.failed
    _CACHE["run"] = result.out_dir
    return result.out_dir
