"""sweep.samples: the built-in photo and drawn artworks, and scripts/draw_samples.py."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from sweep import samples
from sweep.errors import SweepError
from sweep.images import load_image, read_png
from sweep.samples import SAMPLE_PHOTOS, SAMPLE_STYLES, sample_image, sample_names

REPO = Path(__file__).resolve().parent.parent


def test_names():
    assert SAMPLE_PHOTOS == ("grace_hopper",)
    assert len(SAMPLE_STYLES) >= 3
    assert sample_names() == SAMPLE_PHOTOS + SAMPLE_STYLES
    assert len(set(sample_names())) == len(sample_names())
    for name in sample_names():
        assert name.isidentifier() and name == name.lower()


@pytest.mark.parametrize("name", sample_names())
def test_shape_and_type(name):
    image = sample_image(name)
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 256
    assert image.flags.c_contiguous and image.flags.writeable


@pytest.mark.parametrize("name", sample_names())
def test_callers_get_their_own_copy(name):
    first = sample_image(name)
    first[:] = 0
    assert sample_image(name).any()


@pytest.mark.parametrize("name", SAMPLE_STYLES)
def test_artworks_are_deterministic_and_quick(name):
    cached = sample_image(name)
    samples._cached.cache_clear()
    start = time.perf_counter()
    again = sample_image(name)
    seconds = time.perf_counter() - start
    np.testing.assert_array_equal(again, cached)
    np.testing.assert_array_equal(samples._ARTWORKS[name](), cached)
    assert seconds < 3.0, f"{name} took {seconds:.2f} s to draw"


def test_artworks_differ_from_each_other():
    arts = [sample_image(name).astype(np.int16) for name in SAMPLE_STYLES]
    for i in range(len(arts)):
        for j in range(i + 1, len(arts)):
            assert np.abs(arts[i] - arts[j]).mean() > 30


def _hsv(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(image).convert("HSV"), dtype=np.float64)


@pytest.mark.parametrize("name", SAMPLE_STYLES)
def test_artworks_are_colourful(name):
    image = sample_image(name)
    hsv = _hsv(image)
    assert hsv[..., 1].mean() > 100, "mean saturation (0..255) too low"
    assert image.reshape(-1, 3).std(axis=0).min() > 35, "a channel is nearly flat"
    # Several distinct hues among the saturated pixels, not one tint.
    saturated = hsv[..., 1] > 80
    counts = np.histogram(hsv[..., 0][saturated], bins=12, range=(0, 256))[0]
    p = counts / counts.sum()
    entropy = -(p[p > 0] * np.log2(p[p > 0])).sum()
    assert entropy > 1.5, f"hue entropy {entropy:.2f} bits"


@pytest.mark.parametrize("name", SAMPLE_STYLES)
def test_artworks_are_textured(name):
    image = sample_image(name)
    pixels = image.astype(np.float64)
    # Fine scale: neighbouring pixel differences.
    fine = np.abs(np.diff(pixels, axis=0)).mean() + np.abs(np.diff(pixels, axis=1)).mean()
    assert fine > 12
    # Middle scale: energy left after removing a blur.
    gray = Image.fromarray(image).convert("L")
    blurred = np.asarray(gray.filter(ImageFilter.GaussianBlur(2)), dtype=np.float64)
    assert np.abs(np.asarray(gray, dtype=np.float64) - blurred).mean() > 5
    # Coarse scale: the 32x32 block means vary strongly across the picture.
    rows, cols = image.shape[0] // 32, image.shape[1] // 32
    blocks = pixels[:rows * 32, :cols * 32].reshape(rows, 32, cols, 32, 3).mean(axis=(1, 3))
    assert blocks.std(axis=(0, 1)).max() > 20


def test_grace_hopper_is_matplotlibs_photo():
    image = sample_image("grace_hopper")
    np.testing.assert_array_equal(image, load_image(samples._grace_hopper_path()))
    assert image.shape == (600, 512, 3)
    assert image.std() > 30


def test_unknown_name_lists_valid_names():
    with pytest.raises(SweepError) as info:
        sample_image("mona_lisa")
    message = str(info.value)
    assert "mona_lisa" in message
    for name in sample_names():
        assert name in message


def test_sample_prefix_in_load_image():
    for name in sample_names():
        np.testing.assert_array_equal(load_image(f"sample:{name}"), sample_image(name))
    with pytest.raises(SweepError, match="valid samples"):
        load_image("sample:")


def _draw_samples_module():
    spec = importlib.util.spec_from_file_location("draw_samples", REPO / "scripts" / "draw_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_draw_samples_script(tmp_path, capsys):
    out = tmp_path / "samples"
    assert _draw_samples_module().main(["--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in sample_names())
    for name in sample_names():
        np.testing.assert_array_equal(read_png(out / f"{name}.png"), sample_image(name))
    printed = capsys.readouterr().out
    assert all(name in printed for name in sample_names())
