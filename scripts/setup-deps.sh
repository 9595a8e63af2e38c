#!/usr/bin/env bash
# Install what building and testing usp-home needs on Debian 12. Idempotent: every step is
# skipped when its tool or package is already there at the right version.
#
#   scripts/setup-deps.sh          system packages + wasm32 target: enough for `cargo build -p usp-home`
#                                  and `cargo check -p usp-home-ui --target wasm32-unknown-unknown`
#   scripts/setup-deps.sh --ui     also trunk + wasm-bindgen-cli (about 11 min of `cargo install` on 2 cores
#                                  the first time), needed by `trunk build` and release/custom-protocol builds
#   scripts/setup-deps.sh --e2e    --ui, plus tauri-driver 2.1.0 (cargo install, about 1 min), openbox, wmctrl, xdotool
#                                  and xwd (x11-apps) for the end-to-end tests in the real window (scripts/e2e.sh)
#   scripts/setup-deps.sh --bundle --ui, plus the tauri CLI (npm @tauri-apps/cli, prebuilt, into
#                                  <target dir>/tools) to build the .deb (scripts/measure.sh)
#
# USP_HOME_SETUP_UI=1 in the environment is the same as --ui.
# Nothing here downloads from anywhere but Debian's archive, crates.io and npm.
set -euo pipefail

TRUNK_VERSION="0.21.14"          # 0.22 needs a newer rustc
WASM_BINDGEN_VERSION="0.2.130"   # must equal the wasm-bindgen crate pinned in ui/Cargo.toml
WASM_TARGET="wasm32-unknown-unknown"

TAURI_DRIVER_VERSION="2.1.0"     # WebDriver bridge: fantoccini -> tauri-driver -> WebKitWebDriver
TAURI_CLI_VERSION="2.12.5"       # npm @tauri-apps/cli, same minor as the tauri crate

want_ui="${USP_HOME_SETUP_UI:-0}"
want_e2e=0
want_bundle=0
for arg in "$@"; do
    case "$arg" in
        --ui) want_ui=1 ;;
        --e2e) want_ui=1; want_e2e=1 ;;
        --bundle) want_ui=1; want_bundle=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "setup-deps: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { printf 'setup-deps [%4ss]: %s\n' "$SECONDS" "$*"; }
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

# --- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(
    # WebKitGTK shell of Tauri 2 on Linux
    libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
    librsvg2-dev libayatana-appindicator3-dev libxdo-dev
    build-essential pkg-config libssl-dev
    # a real window without a display, and the WebDriver for end-to-end tests
    xvfb xauth webkit2gtk-driver
    # `ip netns` for network tests confined to namespaces
    iproute2
    keyutils dbus gnome-keyring libsecret-tools libdbus-1-dev  # vault: real keyrings in tests; libdbus for keyring's Secret Service
    # real message brokers for the MQTT and STOMP MTPs (tests start their own on loopback ports)
    mosquitto rabbitmq-server
)

apt_ensure "${APT_PACKAGES[@]}"

# --- Rust target for the UI ------------------------------------------------------------------
if rustup target list --installed | grep -qx "$WASM_TARGET"; then
    log "rust target $WASM_TARGET: present"
else
    log "adding rust target $WASM_TARGET"
    rustup target add "$WASM_TARGET"
fi

# --- UI build tools (optional) ---------------------------------------------------------------
# `tool --version` prints e.g. "trunk 0.21.14" / "wasm-bindgen 0.2.130".
has_version() { # tool version
    command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qw -- "$2"
}

if [ "$want_ui" = "1" ]; then
    if has_version trunk "$TRUNK_VERSION"; then
        log "trunk $TRUNK_VERSION: present"
    else
        # trunk's own release profile is fat LTO in one codegen unit: 12.7 min on 2 cores in a cold
        # CI run. trunk only starts cargo and wasm-bindgen, so its own speed does not matter: without
        # LTO and with 16 codegen units it needs 14 min of CPU, about 7 min on 2 cores.
        log "installing trunk $TRUNK_VERSION (cargo install, about 7 minutes)"
        CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            cargo install --locked trunk --version "$TRUNK_VERSION"
    fi
    if has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
        log "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
    else
        # Not --locked: its own Cargo.lock pins a crate version that crates.io no longer serves.
        log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, about 4 minutes)"
        cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
    fi
else
    log "UI tools (trunk, wasm-bindgen-cli) skipped; pass --ui to install them"
fi

# --- End-to-end driver (optional) -------------------------------------------------------------
if [ "$want_e2e" = "1" ]; then
    # The tray step closes the window through a window manager, as a person does (tests/e2e/tray.rs);
    # the firmware step drives the system's file dialog by keyboard and takes screenshots of the
    # whole screen (tests/e2e/xwindow.rs).
    apt_ensure openbox wmctrl xdotool x11-apps
    # tauri-driver has no --version; cargo's install list records what it installed.
    if command -v tauri-driver >/dev/null 2>&1 &&
        cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
        log "tauri-driver $TAURI_DRIVER_VERSION: present"
    else
        log "installing tauri-driver $TAURI_DRIVER_VERSION (cargo install, about 1 minute)"
        cargo install --locked tauri-driver --version "$TAURI_DRIVER_VERSION"
    fi
fi

# --- Bundler (optional) ----------------------------------------------------------------------
if [ "$want_bundle" = "1" ]; then
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    # the same target folder as the builds (CARGO_TARGET_DIR when set: CI points it outside the clone)
    tools="$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/tools"
    if [ -x "$tools/node_modules/.bin/tauri" ] &&
        "$tools/node_modules/.bin/tauri" --version 2>/dev/null | grep -qw -- "$TAURI_CLI_VERSION"; then
        log "tauri CLI $TAURI_CLI_VERSION: present ($tools)"
    else
        if ! command -v npm >/dev/null 2>&1; then
            log "installing Debian packages: nodejs npm (for the tauri CLI)"
            sudo=""
            if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
        fi
        log "installing the tauri CLI $TAURI_CLI_VERSION (npm, prebuilt) into $tools"
        mkdir -p "$tools"
        npm install --silent --no-audit --no-fund --prefix "$tools" "@tauri-apps/cli@$TAURI_CLI_VERSION"
    fi
fi

log "done"
