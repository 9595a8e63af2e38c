#!/usr/bin/env bash
# Run a command against a real, throwaway platform keyring. The vault tests
# (src-tauri/crates/app-core/tests/vault.rs) re-run themselves through it; it is also handy by hand.
#
#   scripts/vault-test.sh secret-service CMD [ARG...]
#       CMD runs in a private D-Bus session with its own unlocked GNOME Keyring (Secret Service),
#       whose files live in a temporary HOME removed afterwards. Debian: dbus gnome-keyring
#       libsecret-tools.
#   scripts/vault-test.sh kernel-keyutils CMD [ARG...]
#       CMD runs with a new anonymous kernel session keyring. Debian: keyutils.
#
# Exits with CMD's status; 3 if the keyring could not be started.
set -euo pipefail

mode="${1:-}"
if [ "$#" -lt 2 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
shift

case "$mode" in
kernel-keyutils)
    exec keyctl session - "$@"
    ;;
secret-service)
    if [ -z "${USP_HOME_VAULT_TEST_BUS:-}" ]; then
        # dbus-run-session starts a session bus, runs us in it and stops it when we exit.
        USP_HOME_VAULT_TEST_BUS=1 exec dbus-run-session -- "$0" secret-service "$@"
    fi
    unset USP_HOME_VAULT_TEST_BUS
    home="$(mktemp -d)"
    export HOME="$home" XDG_DATA_HOME="$home/share" XDG_CONFIG_HOME="$home/config" \
        XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/run"
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    # --foreground keeps the daemon our child, so it is stopped here and not left to init.
    printf 'vault-test' | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null &
    daemon=$!
    trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$home"' EXIT
    owned() {
        dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
            grep -q 'boolean true'
    }
    for _ in $(seq 50); do
        owned && break
        sleep 0.1
    done
    if ! owned; then
        echo "vault-test: gnome-keyring-daemon did not take org.freedesktop.secrets within 5 s" >&2
        exit 3
    fi
    status=0
    "$@" || status=$?
    exit "$status"
    ;;
*)
    echo "vault-test: unknown mode '$mode' (secret-service or kernel-keyutils)" >&2
    exit 2
    ;;
esac
