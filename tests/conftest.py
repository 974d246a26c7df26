"""Shared fixtures. Quality tests use the real VGG16 ImageNet weights (set up by
scripts/setup.sh); random weights appear only in pure unit tests."""
import os
import subprocess
import sys
from pathlib import Path

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
