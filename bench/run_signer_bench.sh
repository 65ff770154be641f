#!/usr/bin/env bash
# Signer figures for the closing note, all on CPU 0, in one run: our benchmark, OpenSSL's own SHA-256 speed on
# the same machine, and botocore on the same workloads.
set -euo pipefail
build=${1:-build/release}
cpu=${CPU:-0}
echo "== sigv4-sidecar signer (taskset -c $cpu)"
taskset -c "$cpu" "$build/bench/signer_bench" --benchmark_min_time=2 --benchmark_counters_tabular=true
echo "== openssl speed -evp sha256 (16 KiB and 1 MiB blocks)"
taskset -c "$cpu" openssl speed -evp sha256 -seconds 3 -bytes 16384 2>/dev/null | tail -1
taskset -c "$cpu" openssl speed -evp sha256 -seconds 3 -bytes 1048576 2>/dev/null | tail -1
echo "== botocore $(/usr/bin/python3 -c 'import sys; sys.path.insert(0,"/usr/lib/python3/dist-packages"); import botocore; print(botocore.__version__)')"
taskset -c "$cpu" /usr/bin/python3 "$(dirname "$0")/botocore_bench.py"
