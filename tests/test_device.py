"""`model.precision: auto` picks bfloat16 exactly where it was measured faster."""
import pytest

from sweep import device
from sweep.backend import Accelerator, _capability


@pytest.fixture
def machine(monkeypatch):
    """Set what the device module sees: a GPU (or None), the CPU flags, the backend."""
    def set_machine(gpu=None, flags=(), backend="tensorflow"):
        monkeypatch.setattr(device, "accelerator", lambda: gpu)
        monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
        monkeypatch.setattr(device, "backend_name", lambda: backend)
    return set_machine


@pytest.mark.parametrize("gpu, flags, backend, expected", [
    (Accelerator("H100", 80 * 2**30, (9, 0)), (), "jax", "bfloat16"),
    (Accelerator("A100", 40 * 2**30, (8, 0)), (), "torch", "bfloat16"),
    (Accelerator("V100", 16 * 2**30, (7, 0)), ("amx_bf16",), "torch", "float32"),  # no bf16 tensor cores
    (None, ("avx512f", "amx_bf16"), "tensorflow", "bfloat16"),
    (None, ("avx512f", "amx_bf16"), "torch", "bfloat16"),
    (None, ("avx512f", "amx_bf16"), "jax", "float32"),    # XLA's CPU bf16 convolutions are slower
    (None, ("avx512f", "avx512_bf16"), "tensorflow", "float32"),  # no AMX: no bf16 matrix units
])
def test_auto_precision(machine, gpu, flags, backend, expected):
    machine(gpu, flags, backend)
    assert device.resolve_precision("auto") == expected
    assert device.describe("auto").endswith(f"({backend}, {expected})")


def test_explicit_precision_is_kept(machine):
    machine(None, (), "jax")
    assert device.resolve_precision("bfloat16") == "bfloat16"
    assert device.resolve_precision("float32") == "float32"


def test_compute_capability_parsing():
    assert _capability("9.0") == (9, 0)
    assert _capability((8, 6)) == (8, 6)
    assert _capability("") == (0, 0)
    assert _capability(None) == (0, 0)
