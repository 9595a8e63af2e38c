#!/usr/bin/env bash
# Builds the app as users and the end-to-end tests run it: the UI (trunk build --release), then the
# release app with the UI embedded (--features custom-protocol). Used by scripts/run-demo.sh,
# scripts/e2e.sh and, through e2e, scripts/measure.sh. Expects the UI tools on PATH
# (scripts/setup-deps.sh --ui).
#
# trunk rewrites ui/dist on every build, and a rewritten dist makes cargo re-embed it into the app
# (minutes of release compiling): the UI is built only when its inputs are newer than dist.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ui_stale() {
    [ -f ui/dist/index.html ] || return 0
    [ -n "$(find ui/src ui/index.html ui/style.css ui/Cargo.toml ui/Trunk.toml src-tauri/crates/ipc-types .cargo \
        Cargo.toml Cargo.lock -newer ui/dist/index.html -print -quit 2>/dev/null)" ]
}

if ui_stale; then
    echo "build-app: UI: trunk build --release"
    (cd ui && trunk build --release)
else
    echo "build-app: UI: ui/dist is up to date"
fi
echo "build-app: app: cargo build --release -p usp-home --features custom-protocol"
cargo build --release -p usp-home --features custom-protocol
