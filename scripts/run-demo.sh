#!/usr/bin/env bash
# The README's run command: starts the simulated home (three USP agents on 127.0.0.1, announced
# over mDNS on loopback only) and the usp-home app discovering on loopback, so the home appears
# at once. The passcodes for pairing are printed. Closing the window stops everything.
#
#   scripts/run-demo.sh              the app on the simulated home (builds the UI and the app
#                                    the first time: ~10 min of compiling on 2 cores)
#   scripts/run-demo.sh --tour-only  no app: a short uspctl tour of the simulated home, then exit
#                                    (used by the test command)
#   scripts/run-demo.sh --tour       the uspctl tour, then stay up for your own uspctl commands
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=app
tour_only=0
for arg in "$@"; do
    case "$arg" in
        --tour-only) mode=tour; tour_only=1 ;;
        --tour) mode=tour ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "run-demo: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ "$mode" = app ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "run-demo: no display (DISPLAY/WAYLAND_DISPLAY unset), so the app window can't open." >&2
    echo "run-demo: run it in a desktop session, under 'xvfb-run -a', or try 'scripts/run-demo.sh --tour'." >&2
    exit 1
fi

target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="$target/debug"
if [ "$mode" = app ]; then
    # The app embeds the UI (custom-protocol): the same release build as scripts/e2e.sh uses.
    echo "run-demo: building the UI and the app (quick when nothing changed)"
    bash scripts/setup-deps.sh --ui | grep -v ': present$' || true
    bash scripts/build-app.sh
else
    bash scripts/setup-deps.sh >/dev/null
fi
cargo build --quiet -p sim-home -p uspctl

# The demo controller: provisioned with Full Access in the built-in scenario.
EID="self::usp-home-admin"
ready="$(mktemp)"
# Life: hosts come and go, sensors drift (deterministic for the seed). The app finds the agents
# over mDNS, announced on loopback only (never on your real network).
sim_args=(--tick 2000 --log warn --exit-on-stdin-close)
[ "$mode" = app ] && sim_args+=(--mdns-interfaces lo)
"$bin/usp-sim-home" "${sim_args[@]}" < <(sleep infinity) > "$ready" &
sim_pid=$!
app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    rm -f "$ready"
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
    [ "$(grep -c '^READY ' "$ready" || true)" -ge 3 ] && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "run-demo: usp-sim-home exited early" >&2; exit 1; }
    sleep 0.1
done
[ "$(grep -c '^READY ' "$ready" || true)" -ge 3 ] || { echo "run-demo: the simulated home did not start" >&2; exit 1; }

url_of() { awk -v n="$1" '$1=="READY"{i++; if(i==n) print $3}' "$ready"; }
GW="$(url_of 1)"; EXT="$(url_of 2)"; HUB="$(url_of 3)"

echo "The simulated home is up:"
sed 's/^READY /  agent /' "$ready"
echo

if [ "$mode" = app ]; then
    # Its own data folder (identity, settings) and an in-memory vault: the demo never touches
    # the data or keyring entries of a usp-home you use for real, and forgets its pairings on exit.
    data="${XDG_DATA_HOME:-$HOME/.local/share}/usp-home-demo"
    cat <<PASSCODES
Starting the usp-home app (data: $data). It finds the three devices by itself.
Pair each one with the passcode printed on its label:
  gateway   os::012345-GW0001   482913
  extender  os::012345-EX0001   730146
  hub       os::012345-HUB001   159372
(Three wrong tries lock pairing for 30 s.) Close the window to stop the demo.
PASSCODES
    USP_HOME_INTERFACES=lo USP_HOME_DATA_DIR="$data" USP_HOME_VAULT_BACKEND=memory USP_HOME_HISTORY_EVERY_SECS=15 \
        "$target/release/usp-home" &
    app_pid=$!
    status=0
    wait "$app_pid" || status=$?
    app_pid=""
    exit "$status"
fi

run() {
    printf '\n$ uspctl %s\n' "$*"
    "$bin/uspctl" --eid "$EID" "$@"
}

run --agent "$GW" protocol
run --agent "$GW" get Device.DeviceInfo.FriendlyName Device.DeviceInfo.ModelName Device.DeviceInfo.SoftwareVersion
run --agent "$GW" get 'Device.WiFi.SSID.*.SSID' 'Device.WiFi.AccessPoint.*.IsolationEnable'
run --agent "$GW" set Device.WiFi.SSID.3.Enable=false
run --agent "$GW" get 'Device.Hosts.Host.*.HostName'
run --agent "$GW" add Device.Hosts.AccessControl. PhysAddress=02:00:00:00:00:42 AccessPolicy=Deny Enable=true
run --agent "$GW" operate 'Device.IP.Diagnostics.IPPing()' Host=192.0.2.1 NumberOfRepetitions=3 --wait
run --agent "$GW" get 'Device.WiFi.DataElements.Network.Device.*.BackhaulMediaType' 'Device.WiFi.DataElements.Network.Device.*.BackhaulPHYRate'
run --agent "$EXT" get 'Device.WiFi.Radio.*.OperatingFrequencyBand'
run --agent "$HUB" get 'Device.IoTCapability.*.Name'
# Sensors drift on every life tick; watch two changes arrive (bounded, so it never hangs).
printf '\n$ uspctl --agent %s watch Device.IoTCapability. --kind value-change --count 2\n' "$HUB"
timeout 60 "$bin/uspctl" --eid "$EID" --agent "$HUB" watch Device.IoTCapability. --kind value-change --count 2

if [ "$tour_only" = 1 ]; then
    echo; echo "tour complete"
    exit 0
fi

cat <<HELP

Try it yourself (in another terminal, while this runs):
  $bin/uspctl --agent $GW --eid $EID get Device.WiFi.
  $bin/uspctl --agent $HUB --eid $EID watch 'Device.IoTCapability.' --kind value-change
  $bin/uspctl --agent $GW --eid $EID supported Device.Hosts. --first-level
Press Ctrl-C to stop the simulated home.
HELP
wait "$sim_pid"
