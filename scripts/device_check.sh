#!/usr/bin/env bash
# The prepared device check (docs/gpu.md): on a GPU machine with torch and/or JAX but no
# TensorFlow and no package registry, measure sweep and write one JSON file.
#
#   scripts/device_check.sh [--tiny] [OUT_DIR]     # OUT_DIR: default $OUT, else outputs/device_check
#
# Installs nothing from the network. What sweep needs on top of such a machine (keras and
# its small pure-Python dependencies) and the verified VGG16 weights come along in the
# git-ignored folder .whl/, filled beforehand on a machine with the registry by
#
#   scripts/device_wheels.sh
#
# Where keras imports already (CI, a developer's .venv), .whl/ is not needed. The backend
# is $KERAS_BACKEND, else JAX when it imports, else torch, else TensorFlow. --tiny runs a
# tiny config and 48 px steps, for a CPU (CI), in under 2 minutes. The whole check stops
# within 8 minutes (scripts/device_check.py keeps to a 7.5-minute budget).
set -euo pipefail
cd "$(dirname "$0")/.."

TINY=()
if [ "${1:-}" = "--tiny" ]; then TINY=(--tiny); shift; fi
OUT_DIR=${1:-${OUT:-outputs/device_check}}
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PYTHON=.venv/bin/python; fi
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/device_check.XXXXXX")

# The backend first: keras imports only with its backend there (the default, TensorFlow, may be absent).
if [ -z "${KERAS_BACKEND:-}" ]; then
    for backend in jax torch tensorflow; do
        if "$PYTHON" -c "import $backend" 2>/dev/null; then export KERAS_BACKEND=$backend; break; fi
    done
fi
if ! "$PYTHON" -c "import keras" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "error: keras does not import and .whl/ holds no wheels: run scripts/device_wheels.sh on a machine with the package registry, then bring .whl/ along" >&2
        exit 2
    fi
    # --no-deps: only the carried wheels, never the network; what the machine has stays.
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" .whl/*.whl
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ls .whl/keras_home/models/*.h5 >/dev/null 2>&1; then
    # The carried weights, read in place; the compilation cache goes to the scratch folder.
    mkdir -p "$WORK/keras_home"
    ln -s "$PWD/.whl/keras_home/models" "$WORK/keras_home/models"
    export KERAS_HOME="$WORK/keras_home"
fi
export PYTHONUNBUFFERED=1
# The check's own temporaries (run folders, the JAX cache) go under WORK too, removed on exit.
trap 'rm -rf "$WORK"' EXIT
TMPDIR="$WORK" timeout 480 "$PYTHON" scripts/device_check.py "${TINY[@]}" --out "$OUT_DIR"
