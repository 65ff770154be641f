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
