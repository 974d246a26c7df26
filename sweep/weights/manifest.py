"""The checksum manifest (`sweep/weights_manifest.json`): the 13 conv layers' shapes and
the sha256 over them in Keras layout, float32 little-endian, kernel then bias."""
from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json

import numpy as np

from sweep.vgg16_layers import VGG16_CONV_LAYERS
from sweep.errors import SweepError

LAYER_NAMES: tuple[str, ...] = VGG16_CONV_LAYERS
MANIFEST_NAME = "weights_manifest.json"

Layers = dict[str, tuple[np.ndarray, np.ndarray]]


@functools.lru_cache(maxsize=None)
def manifest() -> dict:
    """The packaged checksum manifest (`sweep/weights_manifest.json`)."""
    text = importlib.resources.files("sweep").joinpath(MANIFEST_NAME).read_text("utf-8")
    data = json.loads(text)
    names = tuple(layer["name"] for layer in data["layers"])
    if names != LAYER_NAMES:
        raise SweepError(f"weights manifest lists layers {names}, expected {LAYER_NAMES}")
    return data


def expected_sha256() -> str:
    return manifest()["hash"]["sha256"]


def _expected_shapes() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    return {layer["name"]: (tuple(layer["kernel"]), tuple(layer["bias"]))
            for layer in manifest()["layers"]}


def weights_sha256(layers: Layers) -> str:
    """sha256 over the layers in VGG16 order: kernel then bias, float32 little-endian bytes.

    Layers absent from `layers` are skipped (the hash then differs from the
    manifest's); names that are not VGG16 conv layers are a programming error.
    """
    unknown = sorted(set(layers) - set(LAYER_NAMES))
    if unknown:
        raise ValueError(f"not VGG16 conv layers: {unknown}; expected names from {LAYER_NAMES}")
    digest = hashlib.sha256()
    for name in LAYER_NAMES:
        if name not in layers:
            continue
        kernel, bias = layers[name]
        for array in (kernel, bias):
            digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()


def check_layers(layers: Layers, what: str) -> str:
    """Shapes and checksum against the manifest; return the sha256 or raise SweepError."""
    missing = [name for name in LAYER_NAMES if name not in layers]
    if missing:
        raise SweepError(f"{what}: missing VGG16 conv layers {', '.join(missing)}")
    for name, (kernel_shape, bias_shape) in _expected_shapes().items():
        kernel, bias = layers[name]
        if tuple(kernel.shape) != kernel_shape or tuple(bias.shape) != bias_shape:
            raise SweepError(
                f"{what}: layer {name} has kernel {tuple(kernel.shape)} and bias "
                f"{tuple(bias.shape)}, expected {kernel_shape} and {bias_shape}"
            )
    sha = weights_sha256(layers)
    if sha != expected_sha256():
        raise SweepError(
            f"{what}: checksum mismatch: sha256 {sha} != manifest {expected_sha256()}"
        )
    return sha
