"""Reading Keras weights files with h5py (no Keras model is built to check one): the
Keras 3 `.weights.h5` layout and the legacy h5 layout of the Keras download."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sweep.errors import SweepError
from sweep.weights.manifest import LAYER_NAMES, Layers, check_layers

def _attr_strings(group, name: str) -> list[str]:
    """A list-of-strings attribute, possibly chunked as name0, name1, ... (Keras 2 legacy)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _read_keras3(handle) -> Layers:
    """The `.weights.h5` format of Keras 3: layers/<auto name>/vars/{0,1}, vars.attrs['name']."""
    import h5py

    named: dict[str, list] = {}
    unnamed: list[tuple[str, object]] = []

    def visit(path, obj):
        if not (isinstance(obj, h5py.Group) and path.rsplit("/", 1)[-1] == "vars"):
            return
        if not ("0" in obj and "1" in obj):
            return
        name = obj.attrs.get("name")
        name = name.decode("utf-8") if isinstance(name, bytes) else name
        if name in LAYER_NAMES:
            named.setdefault(name, []).append(obj)
        elif name is None and obj["0"].ndim == 4:
            unnamed.append((path, obj))

    handle.visititems(visit)
    duplicated = sorted(name for name, groups in named.items() if len(groups) > 1)
    if duplicated:
        raise ValueError(f"more than one weight group for {', '.join(duplicated)}")
    groups = {name: found[0] for name, found in named.items()}
    if not groups and len(unnamed) == len(LAYER_NAMES):
        # Keras 3 versions that wrote no name attribute: conv2d, conv2d_1, ... in model order.
        def order(item):
            parent = item[0].rsplit("/", 2)[-2]
            suffix = parent.rsplit("_", 1)[-1]
            return int(suffix) + 1 if "_" in parent and suffix.isdigit() else 0

        groups = {name: group for name, (_, group) in
                  zip(LAYER_NAMES, sorted(unnamed, key=order))}
    return {name: (group["0"][()], group["1"][()]) for name, group in groups.items()}


def _read_legacy(group) -> Layers:
    """The Keras 2 h5 format (the Keras download): layer groups listed in attrs['layer_names']."""
    layers: Layers = {}
    for name in _attr_strings(group, "layer_names"):
        if name not in LAYER_NAMES:
            continue
        layer_group = group[name]
        arrays = [layer_group[weight][()] for weight in _attr_strings(layer_group, "weight_names")]
        kernels = [a for a in arrays if a.ndim == 4]
        biases = [a for a in arrays if a.ndim == 1]
        if len(arrays) != 2 or len(kernels) != 1 or len(biases) != 1:
            raise ValueError(f"layer {name} holds {len(arrays)} arrays, expected kernel and bias")
        layers[name] = (kernels[0], biases[0])
    return layers


def read_weights_file(path: str | os.PathLike) -> Layers:
    """The 13 conv layers' (kernel, bias) from a Keras weights file, unverified.

    Understands the Keras 3 `.weights.h5` format and the legacy Keras 2 h5 format
    (with or without a `model_weights` group). Raises SweepError when the file
    cannot be read.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            group = handle
            if "layer_names" not in handle.attrs and "model_weights" in handle:
                group = handle["model_weights"]
            if "layer_names" in group.attrs or "layer_names0" in group.attrs:
                layers = _read_legacy(group)
            else:
                layers = _read_keras3(handle)
    except SweepError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, ... on damage
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SweepError(f"cannot read {path} as a Keras weights file: {reason}") from None
    return {name: (np.asarray(k, dtype=np.float32), np.asarray(b, dtype=np.float32))
            for name, (k, b) in layers.items()}


def verify_file(path: str | os.PathLike) -> tuple[Layers, str]:
    """Read and check a weights file against the manifest; SweepError if it does not match."""
    path = Path(path)
    layers = read_weights_file(path)
    sha = check_layers(layers, f"weights file {path}")
    return layers, sha
