#!/usr/bin/env bash
# Runs the whole test suite (after scripts/setup.sh). Artifacts (screenshots, logs) go to test-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
