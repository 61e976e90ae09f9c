#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
#
#   1. unit tests (cmocka), debug build
#   2. integration tests: the real server on loopback, real HTTP clients and SDKs (node --test)
#   3. the web parts built (node web/build.mjs), their unit tests, and the browser tests
#      (tests/e2e, real Chromium via playwright-core)
#   4. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   5. the libFuzzer targets over their seeds and past findings (fuzz/, docs/fuzzing.md)
#
# Each suite's TAP output is kept in build/test-logs/. Exit status is non-zero if
# anything failed or a suite could not run.
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"
passed=0
failed=0
broken=()

# Counts TAP results of one cmocka binary's output file.
count_cmocka() {
    local f=$1 p q
    p=$(grep -cE '^ok ' "$f")
    q=$(grep -cE '^not ok ' "$f")
    passed=$((passed + p))
    failed=$((failed + q))
}

# Counts node --test's summary lines.
count_node() {
    local f=$1 p q
    p=$(grep -E '^# pass ' "$f" | tail -1 | awk '{print $3}')
    q=$(grep -E '^# fail ' "$f" | tail -1 | awk '{print $3}')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${q:-0}))
    if [ -z "$p" ]; then broken+=("$f"); fi
}

run_unit() {
    local build=$1
    echo "== unit tests ($build)"
    if ! make -s -j"$JOBS" BUILD="$build" all unit-tests >"$LOGDIR/build-$build.log" 2>&1; then
        cat "$LOGDIR/build-$build.log"
        broken+=("build ($build)")
        return
    fi
    for t in $(find "build/$build/tests" -type f -name 'test_*' -perm -u+x | sort); do
        local name log
        name=$(basename "$t")
        log="$LOGDIR/$build-$name.tap"
        CMOCKA_MESSAGE_OUTPUT=tap "$t" >"$log" 2>&1
        local rc=$?
        count_cmocka "$log"
        if [ $rc -ne 0 ]; then
            echo "   FAIL $name"
            grep -E '^not ok|ERROR|error|Assertion' "$log" | head -20
            if ! grep -qE '^not ok ' "$log"; then
                failed=$((failed + 1))
                broken+=("$name ($build, exit $rc)")
            fi
        fi
    done
}

run_node() {
    local name=$1
    shift
    echo "== $name"
    local log="$LOGDIR/$name.tap"
    node --test --test-reporter=tap --test-concurrency="${NODE_TEST_CONCURRENCY:-2}" "$@" >"$log" 2>&1
    local rc=$?
    count_node "$log"
    if [ $rc -ne 0 ]; then
        grep -B2 -A25 -E '^\s*not ok' "$log" | head -120
    fi
}

run_unit debug

export JOURNEY_BIN="$PWD/build/debug/journey"
echo "== web build (tracker, demo, dashboard)"
if ! node web/build.mjs >"$LOGDIR/web-build.log" 2>&1; then
    tail -40 "$LOGDIR/web-build.log"
    broken+=("web build")
fi
export E2E_SKIP_BUILD=1 # built just now
run_node integration tests/integration/*.test.mjs
if compgen -G "web/tracker/test/*.test.mjs" >/dev/null; then
    run_node tracker web/tracker/test/*.test.mjs
fi
if compgen -G "tests/e2e/*.test.mjs" >/dev/null; then
    NODE_TEST_CONCURRENCY=1 run_node e2e tests/e2e/*.test.mjs
fi

run_unit asan

# 5. the fuzz targets over their committed seeds and every past finding (no
#    mutation: seconds once built); one result per target.
echo "== fuzz regressions (make -C fuzz smoke)"
if ! make -s -C fuzz -j"$JOBS" >"$LOGDIR/build-fuzz.log" 2>&1; then
    tail -40 "$LOGDIR/build-fuzz.log"
    broken+=("build (fuzz)")
else
    for t in fuzz/fuzz_*.c; do
        name=$(basename "$t" .c)
        if make -s -C fuzz "smoke-$name" >"$LOGDIR/$name.log" 2>&1; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "   FAIL $name"
            tail -20 "$LOGDIR/$name.log"
        fi
    done
fi

for b in "${broken[@]+"${broken[@]}"}"; do
    echo "suite did not complete: $b"
done
echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ] || [ ${#broken[@]} -ne 0 ]; then
    exit 1
fi
