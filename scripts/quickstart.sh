#!/usr/bin/env bash
# Quickstart: set everything up, then sweep the built-in photo through the three
# built-in artworks (about 3 minutes on a 2-core CPU). Outputs: outputs/quickstart/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/sweep run configs/quickstart.yaml
echo "open outputs/quickstart/index.html, or play outputs/quickstart/compare.mp4"
