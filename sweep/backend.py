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


# Assumed when neither the backend nor the driver says how much memory the GPU has.
ASSUMED_GPU_MEMORY = 16 * 2**30


def _driver_gpu_memory() -> int:
    """The first GPU's memory in bytes, as `nvidia-smi` reports it (TensorFlow does not
    say); ASSUMED_GPU_MEMORY when the driver's tool is missing or says nothing usable."""
    import subprocess

    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10)
        return int(done.stdout.split()[0]) * 2**20 if done.returncode == 0 else ASSUMED_GPU_MEMORY
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return ASSUMED_GPU_MEMORY


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
                return Accelerator(gpus[0].device_kind, int(stats.get("bytes_limit") or _driver_gpu_memory()),
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
                return Accelerator(details.get("device_name", "GPU"), _driver_gpu_memory(),
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


def accelerator_devices() -> list[tuple[str, str, int | None]]:
    """(id, name, memory in bytes or None) of every accelerator the backend sees, the
    memory where the backend says it without allocating. A backend whose GPU query
    fails raises (`sweep doctor` says so)."""
    backend = backend_name()
    devices = []
    if backend == "jax":
        import jax
        for d in jax.devices():
            if d.platform != "cpu":
                devices.append((f"{d.platform}:{d.id}", d.device_kind, (d.memory_stats() or {}).get("bytes_limit")))
    elif backend == "torch":
        import torch
        for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
            properties = torch.cuda.get_device_properties(i)
            devices.append((f"cuda:{i}", properties.name, int(properties.total_memory)))
    elif backend == "tensorflow":
        import tensorflow as tf
        for i, gpu in enumerate(tf.config.list_physical_devices("GPU")):
            devices.append((f"gpu:{i}", tf.config.experimental.get_device_details(gpu).get("device_name", "GPU"), None))
    return devices


def peak_accelerator_bytes() -> int | None:
    """The most accelerator memory this process has held so far, where the backend
    tracks it; None on a CPU or where it does not."""
    if accelerator() is None:
        return None
    backend = backend_name()
    try:
        if backend == "jax":
            import jax
            peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.devices() if d.platform != "cpu"]
            return max((p for p in peaks if p is not None), default=None)
        if backend == "torch":
            import torch
            return int(torch.cuda.max_memory_allocated())
        if backend == "tensorflow":
            import tensorflow as tf
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    except Exception:  # a backend without the statistic
        return None
    return None
