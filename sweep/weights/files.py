"""Where the weights live: `$KERAS_HOME/models/`, the files tried first, what a
resolution returns, and moving a refused file aside."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sweep.paths import keras_home

log = logging.getLogger("sweep.weights")

SOURCES: tuple[str, ...] = ("cache", "keras-download", "onnx-import", "user-file")

KERAS_FNAME = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
ONNX_FNAME = "vgg16_notop_from_onnx.weights.h5"
REJECTED_SUFFIX = ".rejected"


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path  # a verified Keras weights file
    source: str  # one of SOURCES
    sha256: str


def models_dir() -> Path:
    return keras_home() / "models"


def cache_candidates() -> list[Path]:
    """The cached files tried first, in order: the Keras download, then our ONNX import."""
    return [models_dir() / KERAS_FNAME, models_dir() / ONNX_FNAME]


def move_aside(path: Path, reason: str) -> None:
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
