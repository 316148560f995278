#!/usr/bin/env bash
# Tear the BBS cluster down: containers, networks and volumes (the servers' data too),
# also after a failed or half-finished `up`. Never fails on what is already gone.
#   compose/down.sh [--keep-volumes]
# Env: COMPOSE_PROJECT_NAME (default bbs).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v podman >/dev/null || { echo "no podman here: nothing to tear down"; exit 0; }
project=${COMPOSE_PROJECT_NAME:-bbs}
volumes=-v
[[ ${1:-} == --keep-volumes ]] && volumes=

podman-compose -p "$project" down -t 5 $volumes --remove-orphans >/dev/null 2>&1 || true

# Whatever compose missed (a crashed up, a renamed service, a reconnected container).
label=label=io.podman.compose.project=$project
podman ps -aq --filter "$label" | xargs -r podman rm -f -t 0 >/dev/null
podman network ls -q --filter "$label" | xargs -r podman network rm -f >/dev/null
if [[ -n $volumes ]]; then
    podman volume ls -q --filter "$label" | xargs -r podman volume rm -f >/dev/null
fi
echo "project $project is down"
