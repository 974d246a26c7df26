"""Shared fixtures. Quality tests use the real VGG16 ImageNet weights (set up by
scripts/setup.sh); random weights appear only in pure unit tests."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_weights():
    from sweep.weights import resolve_weights
    return resolve_weights("imagenet")


def run_cli(*args, env=None, timeout=600, cwd=REPO):
    """Run `sweep` in a subprocess, as a user would."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "sweep.cli", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd)


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
