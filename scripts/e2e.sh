#!/usr/bin/env bash
# End-to-end tests in the real app window: fantoccini -> tauri-driver -> WebKitWebDriver -> the
# usp-home app (WebKitGTK) under Xvfb, against usp-sim-home's agents announced on loopback
# (tests/e2e/main.rs), then against the Broadband Forum's reference agent, OB-USPA
# (tests/e2e/reference.rs; scripts/setup-peers.sh builds it when $USP_HOME_OBUSPA is not set).
# Screenshots of every page land in target/e2e/. Part of scripts/test.sh.
#
#   scripts/e2e.sh               build what is needed, then run the suite
#   scripts/e2e.sh --build-only  only build: the UI (trunk build --release), the app
#                                (release, --features custom-protocol), usp-sim-home and uspctl
#   scripts/e2e.sh --no-build    run against what is built already
#   scripts/e2e.sh --netns       require a private network namespace (`unshare --net`, root), so no
#                                other program's mDNS on loopback meets the test's; by default it is
#                                used when it works, else the suite runs on the machine's loopback
#
# The app is the release build with the UI embedded (custom-protocol), the same binary that
# scripts/measure.sh measures, so the suite and the measurement share one release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=1
run=1
netns="${USP_E2E_NETNS:-auto}"
for arg in "$@"; do
    case "$arg" in
        --build-only) run=0 ;;
        --no-build) build=0 ;;
        --netns) netns=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "e2e: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
step() { printf 'e2e [%4ss]: %s\n' "$SECONDS" "$*"; }

target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
app="$target/release/usp-home"

if [ "$build" = 1 ]; then
    step "tools (trunk, wasm-bindgen, tauri-driver; skipped when present)"
    bash scripts/setup-deps.sh --e2e | grep -v ': present$' || true
    step "the UI and the release app (scripts/build-app.sh)"
    bash scripts/build-app.sh
    step "usp-sim-home and uspctl"
    cargo build -p sim-home -p uspctl
fi
[ "$run" = 1 ] || exit 0
if [ -z "${USP_HOME_OBUSPA:-}" ]; then
    step "the reference agent (scripts/setup-peers.sh; built once)"
    USP_HOME_OBUSPA="$(bash scripts/setup-peers.sh)"
    export USP_HOME_OBUSPA
fi

[ -x "$app" ] || { echo "e2e: $app is missing; run without --no-build" >&2; exit 1; }
out="$target/e2e"
mkdir -p "$out"
rm -rf "$out"/*.png "$out"/failure.html "$out"/app-* "$out"/uspctl-* "$out"/measure-*
step "the suite, in a virtual display (screenshots: $out)"
export USP_E2E_APP="$app" USP_E2E_BIN_DIR="$target/debug" USP_E2E_OUT="$out"
# Compile the test first, out here where crates.io is reachable (the namespace has no network).
cargo test --no-run --quiet -p usp-home-tests --features e2e --test e2e --test e2e_reference --test e2e_broker --test measure
wrap=()
if [ "$netns" = auto ]; then
    if unshare --net -- sh -c 'ip link set lo up' 2>/dev/null; then netns=1; else netns=0; fi
fi
if [ "$netns" = 1 ]; then
    step "in a private network namespace (loopback only)"
    wrap=(unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh)
fi
# A screen larger than the 1280x800 window, so the window is never clipped. Built already, so
# cargo needs no network (there is none in the namespace).
"${wrap[@]}" xvfb-run -a --server-args="-screen 0 1600x1000x24" \
    cargo test --offline -p usp-home-tests --features e2e --test e2e --test e2e_reference --test e2e_broker -- --nocapture
step "passed; screenshots:"
ls "$out"/*.png | sed 's/^/  /'
