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

# Each libFuzzer target for a bounded time (FUZZ_SECONDS each, default 30) over a scratch copy of its corpus.
# A crash, a failed invariant or a sanitizer report makes libFuzzer exit non-zero.
fuzzers=("canonical_fuzz:corpus:" "scrape_parse_fuzz:corpus_scrape:" "relabel_fuzz:corpus_relabel:-max_len=512")
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target canonical_fuzz scrape_parse_fuzz relabel_fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for entry in "${fuzzers[@]}"; do
  IFS=: read -r name corpus extra <<<"$entry"
  echo "==> fuzz: $name for ${FUZZ_SECONDS:-30}s"
  mkdir -p "$scratch/$name"
  cp tests/fuzz/"$corpus"/* "$scratch/$name"/
  # shellcheck disable=SC2086
  if ! build/fuzz/tests/fuzz/"$name" -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 $extra \
      "$scratch/$name" >"$scratch/$name.log" 2>&1; then
    tail -50 "$scratch/$name.log"
    echo "==> fuzz: $name FAILED"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$scratch/$name.log" || true
done
echo "==> all tests passed"
