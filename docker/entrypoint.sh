#!/bin/sh
# Container entry point; also runs outside Docker (the tests run it that way).
# With no arguments it starts the whole stack (nginx + capture service + previewer under supervisor);
# with arguments it runs them instead (e.g. `mailcapture serve`).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
export MAILCAPTURE_DATA_DIR="${MAILCAPTURE_DATA_DIR:-/data}"
export PREVIEWER_CACHE_DIR="${PREVIEWER_CACHE_DIR:-$MAILCAPTURE_DATA_DIR/previews}"
export STACK_RUNTIME_DIR="${STACK_RUNTIME_DIR:-/run/mailcapture}"
export STACK_HTTP_ADDR="${STACK_HTTP_ADDR:-0.0.0.0:8080}"
export MAILCAPTURE_SMTP_ADDR="${MAILCAPTURE_SMTP_ADDR:-0.0.0.0:1025}"
mkdir -p "$MAILCAPTURE_DATA_DIR" "$PREVIEWER_CACHE_DIR" "$STACK_RUNTIME_DIR"
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec "$PYTHON" -m mailcapture.stack run
