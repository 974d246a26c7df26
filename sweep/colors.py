"""Whose colours the frames keep (an artist's `colors`), after Gatys et al. 2016,
"Preserving Color in Neural Artistic Style Transfer". Plain numpy on images in [0, 1].

- `style` (the default): the frames take the painting's colours, as plain Gatys does.
- `match`: before its Gram targets are computed, each painting is linearly recoloured
  so that its RGB mean and covariance equal the photo's (`match_colors`).
- `photo`: luminance-only transfer. The optimisation sees only luminance: the photo
  and the paintings become grey images (each painting's luminance first matched to
  the photo's mean and standard deviation), and each finished frame keeps its own
  luminance with the photo's chroma (`with_photo_chroma`). docs/artist-controls.md
  explains why we optimise on luminance rather than swap the colours afterwards.

Colour space: YCbCr of ITU-R BT.601 at full range (JPEG's), so chroma is measured
in the same 0-255 levels as RGB.
"""
from __future__ import annotations

import numpy as np

_RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                          [-0.168736, -0.331264, 0.5],
                          [0.5, -0.418688, -0.081312]])
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_CHROMA_OFFSET = np.array([0.0, 0.5, 0.5])  # Cb and Cr are centred on mid-grey
# Keeps the matrix square roots finite for a flat (single-colour) image.
_COVARIANCE_FLOOR = 1e-6
# A photo whose Cb and Cr vary by less than this (standard deviation, 0-255 levels: a JPEG's
# rounding in a grey or toned photo) has one colour: `effective_colors`.
_ONE_CHROMA_STD = 1.5


def to_ycbcr(rgb01: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 1] -> YCbCr in [0, 1]."""
    return np.asarray(rgb01, np.float64) @ _RGB_TO_YCBCR.T + _CHROMA_OFFSET


def to_rgb(ycbcr01: np.ndarray) -> np.ndarray:
    return (np.asarray(ycbcr01, np.float64) - _CHROMA_OFFSET) @ _YCBCR_TO_RGB.T


def luminance(rgb01: np.ndarray) -> np.ndarray:
    """(..., 3) -> (...) luma Y in [0, 1]."""
    return np.asarray(rgb01, np.float64) @ _RGB_TO_YCBCR[0]


def grey(rgb01: np.ndarray) -> np.ndarray:
    """The image's luminance in all three channels (what the network sees under `photo`)."""
    return np.repeat(luminance(rgb01)[..., None], 3, axis=-1).astype(np.float32)


def matched_luminance_grey(painting01: np.ndarray, photo01: np.ndarray) -> np.ndarray:
    """The painting as a grey image whose luminance has the photo's mean and standard
    deviation (the paper's luminance matching), so that only the painting's texture,
    not its brightness or contrast, pulls on the frames."""
    y_painting, y_photo = luminance(painting01), luminance(photo01)
    scale = y_photo.std() / max(y_painting.std(), 1e-6)
    matched = (y_painting - y_painting.mean()) * scale + y_photo.mean()
    return np.repeat(matched[..., None], 3, axis=-1).astype(np.float32)


def network_projection(colors: str) -> np.ndarray:
    """The 3x3 matrix applied to every pixel's RGB before the network sees a frame:
    the identity, or under `photo` the projector onto luminance (every output channel
    is Y), so that the losses, and so the optimisation, depend on the frame's luminance only."""
    if colors == "photo":
        return np.repeat(_RGB_TO_YCBCR[:1], 3, axis=0).astype(np.float32)
    return np.eye(3, dtype=np.float32)


def effective_colors(colors: str, photo01: np.ndarray) -> str:
    """`match` on a photo of one chroma (grey, or toned in one colour) is `photo`: the
    painting matched to that photo's colour covariance has its luminance matched and the
    photo's one colour, as under `photo`, but the optimisation would be free to draw
    colours along the directions the photo has none, and drew specks of colour along the
    edges of a grey photo. Under `photo` the frames keep the photo's chroma exactly."""
    if colors != "match":
        return colors
    chroma = to_ycbcr(np.asarray(photo01, np.float64).reshape(-1, 3))[:, 1:] * 255.0
    return "photo" if chroma.std(axis=0).max() < _ONE_CHROMA_STD else colors


def optimisation_inputs(photo01: np.ndarray, paintings01: list[np.ndarray], colors: str):
    """(photo, paintings) as the targets are computed from them, float32 in [0, 1]."""
    if colors == "photo":
        return grey(photo01), [matched_luminance_grey(p, photo01) for p in paintings01]
    if colors == "match":
        return photo01, [match_colors(p, photo01) for p in paintings01]
    return photo01, paintings01


def with_photo_chroma(frames_uint8: np.ndarray, photo_uint8: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) frames with their own luminance and the photo's Cb and Cr (uint8)."""
    frames = to_ycbcr(np.asarray(frames_uint8, np.float64) / 255.0)
    photo = to_ycbcr(np.asarray(photo_uint8, np.float64) / 255.0)
    frames[..., 1:] = photo[..., 1:]
    return np.clip(np.rint(to_rgb(frames) * 255.0), 0, 255).astype(np.uint8)


def color_statistics(image01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The RGB mean (3,) and covariance (3, 3) over an image's pixels."""
    pixels = np.asarray(image01, np.float64).reshape(-1, 3)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def _symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, _COVARIANCE_FLOOR) ** power) @ vectors.T


def match_colors(painting01: np.ndarray, photo01: np.ndarray) -> np.ndarray:
    """The painting recoloured so that its RGB mean and covariance are the photo's:
    x' = C_photo^(1/2) C_painting^(-1/2) (x - mu_painting) + mu_photo, the paper's
    linear transfer with symmetric matrix square roots (the "image analogies" variant,
    which, unlike a Cholesky factor, does not depend on the channel order). Values
    are not clipped to [0, 1]: the network takes any value, and clipping would
    break the match."""
    mean_painting, cov_painting = color_statistics(painting01)
    mean_photo, cov_photo = color_statistics(photo01)
    transfer = _symmetric_power(cov_photo, 0.5) @ _symmetric_power(cov_painting, -0.5)
    pixels = np.asarray(painting01, np.float64) - mean_painting
    return (pixels @ transfer.T + mean_photo).astype(np.float32)
