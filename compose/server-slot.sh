#!/bin/sh
# Entrypoint for server replicas that share one data volume (compose `deploy.replicas`).
# Claims the first free slot server-0, server-1, ... under $BBS_DATA_DIR by holding an
# exclusive flock on server-N.lock for the life of the server, then runs
#   BBS_NAME=server-N BBS_DATA_DIR=$BBS_DATA_DIR/server-N  "$@"   (default: bbs server)
# So no two live servers ever share a database, and a replica that is restarted or
# recreated picks up a slot's name and data as a whole. BBS_NAME, if set, is used as is.
# Slots count from 0, as `bbs up` names its servers (server-0, server-1, ...).
set -eu
root=${BBS_DATA_DIR:-/data}
max=${BBS_MAX_SLOTS:-64}
[ "$#" -gt 0 ] || set -- bbs server
i=0
while [ "$i" -lt "$max" ]; do
    slot=server-$i
    exec 9>>"$root/$slot.lock"
    if flock -n 9; then
        mkdir -p "$root/$slot"
        export BBS_NAME="${BBS_NAME:-$slot}" BBS_DATA_DIR="$root/$slot"
        if [ "${BBS_LOG_FORMAT:-}" = json ]; then
            printf '{"level": "info", "event": "data_slot_claimed", "role": "server", "node": "%s", "actor": "bbs-server-slot", "data_dir": "%s"}\n' "$BBS_NAME" "$BBS_DATA_DIR"
        else
            echo "bbs-server-slot: claimed $BBS_DATA_DIR as $BBS_NAME"
        fi
        exec "$@"   # fd 9 stays open in the server, so the lock lives exactly as long as it
    fi
    exec 9>&-
    i=$((i + 1))
done
echo "bbs-server-slot: all $max slots under $root are taken" >&2
exit 1
