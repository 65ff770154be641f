#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: builds the fuzz preset's libFuzzer targets and runs each for SECONDS (default 30)
# over a scratch copy of its seed corpus, printing its executions and exec/s (-print_final_stats=1). A crash, a
# failed invariant, a sanitizer report, a leak, a timeout or an out-of-memory makes libFuzzer exit non-zero:
# the target's last 50 log lines are printed, libFuzzer's artifact (crash-*, leak-*, timeout-*, oom-*) is
# copied to tests/fuzz/crashes/NAME-ARTIFACT, and after the other targets have run the script exits 1.
# FUZZ_BUILD_JOBS: build parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "usage: $0 [SECONDS]   (seconds per target, default 30)" >&2
  exit 2
fi

# name:corpus directory under tests/fuzz:extra libFuzzer flags
fuzzers=(
  "canonical_fuzz:corpus:"
  "scrape_parse_fuzz:corpus_scrape:"
  "relabel_fuzz:corpus_relabel:-max_len=512"
  "config_fuzz:corpus_config:"
  "profile_fuzz:corpus_profile:"
  "creds_json_fuzz:corpus_creds_json:"
  "remote_write_fuzz:corpus_remote_write:"
  "front_door_fuzz:corpus_front_door:-max_len=8192"
)
names=()
for entry in "${fuzzers[@]}"; do names+=("${entry%%:*}"); done

echo "==> fuzz: build ${names[*]}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --parallel "${FUZZ_BUILD_JOBS:-2}" --target "${names[@]}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for entry in "${fuzzers[@]}"; do
  IFS=: read -r name corpus extra <<<"$entry"
  echo "==> fuzz: $name for ${seconds}s"
  mkdir -p "$scratch/$name/corpus" "$scratch/$name/artifacts"
  cp tests/fuzz/"$corpus"/* "$scratch/$name/corpus/"
  log="$scratch/$name/log"
  # -timeout: one input running 10 s is a hang (a timeout-* artifact), and keeps the run bounded.
  # shellcheck disable=SC2086
  if build/fuzz/tests/fuzz/"$name" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$scratch/$name/artifacts/" $extra "$scratch/$name/corpus" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$name")
    tail -50 "$log"
    mkdir -p tests/fuzz/crashes
    shopt -s nullglob
    for artifact in "$scratch/$name/artifacts"/{crash,leak,timeout,oom}-*; do
      kept="tests/fuzz/crashes/$name-$(basename "$artifact")"
      cp "$artifact" "$kept"
      echo "==> fuzz: $name: input kept in $kept (reproduce: build/fuzz/tests/fuzz/$name $kept)"
    done
    shopt -u nullglob
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "==> fuzz: $name $status: ${execs:-?} executions, ${rate:-?} exec/s"
  summary+=("$(printf '%-20s %-7s %12s executions %8s exec/s' "$name" "$status" "${execs:-?}" "${rate:-?}")")
done

echo "==> fuzz: summary (${seconds}s each)"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "==> fuzz: FAILED: ${failed[*]}"
  exit 1
fi
