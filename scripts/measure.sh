#!/usr/bin/env bash
# Measures usp-home and prints the numbers (asserts nothing): start to first interactive screen,
# memory once the home is shown, memory with two years of usage history for 200 devices and a
# usage chart open, release binary size, UI wasm size (raw and gzip), and the .deb size when the
# tauri CLI is installed (scripts/setup-deps.sh --bundle).
# Targets from issue 4: start < 1 s, RSS < 150 MB, binary < 15 MB, wasm < 1.5 MB (< 500 KB gzip).
#
#   scripts/measure.sh            build (shared with scripts/e2e.sh), then measure
#   scripts/measure.sh --no-build measure what is built
#   scripts/measure.sh --deb      also install the tauri CLI (npm, prebuilt) and bundle the .deb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=1
deb=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --deb) deb=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "measure: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
app="$target/release/usp-home"
if [ "$build" = 1 ]; then
    bash scripts/e2e.sh --build-only
fi
[ "$deb" = 1 ] && bash scripts/setup-deps.sh --bundle | grep -v ': present$' || true

mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1048576 }'; }
kb() { awk -v b="$1" 'BEGIN { printf "%.0f KB", b / 1024 }'; }

out="$target/e2e"
mkdir -p "$out"
export USP_E2E_APP="$app" USP_E2E_BIN_DIR="$target/debug" USP_E2E_OUT="$out"
cargo test --no-run --quiet -p usp-home-tests --features e2e --test measure
# Two years of usage history for 200 devices (about a minute in a release build, once for the 3
# runs; each run starts the app on a copy): the simulated home's device whose chart is opened
# comes first. Release: the app's release build already holds its dependencies, and a debug fill
# takes four times as long.
cargo build --quiet --release -p usp-history --bin usp-history-fill
USP_E2E_HISTORY="$out/history-2y-200"
rm -rf "$USP_E2E_HISTORY"
echo "measure: filling two years of usage history for 200 devices"
"$target/release/usp-history-fill" "$USP_E2E_HISTORY" 200 3C:22:FB:50:60:03 A4:83:E7:10:20:01 B8:27:EB:11:22:02
export USP_E2E_HISTORY
# The reference agent, for "start to a real agent's state shown" (built once).
if [ -z "${USP_HOME_OBUSPA:-}" ]; then
    USP_HOME_OBUSPA="$(bash scripts/setup-peers.sh)"
    export USP_HOME_OBUSPA
fi
echo "measure: starting the app in a virtual display (3 runs; the first one warms the caches)"
runs="$(mktemp)"
trap 'rm -f "$runs"' EXIT
wrap=()
# A private network namespace when possible, as in scripts/e2e.sh (USP_E2E_NETNS=0 turns it off).
if [ "${USP_E2E_NETNS:-auto}" != 0 ] && unshare --net -- sh -c 'ip link set lo up' 2>/dev/null; then
    wrap=(unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh)
fi
for i in 1 2 3; do
    "${wrap[@]}" xvfb-run -a --server-args="-screen 0 1600x1000x24" \
        cargo test --offline --quiet -p usp-home-tests --features e2e --test measure 2>"$out/measure-run$i.log" \
        | sed "s/^/run$i /" >> "$runs" || true
    if ! grep -q "^run$i " "$runs"; then
        # No numbers from this run: say why (the panic line), the full log stays in $out.
        why="$(grep -m1 -A1 "panicked at" "$out/measure-run$i.log" | tail -n1 || true)"
        echo "measure: run $i gave no numbers: ${why:-see $out/measure-run$i.log}" >&2
    fi
done

median() { # name -> median value over the runs
    grep " $1 " "$runs" | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END { if (NR) print v[int((NR+1)/2)] }'
}

wasm="$(ls -S ui/dist/*.wasm 2>/dev/null | head -n1 || true)"
deb_file="$(ls -t "$target"/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)"
tauri_cli="$target/tools/node_modules/.bin/tauri"
if [ -x "$tauri_cli" ]; then
    echo "measure: bundling the .deb from the release build (tauri bundle)"
    (cd src-tauri && "$tauri_cli" bundle --bundles deb >/dev/null 2>&1) && \
        deb_file="$(ls -t "$target"/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)"
fi

echo
echo "usp-home measurements ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)        target"
printf '  %-44s %10s ms    < 1000 ms\n' "app process start to home shown with data" "$(median process_start_to_home_shown_ms)"
printf '  %-44s %10s ms\n' "  of which in the page (data in and painted)" "$(median page_load_to_home_shown_ms)"
printf '  %-44s %10s ms\n' "  as WebDriver's 100 ms poll first saw it" "$(median process_start_to_home_ready_ms)"
printf '  %-44s %10s ms\n' "session request to home page with data" "$(median start_to_home_ready_ms)"
printf '  %-44s %10s ms\n' "start to first discovered agent shown" "$(median start_to_first_agent_ms)"
printf '  %-44s %10s ms\n' "app start to a real agent's state shown" "$(median process_start_to_real_agent_state_ms)"
printf '  %-44s %10s MB    < 150 MB\n' "RSS of the app process, home shown" "$(median rss_app_mb)"
printf '  %-44s %10s MB\n' "  of which its own memory (RssAnon)" "$(median rss_app_anon_mb)"
printf '  %-44s %10s MB\n' "  of which mapped libraries (RssFile)" "$(median rss_app_file_mb)"
printf '  %-44s %10s MB\n' "    of those, Mesa software OpenGL (no GPU)" "$(median rss_app_soft_gl_mb)"
printf '  %-44s %10s MB\n' "  PSS of the app process" "$(median pss_app_mb)"
printf '  %-44s %10s MB\n' "  with its WebKit processes" "$(median rss_app_and_webkit_mb)"
printf '  %-44s %10s MB    < 150 MB\n' "RSS, 2 years x 200 devices, usage chart open" "$(median rss_history_app_mb)"
printf '  %-44s %10s MB\n' "  of which its own memory (RssAnon)" "$(median rss_history_app_anon_mb)"
printf '  %-44s %10s MB\n' "  its peak (VmHWM)" "$(median rss_history_app_peak_mb)"
printf '  %-44s %10s MB\n' "  the history file" "$(median history_file_mb)"
printf '  %-44s %13s    < 15 MB\n' "release binary (usp-home)" "$(mb "$(stat -c %s "$app")")"
if [ -n "$wasm" ]; then
    printf '  %-44s %13s    < 1.5 MB\n' "UI wasm, raw" "$(kb "$(stat -c %s "$wasm")")"
    printf '  %-44s %13s    < 500 KB\n' "UI wasm, gzip -9" "$(kb "$(gzip -9 -c "$wasm" | wc -c)")"
fi
if [ -n "$deb_file" ]; then
    printf '  %-44s %13s\n' ".deb ($(basename "$deb_file"))" "$(mb "$(stat -c %s "$deb_file")")"
else
    echo "  .deb: not built (scripts/measure.sh --deb installs the tauri CLI and bundles it)"
fi
