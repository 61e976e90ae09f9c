#!/usr/bin/env bash
# Installs the pinned npm packages (package-lock.json) when node_modules is
# missing or older than the lock file. Never touches the network otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "install-npm: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi
