#!/usr/bin/env bash
# Starts the demo: the simulated home (three USP agents on 127.0.0.1) and a short
# uspctl tour of it. The README's run command. Stays up until Ctrl-C so you can try
# uspctl yourself; `--tour-only` exits after the tour (used by the test command).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tour_only=0
for arg in "$@"; do
    case "$arg" in
        --tour-only) tour_only=1 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "run-demo: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

bash scripts/setup-deps.sh >/dev/null
cargo build --quiet -p sim-home -p uspctl
bin="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug"

# The demo controller: provisioned with Full Access in the built-in scenario.
EID="self::usp-home-admin"
ready="$(mktemp)"
# Life: hosts come and go, sensors drift (deterministic for the seed).
"$bin/usp-sim-home" --tick 2000 --log warn --exit-on-stdin-close < <(sleep infinity) > "$ready" &
sim_pid=$!
cleanup() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$ready"; }
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
