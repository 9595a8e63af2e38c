#!/usr/bin/env bash
# Builds the Broadband Forum reference USP agent (OB-USPA) that uspctl's tests run against
# (src-tauri/crates/uspctl/tests/reference_agent.rs), from the sources in ../shared/peers.
# Idempotent: Debian packages are installed only when missing, and ../shared/peers/build.sh
# skips the build when the binaries are already there (first build: about 3-6 min on 2 cores).
#
#   scripts/setup-peers.sh      builds into $CARGO_TARGET_DIR/peers (else target/peers) and prints
#                               the agent's path; scripts/test.sh exports it as USP_HOME_OBUSPA.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf 'setup-peers [%4ss]: %s\n' "$SECONDS" "$*" >&2; }
# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

shared="${USP_HOME_SHARED:-../shared}"
[ -x "$shared/peers/build.sh" ] || { echo "setup-peers: $shared/peers/build.sh not found" >&2; exit 1; }
out="$(realpath -m "${CARGO_TARGET_DIR:-target}")/peers"

# What build.sh needs (its header lists them).
APT_PACKAGES=(build-essential cmake autoconf automake libtool pkg-config libssl-dev
    libcurl4-openssl-dev libsqlite3-dev zlib1g-dev libmosquitto-dev)
# stdout is the agent's path alone: all else to stderr.
apt_ensure "${APT_PACKAGES[@]}" >&2

log "reference agent in $out"
"$shared/peers/build.sh" "$out" >&2
[ -x "$out/bin/obuspa" ] || { echo "setup-peers: $out/bin/obuspa was not built" >&2; exit 1; }
echo "$out/bin/obuspa"
