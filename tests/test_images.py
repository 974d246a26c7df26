"""sweep.images: bad inputs are refused with the file's name, every mode converts right."""
from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
import numpy as np
import pytest
from PIL import Image

from sweep import decode, images
from sweep.errors import SweepError
from sweep.images import (
    MAX_INPUT_PIXELS,
    encode_png,
    load_image,
    read_png,
    resize_max_side,
    resize_to,
    save_png,
)


def _png_bytes(array: np.ndarray, color_type: int, bit_depth: int = 16, size_hw=None) -> bytes:
    """A PNG written by hand, for bit depths and headers Pillow will not write."""
    height, width = size_hw or array.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + np.ascontiguousarray(array[y]).astype(dtype).tobytes() for y in range(array.shape[0]))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _noise(height=48, width=64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _refused(path, *fragments, **kwargs) -> str:
    with pytest.raises(SweepError) as info:
        load_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


# --------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    _refused(tmp_path / "nope.jpg", "no such file")


def test_directory(tmp_path):
    folder = tmp_path / "photos.png"
    folder.mkdir()
    _refused(folder, "directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    _refused(fifo, "not a regular file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    save_png(path, _noise())
    path.chmod(0)
    try:
        _refused(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    # The same path through the code, for test runs as root.
    path = tmp_path / "secret.png"
    save_png(path, _noise())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(decode, "open", denied, raising=False)
    _refused(path, "permission denied")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _refused(path, "empty")


@pytest.mark.parametrize("name, data", [
    ("notes.txt", b"just some text, not an image\n"),
    ("fake.png", b"this is not really a png" * 10),
    ("random.jpg", bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8))),
])
def test_not_an_image(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    _refused(path, "not an image")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_jpeg(tmp_path, fraction):
    buffer = io.BytesIO()
    Image.fromarray(_noise(64, 64)).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * fraction)])
    _refused(path, "truncated")


def test_jpeg_missing_only_its_end_marker(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(_noise(64, 64)).save(buffer, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:-2])
    _refused(path, "truncated")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_png(tmp_path, fraction):
    data = encode_png(_noise(64, 64))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: int(len(data) * fraction)])
    _refused(path, "truncated")


@pytest.mark.parametrize("cut", [1, 12, 16, 20])
def test_png_cut_after_its_pixel_data(tmp_path, cut):
    # Pillow decodes these without complaint; the missing IEND gives them away.
    path = tmp_path / "cut.png"
    path.write_bytes(encode_png(_noise(64, 64))[:-cut])
    _refused(path, "truncated")


def test_png_with_junk_after_iend_is_fine(tmp_path):
    image = _noise()
    path = tmp_path / "junk.png"
    path.write_bytes(encode_png(image) + b"trailing junk")
    np.testing.assert_array_equal(load_image(path), image)


def test_corrupt_png_data(tmp_path):
    data = bytearray(encode_png(_noise(64, 64)))
    start = data.index(b"IDAT") + 40
    data[start:start + 40] = bytes(40)
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    _refused(path, "corrupt")


def test_bomb_refused_by_small_max_pixels(tmp_path):
    path = tmp_path / "big.png"
    save_png(path, _noise(100, 100))
    message = _refused(path, "100x100", "decompression bomb", max_pixels=9_999)
    assert "9,999" in message
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)


def test_bomb_refused_from_its_header_before_decoding(tmp_path):
    # 11000 x 10000 = 110 Mpx: over our limit, under Pillow's own error limit.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_bytes(np.zeros((1, 1), np.uint8), 0, 8, size_hw=(10_000, 11_000)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak out
        _refused(path, "11000x10000", "decompression bomb")


def test_huge_bomb_refused(tmp_path):
    # Over Pillow's own hard limit, which raises from Image.open.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_bytes(np.zeros((1, 1), np.uint8), 0, 8, size_hw=(30_000, 30_000)))
    _refused(path, "decompression bomb")


def test_default_limit_is_documented_value():
    assert MAX_INPUT_PIXELS == 100_000_000


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "100"])
def test_bad_max_pixels(tmp_path, bad):
    path = tmp_path / "a.png"
    save_png(path, _noise())
    with pytest.raises(SweepError, match="max_pixels"):
        load_image(path, max_pixels=bad)


# --------------------------------------------------------------------------- conversions


def _load_saved(tmp_path, pil: Image.Image, name: str, **save_args) -> np.ndarray:
    path = tmp_path / name
    pil.save(path, **save_args)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.flags.c_contiguous and out.flags.writeable
    return out


def test_rgb_png_exact(tmp_path):
    image = _noise()
    np.testing.assert_array_equal(_load_saved(tmp_path, Image.fromarray(image), "rgb.png"), image)


def test_rgb_jpeg_close(tmp_path):
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = (200, 40, 60)
    image[:, 16:] = (30, 120, 220)
    out = _load_saved(tmp_path, Image.fromarray(image), "rgb.jpg", quality=95)
    assert np.abs(out[4:28, 2:12].astype(int) - (200, 40, 60)).max() < 12
    assert np.abs(out[4:28, 20:30].astype(int) - (30, 120, 220)).max() < 12


def test_grayscale(tmp_path):
    gray = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)
    out = _load_saved(tmp_path, Image.fromarray(gray), "gray.png")
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], gray)


def test_one_bit(tmp_path):
    bits = np.zeros((8, 8), bool)
    bits[::2] = True
    out = _load_saved(tmp_path, Image.fromarray(bits).convert("1"), "bits.png")
    np.testing.assert_array_equal(out[:, :, 0], np.where(bits, 255, 0))
    assert (out == out[:, :, :1]).all()


def test_gray_alpha_over_white(tmp_path):
    la = np.zeros((2, 2, 2), np.uint8)
    la[0, 0] = (100, 255)  # opaque gray
    la[0, 1] = (0, 0)  # transparent
    la[1, 0] = (0, 128)  # half-transparent black
    la[1, 1] = (50, 255)
    out = _load_saved(tmp_path, Image.frombytes("LA", (2, 2), la.tobytes()), "la.png")
    assert tuple(out[0, 0]) == (100, 100, 100)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[1, 0]) == (127, 127, 127)
    assert tuple(out[1, 1]) == (50, 50, 50)


def test_rgba_over_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 200, 30, 255)
    rgba[0, 1] = (10, 200, 30, 0)
    rgba[1, 0] = (0, 0, 0, 128)
    rgba[1, 1] = (255, 0, 0, 64)
    out = _load_saved(tmp_path, Image.fromarray(rgba), "rgba.png")
    assert tuple(out[0, 0]) == (10, 200, 30)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[1, 0]) == (127, 127, 127)
    assert tuple(out[1, 1]) == (255, 191, 191)


def test_palette_with_transparency(tmp_path):
    pil = Image.new("P", (3, 1))
    pil.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    pil.putdata([0, 1, 2])
    out = _load_saved(tmp_path, pil, "palette.png", transparency=1)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[0, 2]) == (0, 0, 255)


def test_palette_without_transparency(tmp_path):
    pil = Image.new("P", (2, 1))
    pil.putpalette([12, 34, 56, 200, 100, 50] + [0] * (256 * 3 - 6))
    pil.putdata([0, 1])
    out = _load_saved(tmp_path, pil, "palette.gif")
    assert tuple(out[0, 0]) == (12, 34, 56)
    assert tuple(out[0, 1]) == (200, 100, 50)


def test_gray_with_transparent_value(tmp_path):
    gray = np.array([[0, 100, 200]], np.uint8)
    out = _load_saved(tmp_path, Image.fromarray(gray), "trns.png", transparency=100)
    np.testing.assert_array_equal(out[0, :, 0], [0, 255, 200])


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert tuple(load_image(path)[0, 0]) == (255, 0, 0)


SIXTEEN = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
EIGHT = np.array([[0, 1, 128, 255]], dtype=np.uint8)


def _assert_gray(out, expected):
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], expected)


def test_sixteen_bit_gray_png(tmp_path):
    path = tmp_path / "g16.png"
    path.write_bytes(_png_bytes(SIXTEEN, color_type=0))
    assert Image.open(path).mode.startswith("I")
    _assert_gray(load_image(path), EIGHT)


def test_sixteen_bit_png_written_by_pillow(tmp_path):
    out = _load_saved(tmp_path, Image.fromarray(SIXTEEN), "g16p.png")
    _assert_gray(out, EIGHT)


def test_sixteen_bit_big_endian_tiff(tmp_path):
    pil = Image.frombytes("I;16B", (4, 1), SIXTEEN.astype(">u2").tobytes())
    path = tmp_path / "g16b.tif"
    pil.save(path)
    assert Image.open(path).mode == "I;16B"
    _assert_gray(load_image(path), EIGHT)


def test_int32_mode_i_takes_its_range_from_its_values(tmp_path):
    """Mode I has no bit depth: its range is that of the fewest bits, at least 8, that hold
    its largest value (Pillow's `convert("I")` of an 8-bit image was read nearly black)."""
    pil = Image.fromarray(SIXTEEN.astype(np.int32))
    assert pil.mode == "I"
    _assert_gray(_load_saved(tmp_path, pil, "i32.tif"), EIGHT)
    _assert_gray(_load_saved(tmp_path, Image.fromarray(EIGHT).convert("I"), "i8.tif"), EIGHT)
    wide = np.array([[0, 2 ** 24, 2 ** 31 - 1]], np.int32)
    _assert_gray(_load_saved(tmp_path, Image.fromarray(wide), "i31.tif"), np.array([[0, 2, 255]]))
    twelve_bit = np.array([[0, 256, 4095]], np.int32)   # a 12-bit camera's range
    _assert_gray(_load_saved(tmp_path, Image.fromarray(twelve_bit), "i12.tif"), np.array([[0, 16, 255]]))
    # a 16-bit PGM opens as mode I too, scaled to 0..65535 by its maxval: its dark pixels stay dark
    (tmp_path / "dark.pgm").write_bytes(b"P5\n3 1\n65535\n" + np.array([0, 1000, 2000], ">u2").tobytes())
    assert Image.open(tmp_path / "dark.pgm").mode == "I"
    _assert_gray(load_image(tmp_path / "dark.pgm"), np.array([[0, 4, 8]]))


def test_float_mode_f(tmp_path):
    pil = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    out = _load_saved(tmp_path, pil, "f32.tif")
    _assert_gray(out, np.array([[0, 128, 255]]))


def test_sixteen_bit_rgb_and_rgba_png(tmp_path):
    rgb = np.array([[[0, 32768, 65535], [65535, 0, 32768]]], np.uint16)
    path = tmp_path / "rgb16.png"
    path.write_bytes(_png_bytes(rgb, color_type=2))
    np.testing.assert_array_equal(load_image(path), [[[0, 128, 255], [255, 0, 128]]])

    rgba = np.array([[[0, 32768, 65535, 65535], [0, 0, 0, 0]]], np.uint16)
    path = tmp_path / "rgba16.png"
    path.write_bytes(_png_bytes(rgba, color_type=6))
    np.testing.assert_array_equal(load_image(path), [[[0, 128, 255], [255, 255, 255]]])


def test_sixteen_bit_gray_alpha_png(tmp_path):
    la = np.array([[[65535, 65535], [0, 0]]], np.uint16)
    path = tmp_path / "la16.png"
    path.write_bytes(_png_bytes(la, color_type=4))
    np.testing.assert_array_equal(load_image(path), [[[255, 255, 255], [255, 255, 255]]])


@pytest.mark.parametrize("cmyk, rgb", [
    ((0, 255, 255, 0), (255, 0, 0)),
    ((255, 0, 255, 0), (0, 255, 0)),
    ((255, 255, 0, 0), (0, 0, 255)),
    ((0, 0, 0, 0), (255, 255, 255)),
    ((0, 0, 0, 255), (0, 0, 0)),
])
def test_cmyk_jpeg(tmp_path, cmyk, rgb):
    # Pillow writes CMYK JPEGs with the Adobe marker and inverted values, as
    # Photoshop does; reading them must undo the inversion.
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), cmyk).save(path, quality=95)
    assert b"Adobe" in path.read_bytes()
    out = load_image(path)
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - rgb).max() < 30


def test_exif_orientation_applied(tmp_path):
    # 32 wide, 16 tall; left half red, right half blue; EXIF says "rotate 90 CW".
    array = np.zeros((16, 32, 3), np.uint8)
    array[:, :16] = (255, 0, 0)
    array[:, 16:] = (0, 0, 255)
    pil = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    pil.save(path, quality=95, exif=exif.tobytes())
    out = load_image(path)
    assert out.shape == (32, 16, 3)  # now portrait
    assert out[4, 8, 0] > 200 and out[4, 8, 2] < 60  # the red half is on top
    assert out[28, 8, 2] > 200 and out[28, 8, 0] < 60


def test_path_objects_and_strings(tmp_path):
    image = _noise()
    path = tmp_path / "a.png"
    save_png(path, image)
    np.testing.assert_array_equal(load_image(str(path)), image)
    np.testing.assert_array_equal(load_image(path), image)


def test_sample_source_delegates():
    from sweep.samples import sample_image, SAMPLE_STYLES

    name = SAMPLE_STYLES[0]
    np.testing.assert_array_equal(load_image(f"sample:{name}"), sample_image(name))
    with pytest.raises(SweepError, match="grace_hopper"):
        load_image("sample:no_such_sample")


def test_bad_source_type():
    with pytest.raises(SweepError):
        load_image(42)


# --------------------------------------------------------------------------- resizing


@pytest.mark.parametrize("shape, max_side, expected", [
    ((50, 100), 40, (20, 40)),
    ((100, 50), 40, (40, 20)),
    ((30, 40), 400, (300, 400)),  # enlarging
    ((64, 64), 64, (64, 64)),
    ((1, 1000), 10, (1, 10)),  # never 0 pixels
    ((1000, 3), 100, (100, 1)),
    ((333, 500), 256, (170, 256)),
])
def test_resize_max_side_keeps_aspect(shape, max_side, expected):
    out = resize_max_side(_noise(*shape), max_side)
    assert out.shape == expected + (3,)
    assert out.dtype == np.uint8


def test_resize_keeps_flat_colour():
    image = np.empty((90, 120, 3), np.uint8)
    image[:] = (10, 128, 250)
    for out in (resize_max_side(image, 37), resize_max_side(image, 301), resize_to(image, (7, 300))):
        assert (out == (10, 128, 250)).all()


def test_resize_shrink_is_antialiased():
    # A one-pixel checkerboard shrunk 4x must average to gray, not alias.
    board = (np.indices((256, 256)).sum(0) % 2 * 255).astype(np.uint8)
    image = np.repeat(board[:, :, None], 3, axis=2)
    out = resize_max_side(image, 64)
    assert abs(float(out.mean()) - 127.5) < 3
    assert out.std() < 10


def test_resize_same_size_is_a_copy():
    image = _noise()
    out = resize_to(image, image.shape[:2])
    np.testing.assert_array_equal(out, image)
    assert out is not image and not np.shares_memory(out, image)


def test_resize_to_exact():
    assert resize_to(_noise(40, 60), (13, 77)).shape == (13, 77, 3)


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (2.5, 3), "big", (1, 2, 3)])
def test_resize_to_bad_size(size):
    with pytest.raises(SweepError):
        resize_to(_noise(), size)


@pytest.mark.parametrize("max_side", [0, -3, 2.0, True])
def test_resize_max_side_bad(max_side):
    with pytest.raises(SweepError):
        resize_max_side(_noise(), max_side)


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4), np.uint8),
    np.zeros((4, 4, 4), np.uint8),
    np.zeros((4, 4, 3), np.float32),
    np.zeros((0, 4, 3), np.uint8),
    [[1, 2, 3]],
])
def test_bad_arrays_refused(bad):
    with pytest.raises(SweepError):
        resize_max_side(bad, 10)
    with pytest.raises(SweepError):
        encode_png(bad)


# --------------------------------------------------------------------------- PNG


def test_png_round_trip_exact(tmp_path):
    image = _noise(37, 53, seed=5)
    path = tmp_path / "sub" / "frame.png"
    save_png(path, image)
    np.testing.assert_array_equal(read_png(path), image)
    assert sorted(p.name for p in path.parent.iterdir()) == ["frame.png"]  # no temporaries left


def test_encode_png_is_deterministic_and_valid():
    image = _noise(seed=3)
    data = encode_png(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data == encode_png(image.copy())
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), image)


def test_encode_png_accepts_non_contiguous():
    image = _noise(20, 30)
    view = image[:, ::2]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(view)))), view)


def test_save_png_overwrites_atomically(tmp_path):
    path = tmp_path / "frame.png"
    save_png(path, _noise(seed=1))
    second = _noise(seed=2)
    save_png(path, second)
    np.testing.assert_array_equal(read_png(path), second)


def test_read_png_errors_name_the_file(tmp_path):
    path = tmp_path / "missing.png"
    with pytest.raises(SweepError, match="missing.png"):
        read_png(path)
