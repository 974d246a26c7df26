"""`sweep doctor`: each branch that can be faked on a CPU (no GPU, a GPU the backend
does not see, a GPU it sees, no weights, no ffmpeg), and the micro-benchmark."""
import stat

import pytest

import sweep.backend
import sweep.device
from sweep import cli, doctor
from sweep.backend import Accelerator
from sweep.config import parse_config

from .conftest import REPO


@pytest.fixture
def no_nvidia(monkeypatch):
    monkeypatch.setattr(doctor, "nvidia_gpus", lambda: [])


def _fake_accelerator(monkeypatch, fake):
    """The GPU the backend would see: in backend.py, which owns it, and in device.py,
    which imported it."""
    monkeypatch.setattr(sweep.backend, "accelerator", lambda: fake)
    monkeypatch.setattr(sweep.device, "accelerator", lambda: fake)


def _doctor(capsys, *args):
    code = cli.main(["doctor", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cpu_only_machine_can_run(capsys, no_nvidia):
    code, out, err = _doctor(capsys, "--no-benchmark")
    assert code == 0, err
    import keras
    backend = keras.backend.backend()
    assert f"backend: {backend} " in out and f"keras {keras.__version__}" in out
    assert "  cpu: " in out and "a run uses: the CPU" in out
    assert "precision auto: " in out and "weights: cache " in out and "(checksum verifies)" in out
    assert "ffmpeg: " in out and "warning" not in out
    assert out.strip().splitlines()[-1] == "ok: a sweep can run here" and err == ""


def test_gpu_present_but_unseen_warns_with_the_install_line(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "nvidia_gpus", lambda: ["NVIDIA H200"])
    code, out, _ = _doctor(capsys, "--no-benchmark")
    assert code == 0  # the CPU still runs a sweep
    import keras
    warning = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert "NVIDIA H200" in warning[0] and "runs use the CPU" in warning[0]
    assert doctor.GPU_INSTALL[keras.backend.backend()] in warning[0]


def test_gpu_seen_is_used_and_picks_bfloat16(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "nvidia_gpus", lambda: ["NVIDIA H200"])
    _fake_accelerator(monkeypatch, Accelerator("NVIDIA H200", 140 * 2**30, (9, 0)))
    code, out, _ = _doctor(capsys, "--no-benchmark")
    assert code == 0
    assert "a run uses: NVIDIA H200" in out and "warning" not in out
    assert "precision auto: bfloat16 (NVIDIA H200 has compute capability 9.0" in out
    _fake_accelerator(monkeypatch, Accelerator("Tesla T4", 16 * 2**30, (7, 5)))
    assert doctor.precision_reason()[0] == "float32"


def _fake_nvidia_smi(tmp_path, monkeypatch, output: str):
    """An `nvidia-smi` that prints `output`, alone on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    return smi


def test_nvidia_gpus_from_nvidia_smi_or_the_driver(tmp_path, monkeypatch):
    smi = _fake_nvidia_smi(tmp_path, monkeypatch, "NVIDIA H200\\nNVIDIA H100 80GB HBM3\\n")
    assert doctor.nvidia_gpus(tmp_path / "none") == ["NVIDIA H200", "NVIDIA H100 80GB HBM3"]
    smi.unlink()
    proc = tmp_path / "gpus"
    (proc / "0000:01:00.0").mkdir(parents=True)
    (proc / "0000:01:00.0" / "information").write_text("Model: \t\t NVIDIA H200\nIRQ:   42\n")
    assert doctor.nvidia_gpus(proc) == ["NVIDIA H200"]
    assert doctor.nvidia_gpus(tmp_path / "none") == []


def test_missing_weights_cannot_run(tmp_path, capsys, monkeypatch, no_nvidia):
    from sweep.weights import ONNX_FNAME, download, onnx_import
    models = tmp_path / "models"
    models.mkdir()
    corrupt = models / ONNX_FNAME
    corrupt.write_bytes(b"not an h5 file")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(download, "reachable", lambda *a, **k: False)
    monkeypatch.setattr(onnx_import, "onnx_path", lambda: None)
    code, out, err = _doctor(capsys)  # no benchmark either: it cannot run
    assert code == doctor.EXIT_CANNOT_RUN
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no verified VGG16 weights"), err
    assert "benchmark" not in out and "ok:" not in out
    assert corrupt.read_bytes() == b"not an h5 file"  # doctor looks, it never moves a file aside


def test_mp4_without_ffmpeg_cannot_run(capsys, monkeypatch, no_nvidia):
    monkeypatch.setattr(doctor, "ffmpeg_status", lambda: (False, "none"))
    code, _, err = _doctor(capsys, str(REPO / "configs" / "quickstart.yaml"), "--no-benchmark")
    assert code == 2 and "asks for MP4 movies and there is no ffmpeg" in err
    code, out, _ = _doctor(capsys, str(REPO / "configs" / "quickstart.yaml"), "--no-benchmark",
                           "--set", "movie.formats=[gif]")
    assert code == 0 and "ok: a sweep can run here" in out


def test_gpu_memory_from_the_driver(tmp_path, monkeypatch):
    smi = _fake_nvidia_smi(tmp_path, monkeypatch, "143771\\n")
    assert sweep.backend._driver_gpu_memory() == 143771 * 2**20
    smi.unlink()
    assert sweep.backend._driver_gpu_memory() == sweep.backend.ASSUMED_GPU_MEMORY


def test_a_config_whose_inputs_cannot_be_read_cannot_run(capsys, tmp_path, no_nvidia):
    bad = tmp_path / "bad.yaml"
    bad.write_text("content: missing_photo.jpg\nstyles: {a: sample:brushstrokes}\n")
    code, out, err = _doctor(capsys, str(bad), "--no-benchmark")
    assert code == 2 and "ok:" not in out
    assert len(err.strip().splitlines()) == 1 and "missing_photo.jpg" in err


def test_bad_config_is_one_error_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("content: x.jpg\nstyles: {a: b.jpg}\nimage: {max_sise: 3}\n")
    code, out, err = _doctor(capsys, str(bad))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "did you mean 'max_size'" in err


def test_a_backend_that_does_not_import_cannot_run(capsys, monkeypatch):
    import sweep.quiet

    def absent():
        raise ImportError("No module named 'tensorflow'")
    monkeypatch.setattr(sweep.quiet, "import_keras", absent)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    code, out, err = _doctor(capsys, "--no-benchmark")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: Keras with the tensorflow backend does not import (No module named 'tensorflow'); "
        "install it, or pick an installed backend with KERAS_BACKEND=jax or torch"]


@pytest.mark.slow
def test_benchmark_measures_and_estimates(capsys, monkeypatch, no_nvidia, real_weights):
    """A shrunken benchmark (the real one takes seconds to tens of seconds): rates are
    measured, and the estimate scales with frames, iterations and scales."""
    from sweep.microbench import StepRate, estimate_seconds

    monkeypatch.setattr(doctor, "BENCHMARK_POINTS", ((32, 2, 2), (64, 1, 1)))
    monkeypatch.setattr(doctor, "BENCHMARK_SECONDS", 0.2)
    code, out, err = _doctor(capsys, str(REPO / "configs" / "quickstart.yaml"),
                             "--set", "image.max_size=48", "--set", "sweep.content_weight.steps=2")
    assert code == 0, err
    bench = next(line for line in out.splitlines() if line.startswith("benchmark ("))
    assert "32 px: " in bench and "(batch 2)" in bench and "64 px: " in bench
    rate = float(bench.split("32 px: ")[1].split(" frame-iterations/s")[0])
    assert rate > 0
    assert any(line.startswith("estimated time: ") and "6 frames x 60 iterations at 41x48" in line
               for line in out.splitlines())

    config = parse_config("content: x.jpg\nstyles: {a: b.jpg}\noptimizer: {iterations: 100}\n")
    rates = [StepRate(128, 4, (128, 128), 10, 5.0, 1.0), StepRate(512, 1, (512, 512), 2, 4.0, 1.0)]
    one = estimate_seconds(config, (512, 512), 1, rates)
    assert one == pytest.approx(100 / 0.5)  # 0.5 frame-iterations/s at 512 px
    assert estimate_seconds(config, (512, 512), 3, rates) == pytest.approx(3 * one)
    # 240 px is nearer 128 px than 512 px (in pixel ratio): 128 px's rate, scaled by pixels.
    assert estimate_seconds(config, (240, 240), 1, rates) == pytest.approx(100 / (8.0 * 128 ** 2 / 240 ** 2))
    coarse = parse_config("content: x.jpg\nstyles: {a: b.jpg}\n"
                          "optimizer: {iterations: 100, scales: [0.5, 1.0], coarse_fraction: 0.5}\n")
    assert estimate_seconds(coarse, (512, 512), 1, rates) == pytest.approx(50 / 2.0 + 50 / 0.5)
