"""Import Keras without TensorFlow's C++ start-up lines on stderr.

At import and at device initialisation, TensorFlow's runtime writes a few lines
(oneDNN, the CUDA probe: `failed call to cuInit` on a machine without a GPU) straight
to file descriptor 2, before absl logging is configured, so TF_CPP_MIN_LOG_LEVEL
cannot silence them. They would stand before an `error: ...` line and bury the
progress bar, so the first Keras import, and TensorFlow's device discovery, run with
descriptor 2 pointed at /dev/null. A failed import still raises normally once stderr
is back.
"""
from __future__ import annotations

import os
import sys


# The Keras backends sweep runs on (sweep/backend.py); Keras itself knows more names.
BACKENDS = ("tensorflow", "jax", "torch")


def import_keras():
    if "keras" in sys.modules:
        return sys.modules["keras"]
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen not in BACKENDS:   # Keras's own refusal is a traceback from deep in its import
        from .errors import SweepError
        raise SweepError(f"KERAS_BACKEND is {chosen!r}; sweep runs on {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf
            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras
