"""What the optimisation runs on: the accelerator if the Keras backend sees one, else the CPU.

The numbers feed the plan's chunk size and its time estimate; they are
deliberately rough (docs/performance.md has the measured figures).
"""
from __future__ import annotations

import functools
import os

from .backend import accelerator, backend_name

# Sustained fp32 throughput of VGG16 forward + input gradient, measured on a
# 2-core CI machine (about 180 GFLOP/s at 128 px, losses included); scaled by
# the core count.
CPU_FLOPS_PER_CORE = 90e9
# An optimisation step in bfloat16 on an AMX CPU, as a multiple of the float32 rate:
# measured 2.5-2.9x at 8 frames of 128 px (the losses and the optimiser stay float32).
CPU_BFLOAT16_SPEEDUP = 2.5
# A conservative figure for a data-centre GPU in fp32/TF32 convolutions, also used
# for bfloat16 until that is measured.
GPU_FLOPS = 60e12
# Share of the free memory a run may plan for; the rest is the framework's own.
CPU_MEMORY_SHARE = 0.6
GPU_MEMORY_SHARE = 0.8


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (read once: `auto` precision asks
    several times per run)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bfloat16_decision() -> tuple[bool, str]:
    """(whether VGG16 runs faster in bfloat16 than in float32 here, why), as measured
    (docs/design.md, Precision): on GPUs from compute capability 8.0 (Ampere) on, and on
    CPUs with AMX under TensorFlow or torch, whose oneDNN kernels use it (a 2-core AMX CPU
    ran the network 3.9x faster). XLA's CPU convolutions run bfloat16 slower than float32,
    so JAX on a CPU stays in float32."""
    gpu = accelerator()
    if gpu:
        major, minor = gpu.compute_capability
        return gpu.compute_capability >= (8, 0), (
            f"{gpu.name} has compute capability {major}.{minor}; bfloat16 matrix units "
            f"come with 8.0 (Ampere) and later")
    backend = backend_name()
    if "amx_bf16" not in cpu_flags():
        return False, "the CPU has no AMX bfloat16 units (no amx_bf16 flag), so float32 is faster"
    if backend == "jax":
        return False, "the CPU has AMX, but XLA's CPU convolutions run bfloat16 slower than float32"
    return True, f"the CPU has AMX bfloat16 units, which {backend}'s oneDNN kernels use"


def bfloat16_is_faster() -> bool:
    return bfloat16_decision()[0]


def resolve_precision(requested: str) -> str:
    """The precision `model.precision` asks for, with "auto" decided for this machine."""
    if requested != "auto":
        return requested
    return "bfloat16" if bfloat16_is_faster() else "float32"


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
        return int(gpu.memory_bytes * GPU_MEMORY_SHARE)
    return int(cpu_available_bytes() * CPU_MEMORY_SHARE)


def flops_per_second(precision: str = "float32") -> float:
    if accelerator():
        return GPU_FLOPS
    speedup = CPU_BFLOAT16_SPEEDUP if resolve_precision(precision) == "bfloat16" else 1.0
    return CPU_FLOPS_PER_CORE * (os.cpu_count() or 1) * speedup


def describe(precision: str = "float32") -> str:
    """The device, the backend and the precision `model.precision` resolves to here."""
    gpu = accelerator()
    settings = f"{backend_name()}, {resolve_precision(precision)}"
    if gpu:
        return f"{gpu.name} ({settings})"
    return f"CPU x{os.cpu_count()} ({settings})"

