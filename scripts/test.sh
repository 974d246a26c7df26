#!/usr/bin/env bash
# Run the test suite: sets up like the quickstart, plus the test tools, the optional
# backends (torch, jax) and Ray, and Debian's Chromium for the report's browser test.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEP_EXTRAS=test,ray scripts/setup.sh
# Pinned: this machine image carries the CPU build of torch 2.13.0 as a local wheel,
# whereas an unpinned torch would pull gigabytes of CUDA packages.
.venv/bin/python -m pip install --quiet "torch==2.13.0" jax
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
