#!/usr/bin/env bash
# `make run`: start Journey on 127.0.0.1:8080 with the demo project and the demo
# site. The binary and the web assets are built by the Makefile before this runs.
#
#   JOURNEY_DATA   data directory (default ./data)
#   JOURNEY_LISTEN address (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/release/journey
DATA=${JOURNEY_DATA:-./data}
LISTEN=${JOURNEY_LISTEN:-127.0.0.1:8080}
export JOURNEY_DATA="$DATA" JOURNEY_LISTEN="$LISTEN"

keys=$("$BIN" project demo --data "$DATA")
write_key=$(printf '%s' "$keys" | sed -n 's/.*"write_key":"\([^"]*\)".*/\1/p')
secret_key=$(printf '%s' "$keys" | sed -n 's/.*"secret_key":"\([^"]*\)".*/\1/p')
project_id=$(printf '%s' "$keys" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')

# A first history, so the dashboards and the model are not empty (once).
if [ -x "$BIN" ] && "$BIN" simulate --help >/dev/null 2>&1 && [ ! -e "$DATA/.demo-history" ]; then
    echo "Generating a demo history (journey simulate) ..."
    "$BIN" simulate --data "$DATA" --project demo --sessions 3000 --days 14 --seed 1 >/dev/null &&
        touch "$DATA/.demo-history"
    # ... and an exit-risk model trained on it (the server loads it at start).
    if [ ! -e "$DATA/models/current.json" ]; then
        echo "Training the exit-risk model on it (journey train) ..."
        "$BIN" train --data "$DATA" --project "${project_id:-1}" | sed 's/^/  /' || true
    fi
fi

cat <<BANNER

  Journey is starting on http://$LISTEN

    Dashboard   http://$LISTEN/          sign in with the secret key below
    Demo site   http://$LISTEN/demo/
    Write key   $write_key
    Secret key  $secret_key

  Send events:  curl -u $write_key: http://$LISTEN/v1/track \\
                  -d '{"event":"Hello","userId":"u1"}'
  Stop with Ctrl-C.

BANNER
exec "$BIN" serve --config journey.conf --data "$DATA" --listen "$LISTEN" --demo
