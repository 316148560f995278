#!/usr/bin/env bash
# Prepare this machine for the browser tier (idempotent, run as root): Debian's headless
# Chromium and its driver, and Selenium (the `browser` extra). Selenium is pointed at
# /usr/bin/chromedriver, so it never tries to download a browser or a driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
for pkg in chromium chromium-driver fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "[browser setup] apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m pip install -q -e '.[test,browser]'
chromium --version
