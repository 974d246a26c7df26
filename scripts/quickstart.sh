#!/usr/bin/env bash
# Quickstart: set everything up, then sweep the built-in photo through the three
# built-in artworks (about 3 minutes on a 2-core CPU). Outputs: outputs/quickstart/
set -euo pipefail
cd "$(dirname "$0")/.."
# SWEEP_EXTRAS=gpu installs TensorFlow's CUDA build (README, "On a GPU"; docs/gpu.md for JAX and torch).
scripts/setup.sh
# What the run will use: backend, device (and a warning if an NVIDIA GPU goes unseen), precision.
.venv/bin/sweep doctor --no-benchmark
.venv/bin/sweep run configs/quickstart.yaml
echo "open outputs/quickstart/index.html, or play outputs/quickstart/compare.mp4"
