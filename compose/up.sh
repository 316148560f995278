#!/usr/bin/env bash
# Start the BBS cluster with podman-compose and pin the network bridge's MAC address.
#   compose/up.sh                  # the whole cluster, detached
#   compose/up.sh --build          # rebuild the image first (run compose/wheels.sh before
#                                  # if the dependencies changed)
# Env: COMPOSE_PROJECT_NAME (default bbs), BBS_IMAGE, BBS_SUBNET, BBS_BOT_INTERVAL,
# BBS_COMPOSE_FILES (compose files in order, e.g. "docker-compose.yml
# docker-compose.secure.yml" for secure mode; default docker-compose.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
project=${COMPOSE_PROJECT_NAME:-bbs}
files=()
for file in ${BBS_COMPOSE_FILES:-docker-compose.yml}; do files+=(-f "$file"); done

podman-compose -p "$project" "${files[@]}" up -d "$@"

# A Linux bridge takes the lowest MAC among its ports; when that container goes away the
# bridge's MAC changes and every container's ARP entry for the gateway (the DNS server)
# goes stale for tens of seconds. An explicitly set address never changes again.
for net in $(podman network ls -q --filter "label=io.podman.compose.project=$project"); do
    bridge=$(podman network inspect "$net" --format '{{.NetworkInterface}}')
    if [[ -e /sys/class/net/$bridge/address ]]; then
        ip link set "$bridge" address "$(cat "/sys/class/net/$bridge/address")"
        echo "pinned $bridge ($net) at $(cat "/sys/class/net/$bridge/address")"
    fi
done
podman ps --filter "label=io.podman.compose.project=$project" --format '{{.Names}}\t{{.Status}}'
