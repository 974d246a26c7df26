"""Configs that look valid but used to crash after writing, and inputs that explode
(issue 14, classes 6, 7 and 10): each is refused up front, `--dry-run` included, with
exactly one line on stderr, exit 2, nothing written, before TensorFlow is imported."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from tests.test_reliability import _bad_config, _config, _run, _snapshot, _write_config

BILLION_LAUGHS = "content: photo.png\nstyles: {paint: paint.png}\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + k)}: &{chr(98 + k)} [{', '.join(['*' + chr(97 + k)] * 10)}]\n" for k in range(8)) \
    + "sweep: {content_weight: {steps: 3}}\n"


def _long_image(size):
    def make(path, root):
        Image.new("RGB", size, (200, 100, 50)).save(path)
    return make


def _with(name, make, change):
    def apply(root):
        make(root / name, root)
        return change
    return apply


PREFLIGHT = {
    # id: (config change, extra args, expected text)
    "max_size 16 on the 4:3 sample": ({"content": "sample:grace_hopper", "image": {"max_size": 16}}, [],
                                      "needs at least 16 px on the short side; set image.max_size "
                                      "(for `sweep pick`: --size) to at least 19"),
    "photo 10000 x 10": (_with("long.png", _long_image((10000, 10)), {"content": "long.png"}), [],
                         "crop it to a less elongated shape"),
    "painting 10000 x 10": (_with("long.png", _long_image((10000, 10)), {"styles": {"paint": "long.png"}}), [],
                            "painting"),
    "dry-run of a photo 10000 x 10": (_with("long.png", _long_image((10000, 10)), {"content": "long.png"}),
                                      ["--dry-run"], "needs at least 16 px"),
    "linear stop 0": ({"sweep": {"content_weight": {"start": 10, "stop": 0, "spacing": "linear"}}}, [],
                      "'sweep.content_weight.start' and 'stop' must be > 0"),
    "negative seed with noise": ({"seed": -1, "init": "noise"}, [], "'seed' must be between 0 and 2^63 - 1"),
    "huge movie.hold": ({"movie": {"hold": 1e9}}, [], "'movie.hold' must be at most 60"),
    "movie of too many frames": ({"movie": {"crossfade": 100, "fps": 120, "hold": 60},
                                  "sweep": {"content_weight": {"steps": 200}}}, [], "the movie would have"),
    "steps 10^9": ({"sweep": {"content_weight": {"steps": 1_000_000_000}}}, [], "at most 10000"),
    "iterations 10^12": ({"optimizer": {"iterations": 10**12}}, [], "'optimizer.iterations' must be at most"),
    "integer of 300 digits": ({"optimizer": {"iterations": 10**300}}, [], "integer of 301 digits"),
    "float field given 400 digits": ({"sweep": {"content_weight": {"start": 10**400}}}, [], "integer of 401 digits"),
    "integer of 5000 digits": ("content: photo.png\nstyles: {paint: paint.png}\nseed: " + "9" * 5000 + "\n", [],
                               "Exceeds the limit"),
    "billion laughs": (BILLION_LAUGHS, [], "expands to more than 100000 values"),
    "deeply nested list": ("content: photo.png\nstyles: {paint: paint.png}\nseed: " + "[" * 3000 + "]" * 3000
                           + "\n", [], "nested too deeply"),
    "nested 40 deep": ("content: photo.png\nstyles: {paint: paint.png}\nseed: " + "[" * 40 + "]" * 40 + "\n", [],
                       "nested more than 32 levels deep"),
    "alias containing itself": ("content: photo.png\nstyles: {paint: paint.png}\nloop: &l [*l]\n", [],
                                "contains itself"),
    "huge --set value": ({}, ["--set", "seed=" + "[" * 3000 + "]" * 3000], "'seed' must be an integer"),
}


@pytest.mark.parametrize("case", list(PREFLIGHT), ids=list(PREFLIGHT))
def test_refused_up_front_in_one_line(tmp_path, case):
    change, extra, expected = PREFLIGHT[case]
    config_path = _bad_config(tmp_path, change)
    before = _snapshot(tmp_path)
    code = ("import sys; from sweep.cli import main; rc = main(sys.argv[1:]); "
            "sys.exit(10 + rc if 'tensorflow' in sys.modules or 'keras' in sys.modules else rc)")
    result = subprocess.run([sys.executable, "-c", code, "run", config_path.name, "--out", "out", *extra],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert expected in lines[0], lines[0]
    assert len(lines[0]) < 400 and result.stdout == ""
    assert _snapshot(tmp_path) == before


@pytest.mark.slow
def test_a_refusal_after_tensorflow_is_imported_is_still_one_line(tmp_path):
    """The store refuses another config's frames after the weights were resolved and
    Keras imported: no `weights:` line, no library warning before the error."""
    _write_config(tmp_path, _config(tmp_path, steps=2, iterations=2))
    assert _run("run", "c.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    result = _run("run", "c.yaml", "--out", "out", "--set", "optimizer.iterations=3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and "different config" in result.stderr


def test_the_reliability_battery_replays_cases_and_prints_one_summary_line():
    from tests.conftest import REPO

    result = subprocess.run([sys.executable, str(REPO / "scripts" / "reliability_battery.py"), "-k", "config is a"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "cases 3, held 3, failed 0"
