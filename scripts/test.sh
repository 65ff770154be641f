#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the release, ASan+UBSan and TSan presets, runs ctest on each
# (TSan: the tests labelled tsan),
# then runs every libFuzzer target for a bounded time (FUZZ_SECONDS each, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

for preset in release asan tsan; do
  echo "==> build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  # The image's build steps (the Dockerfile runs the same script): no-ops here but the stripped install, which
  # deploy_image then runs.
  if [[ $preset == release ]]; then scripts/build-image-steps.sh build/release/image; fi
  echo "==> ctest: $preset"
  ctest --preset "$preset"
done

# Every libFuzzer target for a bounded time (FUZZ_SECONDS each, default 30) over a scratch copy of its corpus;
# a crash's input is kept in tests/fuzz/crashes/ (scripts/fuzz.sh says how).
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
echo "==> all tests passed"
