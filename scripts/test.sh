#!/usr/bin/env bash
# Runs every test of usp-home. This is the README's test command, and CI runs exactly it.
# On a fresh Debian machine it first installs what it needs (scripts/setup-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> [%4ss] %s\n' "$SECONDS" "$*"; }

step "installing build and test dependencies (idempotent)"
bash scripts/setup-deps.sh

step "unit, property, known-answer, in-memory, real-socket and hostile-agent tests"
cargo test --workspace --exclude usp-home --exclude usp-home-ui

step "benchmarks build and run once in test mode (cargo bench runs them for real)"
cargo test -p usp-core -p usp-home-tests --bench codec --bench roundtrip

step "the Tauri app crate builds and its tests pass"
cargo build -p usp-home
cargo test -p usp-home --lib

step "the UI crate builds for wasm32"
cargo check -p usp-home-ui --target wasm32-unknown-unknown

step "the demo runs its tour against the simulated home"
bash scripts/run-demo.sh --tour-only

step "all tests passed in ${SECONDS}s"
