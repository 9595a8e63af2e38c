#!/usr/bin/env bash
# Type-checks the app for every platform it ships on, from this Linux machine (part of
# scripts/test.sh). A `cargo check` needs no linker, but build scripts still run, and some compile
# C for the target. What this script gives them instead of each platform's SDK:
#
#   * `ring` (the TLS crypto) compiles C and assembly. Its sources build without any libc headers
#     when RING_CORE_NOSTDLIBINC is set (ring does so itself for wasm32 and musl); clang, which
#     cross-compiles to every target, does the rest. On MSVC, ring's internal.h still includes
#     <stdlib.h> for one compiler intrinsic, and on Apple targets its base.h includes
#     <TargetConditionals.h>: both get an empty header from us. Objects from a check are never
#     linked, so nothing of this reaches a binary.
#   * `objc2-exception-helper` (used by Tauri on Apple platforms) asks `xcrun` for the SDK path;
#     SDKROOT names an empty folder instead (its one file includes no header).
#   * `libsqlite3-sys` (the usage history's SQLite, compiled in with `bundled`) needs the C
#     library's headers for the target. A check takes SQLite's prebuilt Rust bindings instead
#     (LIBSQLITE3_SYS_USE_PKG_CONFIG with SQLITE3_LIB_DIR naming an empty folder: the build
#     script then only prints link lines, which a check never uses).
#
# What cannot be checked here: the app crate for aarch64-apple-darwin. Its notification plugin
# uses notify-rust, whose macOS backend `mac-notification-sys` compiles Objective-C against
# <Cocoa/Cocoa.h>, a header that exists only in Apple's macOS SDK (Xcode). For macOS the script
# checks everything else the app is built from: Tauri itself, app-core (keyring's macOS backend,
# mdns-sd), usp-client (rustls, ring), usp-core, usp-proto and ipc-types. The app crate's own code
# is the same code as on iOS, which is checked in full.
#
#   scripts/check-platforms.sh            all four targets
#   scripts/check-platforms.sh TARGET...  only these
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf 'check-platforms [%4ss]: %s\n' "$SECONDS" "$*" >&2; }
# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

TARGETS=(x86_64-pc-windows-msvc aarch64-apple-darwin aarch64-linux-android aarch64-apple-ios)
if (($#)); then TARGETS=("$@"); fi

apt_ensure clang llvm
installed="$(rustup target list --installed)"
for t in "${TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# The stand-ins named above, kept with the build cache.
stubs="$(realpath -m "${CARGO_TARGET_DIR:-target}")/platform-check"
mkdir -p "$stubs/include" "$stubs/sdk" "$stubs/sqlite"
: >"$stubs/include/stdlib.h"
: >"$stubs/include/TargetConditionals.h"
llvm_bin="$(llvm-config --bindir)"
cflags="-nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -isystem $stubs/include"

for t in "${TARGETS[@]}"; do
    v="${t//-/_}"
    archiver="$llvm_bin/llvm-ar"
    case "$t" in *-msvc) archiver="$llvm_bin/llvm-lib" ;; esac
    sdk=()
    case "$t" in *-apple-*) sdk=("SDKROOT=$stubs/sdk") ;; esac
    check() {
        log "cargo check --target $t $*"
        env "CC_$v=clang" "AR_$v=$archiver" "CFLAGS_$v=$cflags" "${sdk[@]}" \
            LIBSQLITE3_SYS_USE_PKG_CONFIG=1 "SQLITE3_LIB_DIR=$stubs/sqlite" \
            cargo check --target "$t" "$@"
    }
    case "$t" in
        aarch64-apple-darwin)
            # See the header: the app crate itself needs the macOS SDK. Tauri is checked on its
            # own (cargo takes a dependency with -p only beside a member that depends on it).
            check -p tauri --lib
            check -p app-core -p usp-client -p usp-core -p usp-proto -p ipc-types --lib ;;
        aarch64-linux-android)
            # And the UI crate, as the Android check did before the app crate could be checked.
            check -p usp-home -p usp-home-ui --lib ;;
        *) check -p usp-home ;;
    esac
done
log "every platform's check passed: ${TARGETS[*]}"
