#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ (the codec and the link engine) for SECONDS each.
#
#   scripts/fuzz.sh [SECONDS]        # default 600 s per target; scripts/test.sh runs it with 60
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 36000   # stop a target after that many executions
#   FUZZ_TARGETS="link_records" scripts/fuzz.sh 300   # only these targets
#   scripts/fuzz.sh --setup-only     # install cargo-fuzz and build the targets, run nothing
#
# Installs cargo-fuzz when missing. Uses the nightly toolchain when rustup has one, else the
# stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags). The code under test forbids
# `unsafe`, so targets build without a sanitizer (about twice the executions per second);
# debug assertions (overflow checks) stay on. Corpora grow in fuzz/corpus/<target>, crashes
# land in fuzz/artifacts/<target>; a crash fails this script. With CARGO_TARGET_DIR set, the
# fuzz build goes to $CARGO_TARGET_DIR/fuzz.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

setup_only=0
if [ "${1:-}" = --setup-only ]; then
    setup_only=1
    shift
fi
secs="${1:-600}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
fi

fuzz=(cargo "${toolchain[@]}" fuzz)
flags=(--sanitizer none --debug-assertions)
targets="${FUZZ_TARGETS:-$("${fuzz[@]}" list)}"

"${fuzz[@]}" build "${flags[@]}"
[ "$setup_only" = 1 ] && exit 0
status=0
for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
    [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
    echo "==> fuzzing $t for up to ${secs}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs}"
    log="$(mktemp)"
    set +e
    "${fuzz[@]}" run "${flags[@]}" "$t" -- "${args[@]}" >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^Done|stat::number_of_executed_units|panicked|SUMMARY|Test unit written|deadly signal' "$log" || true
    if [ "$rc" -ne 0 ] || grep -q 'Test unit written' "$log"; then
        echo "!!! $t failed (exit $rc); the input is in fuzz/artifacts/$t; log: $log" >&2
        tail -n 40 "$log" >&2
        status=1
    else
        rm -f "$log"
    fi
done
exit "$status"
