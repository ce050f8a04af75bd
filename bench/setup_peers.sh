#!/usr/bin/env bash
# Installs the benchmark peers (MailDev 3.0.0 from npm) into bench/peers/maildev/node_modules.
# Idempotent: a second run with an up-to-date install does nothing and returns at once.
# The registry here lacks versions that MailDev's dependencies pin; bench/peers/maildev/package.json
# carries npm "overrides" for them (see that file).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAILDEV_DIR="$BENCH_DIR/peers/maildev"
MAILDEV_VERSION="3.0.0"
STAMP="$MAILDEV_DIR/node_modules/.mailcapture-bench-stamp"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup_peers: '$tool' is not installed (on Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
done

# The stamp records the hash of package.json (+ lock): a change of either reinstalls.
want="$(cat "$MAILDEV_DIR/package.json" "$MAILDEV_DIR/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
installed_version="$(node -p "require('$MAILDEV_DIR/node_modules/maildev/package.json').version" 2>/dev/null || true)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && "$installed_version" == "$MAILDEV_VERSION" ]]; then
    echo "setup_peers: maildev $MAILDEV_VERSION already installed"
    exit 0
fi

cd "$MAILDEV_DIR"
if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
installed_version="$(node -p "require('./node_modules/maildev/package.json').version")"
if [[ "$installed_version" != "$MAILDEV_VERSION" ]]; then
    echo "setup_peers: expected maildev $MAILDEV_VERSION, got $installed_version" >&2
    exit 1
fi
# Recompute: npm install may have written package-lock.json.
cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1 > "$STAMP"
echo "setup_peers: maildev $installed_version installed in $MAILDEV_DIR/node_modules"
