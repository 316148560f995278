#!/usr/bin/env bash
# Fill compose/wheels/ with wheels of the project's dependencies and of its build backend,
# for the image's Python (CPython 3.11 on Debian bookworm), so that the image build can
# install the project from source offline. The project itself is not put in the
# wheelhouse, so a stale wheelhouse can never put stale code in the image.
# Env: BBS_WHEEL_ARCH (default: this machine's, e.g. x86_64 or aarch64), PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
out=compose/wheels
arch=${BBS_WHEEL_ARCH:-$(uname -m)}
[[ $arch == arm64 ]] && arch=aarch64
python=${PYTHON:-python3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Build the project wheel (only to learn its dependencies) from a copy of the tree,
# so setuptools leaves no build/ or *.egg-info behind in the work tree.
mkdir "$tmp/src" "$tmp/dist"
tar -c --exclude=./.git --exclude="./$out" --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=./.venv . | tar -x -C "$tmp/src"
"$python" -m pip wheel -q --no-deps -w "$tmp/dist" "$tmp/src"
"$python" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
    > "$tmp/build-requires.txt"

# Wheels that run on bookworm (glibc 2.36); pip does not widen an explicit platform.
platforms=(--platform "manylinux2014_$arch")
for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
rm -rf "$out" && mkdir -p "$out"
"$python" -m pip download -q -d "$out" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    "${platforms[@]}" "$tmp"/dist/*.whl -r "$tmp/build-requires.txt"
rm -f "$out"/"$(basename "$tmp"/dist/*.whl)"
ls "$out"
