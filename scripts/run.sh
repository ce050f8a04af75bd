#!/usr/bin/env bash
# Runs the whole stack in the foreground (Ctrl-C stops it): nginx (when installed) in front of the
# capture service and the previewer, all under supervisor. Data in ./data unless MAILCAPTURE_DATA_DIR is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export MAILCAPTURE_DATA_DIR=${MAILCAPTURE_DATA_DIR:-$PWD/data}
export PREVIEWER_CACHE_DIR=${PREVIEWER_CACHE_DIR:-$PWD/data/previews}
export STACK_RUNTIME_DIR=${STACK_RUNTIME_DIR:-$PWD/var}
mkdir -p "$MAILCAPTURE_DATA_DIR"
exec .venv/bin/python -m mailcapture.stack run
