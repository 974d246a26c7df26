"""What the optimisation runs on: the accelerator if the Keras backend sees one, else the CPU.

The numbers feed the plan's chunk size and its time estimate; they are
deliberately rough (see the README's Performance section for measured figures).
"""
from __future__ import annotations

import functools
import os

from .quiet import import_keras

keras = import_keras()

# Sustained fp32 throughput of VGG16 forward + input gradient, measured on a
# 2-core CI machine (about 180 GFLOP/s at 128 px, losses included); scaled by
# the core count.
CPU_FLOPS_PER_CORE = 90e9
# A conservative figure for a data-centre GPU in fp32/TF32 convolutions.
GPU_FLOPS = 60e12
# Share of the free memory a run may plan for; the rest is the framework's own.
CPU_MEMORY_SHARE = 0.6
GPU_MEMORY_SHARE = 0.8


@functools.lru_cache(maxsize=None)
def accelerator() -> tuple[str, int] | None:
    """(name, memory bytes) of the first GPU the backend uses, or None."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax
            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            if gpus:
                stats = gpus[0].memory_stats() or {}
                return gpus[0].device_kind, int(stats.get("bytes_limit", 16 * 2**30))
        elif backend == "torch":
            import torch
            if torch.cuda.is_available():
                free, _ = torch.cuda.mem_get_info()
                return torch.cuda.get_device_name(0), int(free)
        elif backend == "tensorflow":
            import tensorflow as tf
            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", "GPU"), 16 * 2**30
    except Exception:  # a broken driver must not stop a CPU run
        return None
    return None


def cpu_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def memory_budget_bytes() -> int:
    gpu = accelerator()
    if gpu:
        return int(gpu[1] * GPU_MEMORY_SHARE)
    return int(cpu_available_bytes() * CPU_MEMORY_SHARE)


def flops_per_second() -> float:
    if accelerator():
        return GPU_FLOPS
    return CPU_FLOPS_PER_CORE * (os.cpu_count() or 1)


def describe() -> str:
    gpu = accelerator()
    backend = keras.backend.backend()
    if gpu:
        return f"{gpu[0]} ({backend})"
    return f"CPU x{os.cpu_count()} ({backend})"
