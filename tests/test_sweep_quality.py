"""A real sweep with the real VGG16 weights at 64 px: the morph must span photo -> style."""
import json

import imageio.v3 as iio
import pytest

import sweep
from sweep import morph
from sweep.artist import Artist
from sweep.images import load_image, resize_max_side
from sweep.render.movie import movie_frame_count

from .conftest import psnr

pytestmark = pytest.mark.slow

CONFIG = """
content: sample:grace_hopper
styles: {brushstrokes: sample:brushstrokes}
sweep: {content_weight: {start: 100, stop: 0.1, steps: 5}}
image: {max_size: 64}
optimizer: {iterations: 80}
movie: {fps: 6, hold: 0.5, crossfade: 1}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, real_weights):
    root = tmp_path_factory.mktemp("quality")
    (root / "sweep.yaml").write_text(CONFIG)
    return sweep.run(root / "sweep.yaml", root / "out", progress=False)


@pytest.fixture(scope="module")
def records(run):
    return json.loads((run.out_dir / "brushstrokes" / "frames.json").read_text())


def test_first_frame_is_close_to_the_photo(run, records):
    photo = resize_max_side(load_image("sample:grace_hopper"), 64)
    first = iio.imread(run.out_dir / "brushstrokes" / records[0]["file"])
    assert records[0]["content_weight"] == pytest.approx(100)
    assert psnr(first, photo) >= 30


def test_the_detail_layers_hold_the_photo_end(tmp_path, real_weights):
    """Without model.detail_layers, the layout layer alone lets the style and TV terms
    redraw the fine detail of the first frame (about 20 dB from the photo)."""
    photo = resize_max_side(load_image("sample:grace_hopper"), 64)
    distances = {}
    for detail in ("[]", "[block1_conv2]"):
        root = tmp_path / (detail.strip("[]") or "none")
        root.mkdir()
        (root / "sweep.yaml").write_text(CONFIG.replace("steps: 5", "steps: 1") + f"model: {{detail_layers: {detail}}}\n")
        result = sweep.run(root / "sweep.yaml", root / "out", progress=False)
        record = json.loads((result.out_dir / "brushstrokes" / "frames.json").read_text())[0]
        distances[detail] = psnr(iio.imread(result.out_dir / "brushstrokes" / record["file"]), photo)
    assert distances["[]"] < 26 and distances["[block1_conv2]"] >= 30, distances


def test_a_photo_of_one_colour_still_takes_the_style(tmp_path, real_weights):
    """A blank canvas has no texture (total variation 0): the TV loss is then divided by
    the painting's over losses.SMOOTHEST_PHOTO, not by 0, so the style can grow on it."""
    from PIL import Image

    Image.new("RGB", (48, 32), (128, 128, 128)).save(tmp_path / "blank.png")
    config = CONFIG.replace("sample:grace_hopper", str(tmp_path / "blank.png")).replace(
        "start: 100, stop: 0.1, steps: 5", "start: 100, stop: 0.01, steps: 2")
    (tmp_path / "sweep.yaml").write_text(config.replace("iterations: 80", "iterations: 40"))
    result = sweep.run(tmp_path / "sweep.yaml", tmp_path / "out", progress=False)
    first, last = json.loads((result.out_dir / "brushstrokes" / "frames.json").read_text())
    frame = iio.imread(result.out_dir / "brushstrokes" / last["file"])
    assert first["style_loss"] == pytest.approx(1.0, abs=0.05)   # the photo end is the blank photo
    assert last["style_loss"] < 0.7 and frame.std() > 10, (last, frame.std())


def test_a_night_photo_takes_the_style_nearly_as_a_bright_one_does(tmp_path, real_weights):
    """The built-in photo at 4% of its brightness is some 1500 times smoother than
    brushstrokes: with the TV divisor at a thirtieth of the painting's, its style end was
    a blurred wash whose style loss was 12 times the bright photo's (48 px, 80 or 200
    iterations alike). At a tenth, the texture costs it no more than 10 x tv_weight: 6 times."""
    import numpy as np
    from PIL import Image

    dark = (resize_max_side(load_image("sample:grace_hopper"), 48).astype(np.float64) * 0.04).round()
    Image.fromarray(dark.astype(np.uint8)).save(tmp_path / "night.png")
    style_loss = {}
    for name, photo in (("bright", "sample:grace_hopper"), ("night", str(tmp_path / "night.png"))):
        root = tmp_path / name
        root.mkdir()
        (root / "sweep.yaml").write_text(CONFIG.replace("sample:grace_hopper", photo).replace(
            "start: 100, stop: 0.1, steps: 5", "start: 0.001, stop: 0.001, steps: 1").replace("64", "48"))
        result = sweep.run(root / "sweep.yaml", root / "out", progress=False)
        style_loss[name] = json.loads((result.out_dir / "brushstrokes" / "frames.json").read_text())[0]["style_loss"]
    assert style_loss["night"] < 8 * style_loss["bright"], style_loss


def test_last_frame_takes_the_style(records):
    assert records[-1]["content_weight"] == pytest.approx(0.1)
    assert records[-1]["style_loss"] <= 0.3 * records[0]["style_loss"]


def test_content_loss_rises_along_the_sweep(records):
    content = [r["content_loss"] for r in records]
    assert all(a < b for a, b in zip(content, content[1:])), content


def test_outputs_layout(run, records):
    job = run.out_dir / "brushstrokes"
    # two keyframes, both ends: the three in-betweens placed between them (spacing: even)
    weights = [100.0, *morph.segment_weights(100.0, 0.1, 3), 0.1]
    assert [r["file"] for r in records] == [f"frames/f{i:03d}_cw-{w:.3f}.png" for i, w in enumerate(weights)]
    for record in records:
        assert {"index", "content_weight", "content_loss", "style_loss", "file"} <= set(record)
        assert iio.imread(job / record["file"]).shape == (64, 55, 3)
    expected = movie_frame_count(5, fps=6, hold=0.5, crossfade=1, boomerang=False)
    frames = list(iio.imiter(job / "movie.mp4"))
    assert len(frames) == expected
    assert (job / "movie.gif").stat().st_size > 0 and (job / "sheet.png").stat().st_size > 0
    saved = sweep.load_config(run.out_dir / "config.yaml")
    assert saved.image.max_size == 64
    assert saved.styles == {"brushstrokes": Artist(paintings=["sample:brushstrokes"], weights=[1.0])}


def test_coarse_to_fine_keeps_the_photo_detail(tmp_path, real_weights):
    """With `optimizer.scales`, only the frame's change from the photo is upsampled
    between scales; the photo's own detail comes back at full size at once, so the
    photo end of a coarse-to-fine sweep is as close to the photo as a plain one."""
    (tmp_path / "c2f.yaml").write_text(CONFIG.replace(
        "optimizer: {iterations: 80}", "optimizer: {iterations: 30, scales: [0.5, 1.0], coarse_fraction: 0.5}")
        .replace("steps: 5", "steps: 2"))
    result = sweep.run(tmp_path / "c2f.yaml", tmp_path / "out", progress=False)
    records = json.loads((result.out_dir / "brushstrokes" / "frames.json").read_text())
    photo = resize_max_side(load_image("sample:grace_hopper"), 64)
    first = iio.imread(result.out_dir / "brushstrokes" / records[0]["file"])
    last = iio.imread(result.out_dir / "brushstrokes" / records[-1]["file"])
    assert first.shape == photo.shape == last.shape
    assert psnr(first, photo) >= 25 > psnr(last, photo)


def test_bfloat16_sweep_matches_float32(tmp_path, records):
    """`model.precision: bfloat16` runs VGG16 in bfloat16 with float32 losses: every
    frame ends within a few percent of the float32 run's objective, and the morph
    still spans photo -> style."""
    (tmp_path / "bf16.yaml").write_text(CONFIG + "model: {precision: bfloat16}\n")
    result = sweep.run(tmp_path / "bf16.yaml", tmp_path / "out", progress=False)
    half = json.loads((result.out_dir / "brushstrokes" / "frames.json").read_text())

    def objective(record):
        return record["content_weight"] * record["content_loss"] + record["style_loss"] + 0.1 * record["tv_loss"]

    for in_bfloat16, in_float32 in zip(half, records):
        assert objective(in_bfloat16) == pytest.approx(objective(in_float32), rel=0.05), (in_bfloat16, in_float32)
    photo = resize_max_side(load_image("sample:grace_hopper"), 64)
    assert psnr(iio.imread(result.out_dir / "brushstrokes" / half[0]["file"]), photo) >= 20
    content = [r["content_loss"] for r in half]
    assert all(a < b for a, b in zip(content, content[1:])), content
    assert sweep.load_config(result.out_dir / "config.yaml").model.precision == "bfloat16"
