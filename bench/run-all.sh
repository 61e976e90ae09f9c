#!/usr/bin/env bash
# bench/run-all.sh - every benchmark in bench/, quick variants by default
# (`make bench`); --full runs the long versions (see bench/README.md for the
# time each takes and the recorded results).
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1
make -s BUILD=release all bench-bin
q=--quick
[ $full = 1 ] && q=
echo "== engine: events/s per worker, bytes per session"
build/release/bench/engine_bench
echo "== engine: struggle-to-popup latency under load"
node bench/engine_latency.mjs ${q:+--quick}
echo "== video: heartbeats into views, per-video report"
build/release/bench/video_bench
if [ -x bench/model ]; then
    echo "== model: scoring latency, training time"
    bench/model ${q:+--quick}
fi
echo "== analytics: funnel, retention, live KPIs"
bench/analytics $q
echo "== ingest: against nginx"
bench/ingest $q
