#!/usr/bin/env bash
# Runs every test of usp-home. This is the README's test command, and CI runs exactly it.
# On a fresh Debian machine it first installs what it needs (scripts/setup-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> [%4ss] %s\n' "$SECONDS" "$*"; }

step "installing build and test dependencies (idempotent)"
bash scripts/setup-deps.sh

step "the reference agent (OB-USPA) that uspctl's tests run against (built once, idempotent)"
USP_HOME_OBUSPA="$(bash scripts/setup-peers.sh)"
export USP_HOME_OBUSPA

step "unit, property, known-answer, in-memory, real-socket and hostile-agent tests"
cargo test --workspace --exclude usp-home --exclude usp-home-ui

step "fuzzing: every cargo-fuzz target (codec, link engine) for 60 s; a crash fails the run (scripts/fuzz.sh for long runs)"
# cargo-fuzz and the targets first; then, while the fuzzers run, the window suite's tools
# (trunk, wasm-bindgen, tauri-driver; about 11 min of `cargo install` on a fresh machine, nothing
# once installed) build in the background: a fuzzer keeps one core busy, the install the other.
# Waited for before the window suite.
bash scripts/fuzz.sh --setup-only
tools_log="$(mktemp)"
bash scripts/setup-deps.sh --e2e >"$tools_log" 2>&1 &
tools_pid=$!
trap 'kill "$tools_pid" 2>/dev/null || true; rm -f "$tools_log"' EXIT
bash scripts/fuzz.sh 60

step "benchmarks build and run once in test mode (cargo bench runs them for real)"
cargo test -p usp-core -p usp-home-tests -p usp-history --bench codec --bench history --bench roundtrip --bench coap --bench mtp_stomp --bench mtp_mqtt --bench dialled --bench e2e_mqtt

step "the Tauri app crate's tests (command list, capabilities, CSP, live forwarding, environment)"
cargo test -p usp-home --lib

step "the UI crate: host tests of its model logic, and a wasm32 check"
cargo test -p usp-home-ui
cargo check -p usp-home-ui --target wasm32-unknown-unknown

step "the app type-checks for Windows, macOS, Android and iOS (cargo check per target; what cannot be checked and why: scripts/check-platforms.sh)"
bash scripts/check-platforms.sh

step "the demo runs its tour against the simulated home"
bash scripts/run-demo.sh --tour-only

step "end-to-end tests in the real app window (release build with the UI embedded, under Xvfb)"
if ! wait "$tools_pid"; then
    cat "$tools_log" >&2
    echo "test: installing the window suite's tools failed (above)" >&2
    exit 1
fi
grep -v ': present$' "$tools_log" || true
bash scripts/e2e.sh

step "measurements (numbers only, nothing asserted; same release build)"
bash scripts/measure.sh --no-build

step "all tests passed in ${SECONDS}s"
