#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the release and the ASan+UBSan presets, runs ctest on both,
# then runs the libFuzzer target for a bounded time (FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

for preset in release asan; do
  echo "==> build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "==> ctest: $preset"
  ctest --preset "$preset"
done

echo "==> fuzz: canonical_fuzz for ${FUZZ_SECONDS:-60}s"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target canonical_fuzz
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus"/
# A crash, a failed invariant or a sanitizer report makes libFuzzer exit non-zero.
if ! build/fuzz/tests/fuzz/canonical_fuzz -max_total_time="${FUZZ_SECONDS:-60}" -print_final_stats=1 \
    "$corpus" >"$corpus.log" 2>&1; then
  tail -50 "$corpus.log"
  echo "==> fuzz: FAILED"
  exit 1
fi
grep -E '^(Done|stat::number_of_executed_units)' "$corpus.log" || true
rm -f "$corpus.log"
echo "==> all tests passed"
