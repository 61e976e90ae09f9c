#!/usr/bin/env bash
# Installs the Debian packages Journey needs to build, test and benchmark.
# Idempotent: packages already present are not touched, and apt-get runs only
# when something is missing. Needs root (or sudo) only in that case.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --bench    also the benchmark peers (nginx, wrk)
set -euo pipefail

pkgs=(
    build-essential pkg-config
    libmicrohttpd-dev   # HTTP server: epoll, thread pool, suspend/resume, upgrade
    libcjson-dev        # JSON parse/print
    libwslay-dev        # WebSocket framing for /v1/live
    libxxhash-dev       # hashing: partitions, dedup keys
    libsqlite3-dev sqlite3 # the store
    zlib1g-dev          # gzip bodies
    libxgboost-dev      # exit-risk model
    libcurl4-openssl-dev libssl-dev # outbound webhooks
    libcmocka-dev       # unit tests
    clang-14 libclang-rt-14-dev # fuzzing
    chromium            # end-to-end tests (driven by playwright-core)
    nginx-light wrk     # benchmark reference and load generator
    ca-certificates curl
)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
