#!/usr/bin/env bash
# Fill the git-ignored .whl/ for scripts/device_check.sh on a machine without a package
# registry: keras and its small dependencies that a torch/JAX GPU image lacks, as wheels
# for CPython 3.12 on x86-64 Linux, and the verified VGG16 weights (56 MiB). Run here,
# where pip reaches the registry and `sweep weights` verifies the weights; about 60 MiB.
#
#   scripts/device_wheels.sh            # PYTHON_VERSION=3.12 by default
#
# The GPU image (docs/gpu.md) already has numpy, h5py, absl-py, rich, ml-dtypes, packaging,
# pyyaml, pillow, imageio, matplotlib and tqdm; imageio-ffmpeg (30 MB) is left out, so
# the device check writes GIFs there instead of MP4s.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PY=${PYTHON_VERSION:-3.12}
PACKAGES=(keras namex optree)
mkdir -p .whl/keras_home/models
rm -f .whl/*.whl
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${PACKAGES[@]}"
# The weights as `sweep weights` resolves them (cache, download or the ONNX import), verified.
WEIGHTS=$("$PYTHON" -c "from sweep.weights import resolve_weights; print(resolve_weights('imagenet').path)")
rm -f .whl/keras_home/models/*
cp "$WEIGHTS" .whl/keras_home/models/
"$PYTHON" -c "from sweep.weights import verify_file; verify_file('.whl/keras_home/models/$(basename "$WEIGHTS")')"
ls -l .whl
du -sh .whl
