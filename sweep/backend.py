"""Backend-specific code outside the objective (which is `sweep.gradients`'): which
Keras backend runs, the accelerator it sees, how a custom gradient receives its
upstream gradient, and the environment a Ray worker needs to run the same backend.
Everything else in `sweep` uses keras.ops only.
"""
from __future__ import annotations

import functools
import os
from typing import NamedTuple

from .quiet import import_keras

keras = import_keras()


def backend_name() -> str:
    """"tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def upstream_gradient(args, upstream):
    """The incoming gradient of a custom-gradient function: TensorFlow and JAX pass it
    positionally, torch as `upstream=`."""
    return args[0] if upstream is None else upstream


def worker_env_vars() -> dict[str, str]:
    """What a Ray worker's environment needs to run this process's backend, with
    TensorFlow's C++ start-up lines as quiet as here."""
    return {"KERAS_BACKEND": backend_name(),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}


class Accelerator(NamedTuple):
    name: str
    memory_bytes: int
    compute_capability: tuple[int, int]  # (0, 0) where the backend does not say


@functools.lru_cache(maxsize=None)
def accelerator() -> Accelerator | None:
    """The first GPU the backend uses, or None."""
    backend = backend_name()
    try:
        if backend == "jax":
            import jax
            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus:
                stats = gpus[0].memory_stats() or {}
                return Accelerator(gpus[0].device_kind, int(stats.get("bytes_limit", 16 * 2**30)),
                                   _capability(getattr(gpus[0], "compute_capability", "")))
        elif backend == "torch":
            import torch
            if torch.cuda.is_available():
                free, _ = torch.cuda.mem_get_info()
                return Accelerator(torch.cuda.get_device_name(0), int(free),
                                   tuple(torch.cuda.get_device_capability(0)))
        elif backend == "tensorflow":
            import tensorflow as tf
            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return Accelerator(details.get("device_name", "GPU"), 16 * 2**30,
                                   _capability(details.get("compute_capability", "")))
    except Exception:  # a broken driver must not stop a CPU run
        return None
    return None


def _capability(value) -> tuple[int, int]:
    """(major, minor) from "9.0" or (9, 0); (0, 0) if unreadable."""
    try:
        major, minor = (value.split(".") if isinstance(value, str) else value)[:2]
        return int(major), int(minor)
    except (TypeError, ValueError):
        return 0, 0
