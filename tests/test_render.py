"""Renderers: movie (MP4/GIF), contact sheet + knee rule, artist comparison.

Every fixture is a tiny synthetic frame store (24x32 frames) written here.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image, ImageDraw

from sweep.atomic import TEMP_MARKER
from sweep.errors import SweepError
from sweep.render import render_job
from sweep.render.compare import (
    TABLE_MAX_WIDTH, _grid_metrics, compose_grid, compose_table, grid_boxes, grid_shape, movie_tile_size,
    write_compare,
)
from sweep import motion
from sweep.balance import suggest_balanced
from sweep.layout import load_records
from sweep.render.frames import (
    ACCENT, covering_fonts, draw_label, fit_tile, font, label_font_size, load_frames, text_size, title_font,
    upscale_factor, word_spaced,
)
from sweep.weight_text import format_weight
from sweep.render.movie import (
    gif_durations, iter_movie_frames, movie_frame_count, movie_plan, step_label, write_movie,
)
from sweep.render.sheet import compose_sheet, motion_text, sheet_columns, tradeoff_plot, write_sheet
from sweep.store import JobStore

H, W = 24, 32
RED, GREEN, BLUE, GREY = (200, 40, 40), (40, 200, 40), (40, 40, 200), (128, 128, 128)


# --------------------------------------------------------------------------- fixtures

def write_job(job: Path, colours, weights=None, losses=None, size=(H, W)) -> Path:
    """A frame store: one solid-colour (or given array) frame per weight, sweep order."""
    job.mkdir(parents=True, exist_ok=True)
    (job / "frames").mkdir(exist_ok=True)
    n = len(colours)
    weights = list(weights if weights is not None else np.geomspace(100, 0.1, n))
    if losses is None:
        a = np.linspace(0, 1, n)
        losses = list(zip(a ** 2, (1 - a) ** 2))
    records = []
    for i, (colour, cw, (cl, sl)) in enumerate(zip(colours, weights, losses)):
        if isinstance(colour, np.ndarray):
            image = colour
        else:
            image = np.zeros((*size, 3), np.uint8)
            image[:] = colour
        name = f"frames/f{i:03d}_cw-{cw:.3f}.png"
        Image.fromarray(image).save(job / name)
        records.append({"index": i, "content_weight": round(float(cw), 3), "content_loss": cl,
                        "style_loss": sl, "file": name})
    (job / "frames.json").write_text(json.dumps(records))
    return job


def records_from(content, style, weights=None):
    n = len(content)
    weights = weights if weights is not None else np.geomspace(100, 0.1, n)
    return [{"index": i, "content_weight": float(w), "content_loss": c, "style_loss": s, "file": "x"}
            for i, (w, c, s) in enumerate(zip(weights, content, style))]


def solid(colour, size=(H, W)):
    image = np.zeros((*size, 3), np.uint8)
    image[:] = colour
    return image


def decode_mp4(path: Path):
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(chunk, np.uint8).reshape(h, w, 3) for chunk in reader]
    return meta, frames


def ffmpeg_info(path: Path) -> str:
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                            capture_output=True, text=True)
    return result.stderr


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        boxes.append(kind)
        if size == 0:
            break
        pos += size
    return boxes


def gif_frames(path: Path):
    """(frames as RGB arrays, per-frame durations in ms, loop) of an animated GIF."""
    with Image.open(path) as image:
        frames, durations = [], []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")))
            durations.append(image.info["duration"])
        return frames, durations, image.info.get("loop")


def no_temporaries(directory: Path) -> bool:
    return not [p for p in directory.rglob(f"*{TEMP_MARKER}*")]


# --------------------------------------------------------------------------- frames.py

def test_load_records_and_frames(tmp_path):
    job = write_job(tmp_path / "job", [RED, GREEN, BLUE])
    records = load_records(job)
    assert [r["index"] for r in records] == [0, 1, 2]
    frames = load_frames(job)
    assert len(frames) == 3 and frames[0].shape == (H, W, 3) and frames[0].dtype == np.uint8
    assert tuple(frames[2][0, 0]) == BLUE


def test_load_records_errors(tmp_path):
    with pytest.raises(SweepError, match="frames.json is missing"):
        load_records(tmp_path)
    (tmp_path / "frames.json").write_text(json.dumps([{"index": 0, "file": "x.png"}]))
    with pytest.raises(SweepError, match="content_weight"):
        load_records(tmp_path)
    (tmp_path / "frames.json").write_text(json.dumps([{"index": 0, "content_weight": 1.0, "file": "x.png"}]))
    with pytest.raises(SweepError, match="missing"):
        load_frames(tmp_path)


def test_format_weight():
    assert [format_weight(w) for w in (100, 31.62, 3.162, 0.3162, 0.1, 1000, 0.001)] == \
        ["100", "31.6", "3.16", "0.316", "0.1", "1000", "0.001"]


def test_draw_label_keeps_the_value_on_tiny_images():
    image = np.full((40, 40, 3), 200, np.uint8)
    out = draw_label(image, "content weight 3.16")
    changed = np.argwhere(np.any(out != image, axis=2))
    assert changed[:, 1].max() < 39


def _ink(face, letter: str) -> bytes:
    image = Image.new("L", (40, 40))
    ImageDraw.Draw(image).text((4, 4), letter, font=face, fill=255)
    return image.tobytes()


@pytest.mark.parametrize("name", ["Dürer", "Мунк", "Ἀπελλῆς", "רובין"])
def test_an_artists_name_beyond_ascii_is_drawn_in_its_letters_not_boxes(name):
    """The built-in font has ASCII only: `Dürer` came out `D□rer` in compare.png."""
    assert covering_fonts(name)[0].endswith("DejaVuSans.ttf") and covering_fonts(name, True)[0].endswith("Bold.ttf")
    for face in (font(20, name), title_font(20, name)):
        box = _ink(face, "\ue000")   # a private-use letter no font has: the box a missing letter gets
        assert all(_ink(face, letter) != box for letter in name if not letter.isascii())
    assert _ink(font(20, "content weight"), "u") != _ink(font(20, "content weight"), "\ue000")


def test_a_font_that_will_not_open_at_a_size_is_passed_over(monkeypatch, tmp_path):
    """A colour-emoji font has every emoji but opens at its bitmap sizes only ("invalid pixel
    size"): the name is drawn with the next font that has its letters, or DejaVu's boxes."""
    import sweep.render.frames as frames

    bitmap_only = tmp_path / "ColorEmoji.ttf"
    bitmap_only.write_bytes(b"not a font FreeType opens at 20 px")
    candidates = [str(bitmap_only), frames._dejavu(bold=True)]
    monkeypatch.setattr(frames, "covering_fonts", lambda text, bold=False: candidates)
    frames._covering_face.cache_clear()
    try:
        assert frames.font(20, "🎨 Monet").path.endswith("DejaVuSans-Bold.ttf")   # the next candidate
        candidates.pop()
        frames._covering_face.cache_clear()
        assert frames.font(20, "🎨 Monet").path.endswith("DejaVuSans.ttf")   # none left: DejaVu's boxes
    finally:
        frames._covering_face.cache_clear()


def _blank_runs(text: str, size: int) -> tuple[list[int], int]:
    """The widths of the blank columns between the inked ones of `text` drawn at `size`, and its inked width."""
    image = Image.new("L", (40 * size, 3 * size))
    ImageDraw.Draw(image).text((size, size), text, font=font(size, text), fill=255)
    inked = np.flatnonzero((np.asarray(image) > 64).any(axis=0))
    steps = np.diff(inked)
    return (steps[steps > 1] - 1).tolist(), int(inked[-1] - inked[0] + 1)


@pytest.mark.parametrize("size", [9, 11, 12, 14, 18, 24])
def test_a_label_keeps_its_words_apart(size):
    """The built-in font's space is 0.2 em: at 11 px compare.png's corner read "contentweight",
    its word gap no wider than the gaps between letters."""
    between_letters, _ = _blank_runs("contentweight", size)
    spaced, width = _blank_runs("content weight", size)
    assert max(spaced) >= 2 * max(between_letters) and sorted(spaced)[-2] <= max(between_letters)
    assert abs(text_size("content weight", size)[0] - width) <= 2  # what is measured is what is drawn
    assert word_spaced("#07  cw 3.16") == "#07  cw  3.16"   # a deliberate wide gap is left as it is


@pytest.mark.parametrize("side", [64, 256, 1024])
def test_draw_label_scales_and_fits(side):
    image = np.full((side, side, 3), 200, np.uint8)
    out = draw_label(image, "content weight 3.16", "bottom-left")
    assert out.shape == image.shape and out.dtype == np.uint8
    changed = np.argwhere(np.any(out != image, axis=2))
    assert changed.size, "the label drew nothing"
    # the box stays inside the image and in the bottom-left quadrant area
    assert changed[:, 0].min() > side * 0.5 and changed[:, 1].min() < side * 0.2
    assert changed[:, 0].max() < side - 1 and changed[:, 1].max() < side - 1  # fits inside
    # white text: some pixels are brighter than the background (200) and the dark box
    assert out.max() > 225  # on a 64 px image only "3.16" fits, 9 px digits that never reach 255
    assert label_font_size(1024, 1024) > 3 * label_font_size(256, 256) - 3


def test_draw_label_corners():
    image = np.full((200, 300, 3), 200, np.uint8)
    for corner, (rows, cols) in {"top-left": (slice(0, 100), slice(0, 150)),
                                 "top-right": (slice(0, 100), slice(150, 300)),
                                 "bottom-right": (slice(100, 200), slice(150, 300))}.items():
        out = draw_label(image, "abc", corner)
        diff = np.any(out != image, axis=2)
        assert diff[rows, cols].sum() == diff.sum() > 0, corner
    with pytest.raises(ValueError):
        draw_label(image, "abc", "middle")


# --------------------------------------------------------------------------- movie timing

@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("crossfade", [0, 1, 3])
@pytest.mark.parametrize("hold", [0, 0.25, 1.0])
@pytest.mark.parametrize("boomerang", [False, True])
def test_frame_count_matches_plan(n, crossfade, hold, boomerang):
    plan = movie_plan(n, 12, hold, crossfade, boomerang)
    assert len(plan) == movie_frame_count(n, 12, hold, crossfade, boomerang)


def test_frame_count_values():
    assert movie_frame_count(5, 10, 0, 0, False) == 5
    assert movie_frame_count(5, 10, 1.0, 0, False) == 5 + 2 * 10          # hold: first + last
    assert movie_frame_count(5, 10, 0, 2, False) == 5 + 4 * 2             # crossfade between pairs
    assert movie_frame_count(5, 10, 0, 0, True) == 9                       # turn-around not repeated
    assert movie_frame_count(3, 10, 0.5, 2, True) == 2 * 7 - 1 + 3 * 5
    assert movie_frame_count(1, 12, 0, 5, True) == 1
    for bad in [dict(n_frames=0), dict(fps=0), dict(hold=-1), dict(crossfade=-1), dict(crossfade=1.5)]:
        args = dict(n_frames=3, fps=12, hold=1.0, crossfade=0, boomerang=False) | bad
        with pytest.raises(SweepError):
            movie_frame_count(**args)


def test_plan_hold_and_boomerang_order():
    plan = movie_plan(3, 10, 0.2, 0, True)  # hold = 2 frames
    shown = [a if t == 0 else None for a, b, t in plan]
    assert shown == [0, 0, 0, 1, 2, 2, 2, 1, 0, 0, 0]
    plan = movie_plan(3, 10, 0, 1, True)
    assert [(a, b, t) for a, b, t in plan] == [
        (0, 0, 0), (0, 1, 0.5), (1, 1, 0), (1, 2, 0.5), (2, 2, 0), (1, 2, 0.5), (1, 1, 0), (0, 1, 0.5), (0, 0, 0)]


def test_crossfade_frame_is_average_of_neighbours():
    frames = [solid((0, 100, 255)), solid((100, 0, 55)), solid((255, 255, 255))]
    images = list(iter_movie_frames(frames, None, fps=10, hold=0, crossfade=1, min_short_side=0))
    assert len(images) == 5
    for k in (1, 3):
        expected = (images[k - 1].astype(np.int32) + images[k + 1].astype(np.int32)) / 2
        assert np.abs(images[k].astype(np.int32) - expected).max() <= 0.5
    # three in-between frames are evenly spaced
    images = list(iter_movie_frames(frames[:2], None, fps=10, hold=0, crossfade=3, min_short_side=0))
    assert [int(img[0, 0, 0]) for img in images] == [0, 25, 50, 75, 100]


def test_interpolated_frames_take_the_nearer_label():
    labels = ["A", "B"]
    assert step_label(labels, (0, 1, 0.25)) == "A"
    assert step_label(labels, (0, 1, 0.5)) == "A"
    assert step_label(labels, (0, 1, 0.75)) == "B"
    assert step_label(None, (0, 1, 0.75)) is None


def test_small_frames_are_upscaled_by_an_integer_factor():
    assert upscale_factor(24, 32, 256) == 11
    assert upscale_factor(128, 128, 256) == 2
    assert upscale_factor(512, 300, 256) == 1
    images = list(iter_movie_frames([solid(RED)], None, fps=10, hold=0))
    assert images[0].shape == (24 * 11, 32 * 11, 3)


# --------------------------------------------------------------------------- movie files

def test_mp4_is_h264_yuv420p_faststart_with_exact_frame_count(tmp_path):
    frames = [solid(RED), solid(GREEN), solid(BLUE)]
    labels = [f"content weight {w}" for w in ("100", "3.16", "0.1")]
    path = tmp_path / "out" / "movie.mp4"
    count = write_movie(frames, labels, path, fps=10, hold=0.3, crossfade=2, boomerang=True)
    assert count == movie_frame_count(3, 10, 0.3, 2, True)
    meta, decoded = decode_mp4(path)
    assert len(decoded) == count
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == (32 * 11, 24 * 11)
    info = ffmpeg_info(path)
    assert re.search(r"Video: h264 .*yuv420p", info), info
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart
    # first and crossfaded colours survive the encoding (away from the label)
    assert np.abs(decoded[0][20, -20].astype(int) - RED).max() <= 6
    mid = (np.array(RED) * 2 / 3 + np.array(GREEN) / 3)
    assert np.abs(decoded[4][20, -20].astype(int) - mid).max() <= 6
    assert no_temporaries(tmp_path)


def test_mp4_pads_odd_sizes_to_even(tmp_path):
    path = tmp_path / "odd.mp4"
    frames = [solid(RED, (25, 33)), solid(BLUE, (25, 33))]
    write_movie(frames, None, path, fps=8, hold=0, crossfade=0)
    meta, decoded = decode_mp4(path)
    assert meta["size"] == (33 * 11 + 1, 25 * 11 + 1) and len(decoded) == 2


def test_large_frames_are_not_upscaled(tmp_path):
    path = tmp_path / "big.mp4"
    write_movie([solid(RED, (300, 400))], None, path, fps=8, hold=0)
    meta, _ = decode_mp4(path)
    assert meta["size"] == (400, 300)


def test_gif_frame_count_duration_and_loop(tmp_path):
    frames = [solid(RED), solid(GREEN), solid(BLUE)]
    path = tmp_path / "movie.gif"
    count = write_movie(frames, None, path, fps=10, hold=0.5, crossfade=1, boomerang=False)
    assert count == movie_frame_count(3, 10, 0.5, 1, False) == 5 + 10
    decoded, durations, loop = gif_frames(path)
    assert loop == 0  # forever
    # Pillow merges identical consecutive frames (the holds): the playing time is kept
    assert sum(durations) == count * 100
    assert len(decoded) == 5
    assert tuple(decoded[0][0, 0]) == RED and tuple(decoded[-1][0, 0]) == BLUE
    average = (np.array(RED) + np.array(GREEN)) / 2
    assert np.abs(decoded[1][0, 0].astype(int) - average).max() <= 1
    assert no_temporaries(tmp_path)


def test_gif_durations_keep_the_pace():
    assert gif_durations(3, 10) == [100, 100, 100]
    durations = gif_durations(120, 12)
    assert set(durations) == {80, 90} and sum(durations) == 10_000
    assert gif_durations(4, 120) == [20, 20, 20, 20]  # browsers slow down delays < 20 ms


def test_gif_boomerang_plays_back(tmp_path):
    path = tmp_path / "b.gif"
    count = write_movie([solid(RED), solid(GREEN), solid(BLUE)], None, path, fps=10, hold=0,
                        crossfade=0, boomerang=True)
    decoded, durations, _ = gif_frames(path)
    assert count == 5 and sum(durations) == 500
    assert [tuple(f[0, 0]) for f in decoded] == [RED, GREEN, BLUE, GREEN, RED]


def test_labels_are_drawn(tmp_path):
    plain = next(iter_movie_frames([solid(GREY)], None, fps=10, hold=0))
    labelled = next(iter_movie_frames([solid(GREY)], ["content weight 3.16"], fps=10, hold=0))
    diff = np.any(plain != labelled, axis=2)
    assert diff.any() and diff[: diff.shape[0] // 2].sum() == 0  # bottom half only


def test_write_movie_rejects_bad_input(tmp_path):
    with pytest.raises(SweepError, match=".mp4 or .gif"):
        write_movie([solid(RED)], None, tmp_path / "movie.avi")
    with pytest.raises(SweepError, match="labels"):
        write_movie([solid(RED)], ["a", "b"], tmp_path / "movie.gif")
    with pytest.raises(SweepError, match="must match"):
        write_movie([solid(RED), solid(RED, (10, 10))], None, tmp_path / "movie.gif")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- knee rule

def test_knee_of_an_l_shaped_curve_is_the_corner():
    content = [0.00, 0.01, 0.02, 0.03, 0.50, 0.90, 1.00]
    style = [1.00, 0.60, 0.10, 0.02, 0.01, 0.005, 0.00]
    assert suggest_balanced(records_from(content, style)) == 3


def test_knee_of_a_symmetric_curve_is_the_middle():
    a = np.linspace(0, 1, 9)
    assert suggest_balanced(records_from(list(a ** 2), list((1 - a) ** 2))) == 4


def test_knee_degenerate_cases():
    assert suggest_balanced(records_from([0.3], [0.7])) == 0
    # constant losses: every frame ties -> the highest content weight
    assert suggest_balanced(records_from([0.5] * 4, [0.5] * 4, weights=[1, 10, 100, 0.1])) == 2
    # NaN / missing losses are skipped
    content = [float("nan"), 0.0, 0.1, 1.0]
    style = [0.0, 1.0, 0.1, 0.0]
    assert suggest_balanced(records_from(content, style)) == 2
    records = records_from([0.0, 0.1, 1.0], [1.0, 0.1, 0.0])
    del records[1]["style_loss"]
    assert suggest_balanced(records) == 0  # two frames left, tied -> higher weight
    # no usable loss at all -> the middle of the sweep
    assert suggest_balanced(records_from([float("nan")] * 5, [None] * 5)) == 2
    with pytest.raises(SweepError):
        suggest_balanced([])


def test_knee_ties_go_to_the_higher_content_weight():
    assert suggest_balanced(records_from([0.0, 0.5, 1.0], [1.0, 0.5, 0.0], weights=[10, 1, 0.1])) == 1
    assert suggest_balanced(records_from([0.0, 1.0], [1.0, 0.0], weights=[10, 0.1])) == 0
    assert suggest_balanced(records_from([0.0, 1.0], [1.0, 0.0], weights=[0.1, 10])) == 1


def test_the_store_marks_the_suggested_frame(tmp_path):
    losses = list(zip([0.0, 0.01, 0.02, 0.03, 0.5, 0.9, 1.0], [1.0, 0.6, 0.1, 0.02, 0.01, 0.005, 0.0]))
    job = write_job(tmp_path / "job", [GREY] * 7, losses=losses)
    assert JobStore(job).mark_suggested() == 3
    records = json.loads((job / "frames.json").read_text())
    assert [r["suggested"] for r in records] == [False, False, False, True, False, False, False]
    assert records[0]["content_loss"] == 0.0 and records[3]["file"].startswith("frames/f003")
    assert JobStore(job).mark_suggested() == 3  # idempotent
    assert no_temporaries(tmp_path)


# --------------------------------------------------------------------------- sheet

def test_sheet_columns_near_square():
    assert sheet_columns(1, 24, 32) == 1
    assert sheet_columns(4, 100, 100) == 2
    assert sheet_columns(9, 100, 100) == 3
    assert sheet_columns(11, 128, 160) == 4
    assert sheet_columns(12, 100, 300) < sheet_columns(12, 300, 100)  # wide frames: fewer columns
    for n in range(1, 30):
        cols = sheet_columns(n, 100, 100)
        rows = math.ceil(n / cols)
        assert rows * cols - n < cols  # no empty row
        assert 0.5 <= cols / rows <= 3, (n, cols, rows)


def test_sheet_has_grid_plot_and_outlined_suggestion(tmp_path):
    colours = [(i * 20, 120, 255 - i * 20) for i in range(7)]
    losses = list(zip([0.0, 0.01, 0.02, 0.03, 0.5, 0.9, 1.0], [1.0, 0.6, 0.1, 0.02, 0.01, 0.005, 0.0]))
    job = write_job(tmp_path / "job", colours, losses=losses)
    path = write_sheet(job)
    assert path == job / "sheet.png" and path.is_file()
    sheet = np.asarray(Image.open(path).convert("RGB"))
    records = load_records(job)
    image, (g_top, g_left, g_h, g_w), boxes = compose_sheet(load_frames(job), records, 3)
    assert sheet.shape == image.shape
    assert sheet.shape[0] > g_top + g_h + 150  # the plot is below the grid
    assert len(boxes) == 7
    # tiles in sweep order, the suggested one outlined in the accent colour
    for k, (top, left, h, w) in enumerate(boxes):
        assert tuple(sheet[top + h // 2, left + w // 2]) == colours[k]
    top, left, h, w = boxes[3]
    assert tuple(sheet[top - 2, left + w // 2]) == ACCENT
    assert tuple(sheet[top + h // 2, left - 2]) == ACCENT
    top, left, h, w = boxes[0]
    assert tuple(sheet[top - 2, left + w // 2]) != ACCENT
    # the plot region is not blank
    plot = sheet[g_top + g_h + 20:]
    assert len(np.unique(plot.reshape(-1, 3), axis=0)) > 50
    assert no_temporaries(tmp_path)


def test_sheet_uses_the_stored_flag_and_custom_path(tmp_path):
    job = write_job(tmp_path / "job", [RED, GREEN, BLUE])
    records = json.loads((job / "frames.json").read_text())
    records[0]["suggested"] = True
    (job / "frames.json").write_text(json.dumps(records))
    out = write_sheet(job, tmp_path / "elsewhere" / "s.png")
    assert out.is_file()
    _, _, boxes = compose_sheet(load_frames(job), records, 0)
    sheet = np.asarray(Image.open(out).convert("RGB"))
    top, left, h, w = boxes[0]
    assert tuple(sheet[top - 2, left + w // 2]) == ACCENT


def test_sheet_with_one_frame_and_no_losses(tmp_path):
    job = write_job(tmp_path / "job", [RED], losses=[(float("nan"), None)])
    path = write_sheet(job)
    assert Image.open(path).size[0] >= 700


def test_the_sheet_says_a_still_movie_is_still_instead_of_its_jitter(tmp_path):
    """Frames that look alike (`colors: match` on a one-colour photo) had jitter 2.40 printed,
    and their losses' rounding noise, each curve divided by its peak, filled the plot."""
    noise = [(1e-9 * (k % 2), 1e-9 * (1 + k % 3)) for k in range(5)]
    job = write_job(tmp_path / "job", [GREY] * 5, losses=noise)
    still = motion.summary(load_frames(job))
    assert motion_text(still) == "movie: still (mean step 0 grey levels)"
    assert motion_text({"jitter": 0.42, "pace": 1.3, "still": False}) == "movie: jitter 0.42, pace 1.30"
    records = load_records(job)
    with_note = tradeoff_plot(records, None, 800, motion=still)
    without = tradeoff_plot(records, None, 800, motion={**still, "still": False})
    middle = (slice(with_note.shape[0] // 3, 2 * with_note.shape[0] // 3), slice(300, 500))
    assert not np.array_equal(with_note[middle], without[middle])   # the plot says it too
    assert write_sheet(job).is_file()


# --------------------------------------------------------------------------- compare

def test_grid_shape():
    assert [grid_shape(n) for n in range(1, 7)] == [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (2, 3)]
    for n in range(1, 20):
        rows, cols = grid_shape(n)
        assert rows * cols >= n and (rows - 1) * cols < n
    with pytest.raises(SweepError):
        grid_shape(0)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_compose_grid_tile_order(n):
    palette = [RED, GREEN, BLUE, (200, 200, 40), (40, 200, 200), (200, 40, 200)]
    tiles = [solid(palette[k], (60, 80)) for k in range(n)]
    names = [f"artist {k}" for k in range(n)]
    shape = grid_shape(n)
    image = compose_grid(tiles, names, shape, caption="content weight 3.16")
    (height, width), boxes = grid_boxes(60, 80, shape, n)
    assert image.shape == (height, width, 3)
    for k, (top, left, h, w) in enumerate(boxes):
        assert tuple(image[top + h // 2, left + w // 2]) == palette[k]
    # row-major: first tile top-left, rows top to bottom
    assert boxes[0][0] == min(b[0] for b in boxes) and boxes[0][1] == min(b[1] for b in boxes)
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    # the caption bar is at the bottom and carries text
    bar = image[height - _grid_metrics(60, 80)["caption_h"]:]
    assert bar.max() > 200


def test_compose_grid_centres_a_short_last_row():
    (_, width), boxes = grid_boxes(50, 50, (2, 3), 5)
    lefts = [b[1] for b in boxes[3:]]
    assert abs((lefts[0] + lefts[1] + 50) / 2 - width / 2) <= 1


def test_movie_tile_size_caps_large_grids():
    assert movie_tile_size(24, 32, (1, 2)) == (264, 352)
    th, tw = movie_tile_size(1024, 1024, (2, 3))
    assert 3 * tw <= 1920 and 2 * th <= 1440


def _artist_jobs(tmp_path, n_artists=3, n_weights=3):
    palette = [RED, GREEN, BLUE, GREY]
    jobs = {}
    for a in range(n_artists):
        colours = [tuple(int(v * (0.4 + 0.6 * w / max(1, n_weights - 1))) for v in palette[a])
                   for w in range(n_weights)]
        jobs[f"artist {a}"] = write_job(tmp_path / f"job{a}", colours)
    return jobs


def test_write_compare_writes_movies_and_table(tmp_path):
    jobs = _artist_jobs(tmp_path, 3, 3)
    out = tmp_path / "compare"
    paths = write_compare(jobs, out, fps=10, hold=0.2, crossfade=1, boomerang=False)
    assert paths == [out / "compare.mp4", out / "compare.gif", out / "compare.png"]
    expected = movie_frame_count(3, 10, 0.2, 1, False)
    meta, decoded = decode_mp4(out / "compare.mp4")
    assert len(decoded) == expected and meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    (height, width), boxes = grid_boxes(264, 352, grid_shape(3), 3)
    assert meta["size"] == (width + width % 2, height + height % 2)
    # tiles are in the dict's order: artist 0 (red) left, artist 2 (blue) right
    first = decoded[0]
    for k, colour in enumerate([RED, GREEN, BLUE]):
        top, left, h, w = boxes[k]
        pixel = first[top + h // 2, left + w // 2].astype(int)
        assert np.abs(pixel - np.array(colour) * 0.4).max() <= 8, (k, pixel)
    _, durations, _ = gif_frames(out / "compare.gif")
    assert sum(durations) == expected * 100

    table = np.asarray(Image.open(out / "compare.png").convert("RGB"))
    frames_by_artist = [load_frames(job) for job in jobs.values()]
    image, cells = compose_table(frames_by_artist, list(jobs), [100, 3.16, 0.1], [1, 1, 1])
    assert table.shape == image.shape
    assert len(cells) == 3 and all(len(row) == 3 for row in cells)   # rows = artists, cols = weights
    for r, row in enumerate(cells):
        for c, (top, left, h, w) in enumerate(row):
            assert tuple(table[top + h // 2, left + w // 2]) == tuple(frames_by_artist[r][c][0, 0])
    assert no_temporaries(tmp_path)


def test_compare_table_outlines_each_suggestion_and_grows_with_weights(tmp_path):
    frames = [[solid(GREY)] * 4, [solid(GREY)] * 4]
    image, cells = compose_table(frames, ["a", "b"], [10, 1, 0.1, 0.01], [1, None])
    top, left, h, w = cells[0][1]
    assert tuple(image[top - 1, left + w // 2]) == ACCENT
    for top, left, h, w in cells[1]:  # row "b" has no suggestion: nothing outlined
        assert tuple(image[top + h // 2, left - 1]) != ACCENT
        assert tuple(image[top + h + 1, left + w // 2]) != ACCENT
    wide, _ = compose_table([f * 2 for f in frames], ["a", "b"], [10, 1, 0.1, 0.01] * 2, [1, 2])
    assert wide.shape[1] > image.shape[1] and wide.shape[0] == image.shape[0]
    tall, _ = compose_table(frames * 2, ["a", "b", "c", "d"], [10, 1, 0.1, 0.01], [1, 2, 0, None])
    assert tall.shape[0] > image.shape[0]


@pytest.mark.parametrize("size", [(128, 512), (512, 512), (64, 16)])
def test_a_table_of_many_weights_stays_within_its_width_and_keeps_the_frames_shape(size):
    """A 512x128 panorama at the default 30 weights gave 96x24 tiles in a table 3255 px wide."""
    weights = list(np.geomspace(100, 0.1, 30))
    frames = [[solid(GREY, size)] * len(weights)] * 2
    image, cells = compose_table(frames, ["brushstrokes", "stained glass"], weights, [3, 20])
    th, tw = cells[0][0][2:]
    assert image.shape[1] <= TABLE_MAX_WIDTH
    assert abs(th / tw - size[0] / size[1]) <= 2 / min(th, tw)  # the shape, up to rounding
    assert tw >= 70   # as large as the width allows: 30 tiles and their gaps fill most of it
    right = cells[0][-1][1] + tw
    assert right < image.shape[1] and tuple(image[cells[1][-1][0], right - 1]) == GREY
    _, few_cells = compose_table([f[:3] for f in frames], ["a", "b"], weights[:3], [0, 1])
    assert few_cells[0][0][2:] == fit_tile(*size, min_short=120, max_long=220)   # a few weights: not shrunk


def test_compare_refuses_different_weights_before_writing(tmp_path):
    jobs = {"a": write_job(tmp_path / "a", [RED, GREEN, BLUE], weights=[10, 1, 0.1]),
            "b": write_job(tmp_path / "b", [RED, GREEN, BLUE], weights=[10, 2, 0.1])}
    out = tmp_path / "out"
    with pytest.raises(SweepError, match="same content weights"):
        write_compare(jobs, out, fps=10, hold=0, crossfade=0, boomerang=False)
    assert not out.exists()
    with pytest.raises(SweepError, match="format"):
        write_compare({"a": jobs["a"]}, out, fps=10, hold=0, crossfade=0, boomerang=False, formats=("avi",))
    with pytest.raises(SweepError):
        write_compare({}, out, fps=10, hold=0, crossfade=0, boomerang=False)


def test_compare_png_only(tmp_path):
    jobs = _artist_jobs(tmp_path, 1, 2)
    write_compare(jobs, tmp_path / "c", fps=10, hold=0, crossfade=0, boomerang=True, formats=("gif",))
    (tmp_path / "c" / "compare.mp4").write_bytes(b"not rendered here")
    paths = write_compare(jobs, tmp_path / "c", fps=10, hold=0, crossfade=0, boomerang=True, formats=(),
                          stale_formats=["gif"])
    assert paths == [tmp_path / "c" / "compare.png"]
    assert not (tmp_path / "c" / "compare.gif").exists()   # the earlier run's movie is gone
    assert (tmp_path / "c" / "compare.mp4").read_bytes() == b"not rendered here"


# --------------------------------------------------------------------------- render_job

def test_render_job(tmp_path):
    losses = list(zip([0.0, 0.05, 0.1, 1.0], [1.0, 0.3, 0.05, 0.0]))
    job = write_job(tmp_path / "job", [RED, GREEN, BLUE, GREY], losses=losses)
    cfg = SimpleNamespace(fps=10, formats=["mp4", "gif"], hold=0.2, crossfade=1, boomerang=True, label=True)
    stored = (job / "frames.json").read_bytes()
    paths = render_job(job, cfg)
    assert paths == [job / "movie.mp4", job / "movie.gif", job / "sheet.png"]
    assert all(p.is_file() for p in paths)
    _, decoded = decode_mp4(job / "movie.mp4")
    assert len(decoded) == movie_frame_count(4, 10, 0.2, 1, True)
    assert (job / "frames.json").read_bytes() == stored  # renderers only read the store
    assert no_temporaries(tmp_path)
    # rendered again with GIF only (a rerun with other movie settings): no MP4 of the old settings stays
    assert render_job(job, SimpleNamespace(**{**vars(cfg), "formats": ["gif"]}), stale_formats=["mp4", "gif"]) == [
        job / "movie.gif", job / "sheet.png"]
    assert not (job / "movie.mp4").exists() and (job / "movie.gif").is_file()


def test_render_job_refuses_unknown_format_before_writing(tmp_path):
    job = write_job(tmp_path / "job", [RED, GREEN])
    cfg = SimpleNamespace(fps=10, formats=["mp4", "webm"], hold=0, crossfade=0, boomerang=False, label=False)
    with pytest.raises(SweepError, match="webm"):
        render_job(job, cfg)
    assert not (job / "movie.mp4").exists() and not (job / "sheet.png").exists()
