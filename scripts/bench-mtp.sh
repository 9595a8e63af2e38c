#!/usr/bin/env bash
# Every MTP's round trips in one run, each beside its own floor measured in the same run:
# WebSocket (and the least USP exchange), agent-initiated WebSocket, MQTT through mosquitto,
# a 1 MiB GetResp over MQTT with and without an end-to-end session context (segments of 1024
# bytes and 64 KiB), STOMP through RabbitMQ, CoAP. Prints numbers only; nothing is asserted (machines differ:
# compare the ratios). Needs mosquitto and rabbitmq-server (scripts/setup-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
benches=(roundtrip dialled mtp_mqtt e2e_mqtt mtp_stomp coap)
args=()
for b in "${benches[@]}"; do args+=(--bench "$b"); done
cargo bench --no-run -p usp-home-tests "${args[@]}"
for b in "${benches[@]}"; do
    printf '\n==> %s\n' "$b"
    cargo bench -q -p usp-home-tests --bench "$b" 2>/dev/null | grep -v '^$'
done
