#!/usr/bin/env bash
# Runs the whole stack in the foreground (Ctrl-C stops it): capture service and previewer.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export MAILCAPTURE_DATA_DIR=${MAILCAPTURE_DATA_DIR:-$PWD/data}
export PREVIEWER_CACHE_DIR=${PREVIEWER_CACHE_DIR:-$PWD/data/previews}
mkdir -p "$MAILCAPTURE_DATA_DIR"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
"$VENV/bin/previewer" serve & pids+=($!)
"$VENV/bin/mailcapture" serve & pids+=($!)
echo "mailcapture: SMTP on ${MAILCAPTURE_SMTP_ADDR:-127.0.0.1:1025}, inbox and API on http://${MAILCAPTURE_HTTP_ADDR:-127.0.0.1:8025}/"
wait -n
