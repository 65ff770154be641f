#!/usr/bin/env bash
# The container image's build steps: the Dockerfile's build stage runs exactly this, and so does
# scripts/test.sh in CI (no container engine there) right after its release build, where configure and build
# are no-ops. Configures a Release build in BUILD_DIR (default build/release, the release preset's; extra
# -D options pass through), builds sigv4-sidecar, installs it stripped as DEST/usr/local/bin/sigv4-sidecar (what
# the image's final stage copies) and runs it once. No architecture is named: the build is native to wherever
# it runs (amd64 or arm64).
#   [BUILD_DIR=build/x] scripts/build-image-steps.sh DEST [-DOPTION=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:?usage: [BUILD_DIR=DIR] scripts/build-image-steps.sh DEST [-DOPTION=VALUE ...]}
shift
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" --target sigv4-sidecar -j "${BUILD_JOBS:-$(nproc)}"
install -D -m 0755 -s "$build/proxy/sigv4-sidecar" "$dest/usr/local/bin/sigv4-sidecar"
"$dest/usr/local/bin/sigv4-sidecar" --version
