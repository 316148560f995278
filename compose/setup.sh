#!/usr/bin/env bash
# Prepare this machine to run the BBS cluster with podman (idempotent, run as root):
#   podman + runc + debootstrap, podman-compose >= 1.6, a containers.conf drop-in,
#   a debootstrapped stand-in for the Dockerfile's base image, the wheelhouse and the image.
# Env: BBS_IMAGE (default bbs:latest), BBS_BASE_IMAGE (default the Dockerfile's FROM),
#      BBS_REBUILD_BASE=1 to rebuild the base image.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
log() { printf '[setup %3ds] %s\n' $((SECONDS - started)) "$*"; }

# 1. Debian packages.
missing=()
# (catatonit is the init behind `init: true`; aardvark-dns resolves service names)
for pkg in podman runc catatonit aardvark-dns debootstrap iproute2 nftables python3-venv; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. podman-compose >= 1.6 in its own venv (Debian's 1.0.3 ignores ipam subnets).
venv=/opt/podman-compose
if ! "$venv/bin/podman-compose" --version 2>/dev/null | grep -qE 'podman-compose version 1\.([6-9]|[1-9][0-9])'; then
    log "installing podman-compose into $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'podman-compose>=1.6,<2'
fi
ln -sf "$venv/bin/podman-compose" /usr/local/bin/podman-compose

# 3. Engine settings: crun fails on this cgroup layout, and the default ulimits are refused.
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/50-bbs.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF

# 4. Base image: no registry is reachable, so debootstrap a stand-in for the Dockerfile's FROM.
base=${BBS_BASE_IMAGE:-$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)}
if [[ ${BBS_REBUILD_BASE:-} == 1 ]] || ! podman image exists "$base"; then
    mirror=$(awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm( |$)/ { print u; exit }' \
                 /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
                                   /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "debootstrap bookworm from $mirror -> $base"
    root=$(mktemp -d /var/tmp/bbs-rootfs.XXXXXX)
    trap 'rm -rf "$root" "$root.log"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python3-cffi-backend \
        bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | podman import -q --change 'CMD ["bash"]' - "$base" >/dev/null
    rm -rf "$root" "$root.log"
    trap - EXIT
fi

# 5. Wheelhouse (pip cannot verify TLS inside an image build here) and the project image.
log "building wheelhouse"
compose/wheels.sh
log "building image ${BBS_IMAGE:-bbs:latest}"
podman build -q -t "${BBS_IMAGE:-bbs:latest}" -f Dockerfile . >/dev/null
log "done"
