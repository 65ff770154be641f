#!/usr/bin/env bash
# The proxy's latency while its own scraper is busy. wrk (1 thread, 64 connections, --latency) GETs a 4 KiB
# page through the sidecar (signed, execute-api) from nginx, against (a) the sidecar with routes only and
# (b) the same config plus scrape_configs: TARGETS targets of SERIES series every 1 s, remote-written to a sink.
# A fresh sidecar per run, (a) and (b) alternating ROUNDS times; per run and as medians: req/s, p50, p99, and
# the ratios b/a. Targets as in scraper_bench.sh: one nginx port on 0.0.0.0 (127.0.0.0/8 only), target i at
# 127.0.<1 + i/250>.<1 + i%250>; the sink is the targets' nginx (return 204), the origin an nginx of its own.
# Usage: [TARGETS=200] [SERIES=200] [ROUNDS=3] [WARMUP=5] [SIDECAR=path] bench/proxy_with_scraper.sh [build-dir] [seconds-per-run]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib_scrape.sh"  # free_port, scrape_target_list, cpu_ticks
build=${1:-$root/build/release}
secs=${2:-15}
targets=${TARGETS:-200}
series=${SERIES:-200}
rounds=${ROUNDS:-3}
warmup=${WARMUP:-5}
work=$(mktemp -d /tmp/proxy_with_scraper.XXXXXX)
chmod 755 "$work"
cp "${SIDECAR:-$build/proxy/sigv4-sidecar}" "$work/sigv4-sidecar"  # the build dir may be relinked meanwhile
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null && command -v nginx >/dev/null || "$root/scripts/install-deps.sh" --bench
ulimit -n "$(ulimit -Hn)"
tck=$(getconf CLK_TCK)

origin_port=$(free_port)
page_port=$(free_port)
listen_port=$(free_port)
admin_port=$(free_port)

mkdir "$work/pages"
python3 - "$work" "$series" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
lines, i = [], 0
while sum(len(l) for l in lines) < 4096 - 64:
    lines.append(f'http_requests_total{{code="200",handler="/api/v1/query",instance="node-{i}"}} {i * 7919}\n'); i += 1
open(f"{work}/metrics", "w").write("".join(lines)[:4096])
page = ["# TYPE node_cpu_seconds_total counter"]
for k in range(n):
    page.append(f'node_cpu_seconds_total{{cpu="{k // 8}",mode="m{k % 8}"}} {123456.78 + k:.2f}')
open(f"{work}/pages/target.prom", "w").write("\n".join(page) + "\n")
PY

# Two nginx processes of one worker each: the proxied origin apart from the scrape targets and the sink, so
# that the busy runs' scrapes do not slow the origin the proxy forwards to (its latency is what is measured).
nginx_common="worker_processes 1;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }"
cat >"$work/origin.conf" <<NGINX
$nginx_common
pid $work/origin.pid;
error_log $work/origin-error.log warn;
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$origin_port;
    location = /metrics { default_type text/plain; alias $work/metrics; }
  }
}
NGINX
cat >"$work/targets.conf" <<NGINX
$nginx_common
pid $work/targets.pid;
error_log $work/targets-error.log warn;
http {
  access_log off;
  log_format scrape '\$msec \$status';
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_max_body_size 64m;
  server {
    listen 0.0.0.0:$page_port;
    allow 127.0.0.0/8;
    deny all;
    access_log $work/scrape.log scrape buffer=64k flush=1s;
    location = /metrics { default_type "text/plain; version=0.0.4"; alias $work/pages/target.prom; }
    location = /api/v1/write { access_log off; return 204; }
  }
}
NGINX
for conf in origin targets; do
  nginx -c "$work/$conf.conf" -p "$work" -g 'daemon off;' &
  pids+=($!)
  sleep 0.5
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$conf-error.log" >&2; echo "nginx ($conf) did not start" >&2; exit 1; }
done

routes="listen: \"127.0.0.1:$listen_port\"
admin_listen: \"127.0.0.1:$admin_port\"
log_level: warn
routes:
  - name: origin
    match: {path_prefix: /}
    upstream: http://127.0.0.1:$origin_port
    sigv4: {region: us-east-1, service: execute-api}"
printf '%s\n' "$routes" >"$work/routes.yml"
{
  printf '%s\nglobal: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: busy\n' "$routes"
  printf '    static_configs: [{targets: %s}]\n' "$(scrape_target_list "$targets" "$page_port")"
  printf 'remote_write: [{url: "http://127.0.0.1:%s/api/v1/write"}]\n' "$page_port"
} >"$work/scrape.yml"

to_us() { awk '{v = $1; if (v ~ /us$/) v *= 1; else if (v ~ /ms$/) v *= 1000; else if (v ~ /s$/) v *= 1000000; print v}' <<<"$1"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
declare -A rps_all p50_all p99_all
printf '%-14s %3s %10s %9s %9s %7s %9s  %s\n' config run req/s p50_us p99_us cpu% scrapes/s loadavg
for ((r = 1; r <= rounds; r++)); do
  for mode in routes scrape; do
    AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
      AWS_EC2_METADATA_DISABLED=true "$work/sigv4-sidecar" --config "$work/$mode.yml" >"$work/$mode-$r.log" 2>&1 &
    pid=$!
    sleep "$warmup"
    kill -0 "$pid" 2>/dev/null || { echo "sidecar ($mode) exited:" >&2; tail "$work/$mode-$r.log" >&2; exit 1; }
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    out=$(wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$listen_port/metrics")
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    sleep 1.2  # nginx flushes its log each second
    rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    p50=$(to_us "$(awk '$1=="50%"{print $2}' <<<"$out")")
    p99=$(to_us "$(awk '$1=="99%"{print $2}' <<<"$out")")
    bad=$(awk '/Non-2xx or 3xx responses/{print $NF}' <<<"$out")
    scr=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 < b {n++} END {printf "%.1f", n / (b - a)}' "$work/scrape.log" 2>/dev/null || echo 0)
    printf '%-14s %3d %10s %9s %9s %7.1f %9s  %s%s\n' "$mode" "$r" "$rps" "$p50" "$p99" \
      "$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v x="$t0" -v y="$t1" 'BEGIN{print 100 * (b - a) / t / (y - x)}')" \
      "$scr" "$(cut -d' ' -f1-3 /proc/loadavg)" "${bad:+  NON-2xx: $bad (figure invalid)}"
    rps_all[$mode]+="$rps "; p50_all[$mode]+="$p50 "; p99_all[$mode]+="$p99 "
  done
done
echo "medians over $rounds round(s) ($targets targets x $series series every 1 s in 'scrape'):"
for mode in routes scrape; do
  printf '  %-8s req/s %10s  p50 %8s us  p99 %8s us\n' "$mode" "$(median <<<"${rps_all[$mode]}")" \
    "$(median <<<"${p50_all[$mode]}")" "$(median <<<"${p99_all[$mode]}")"
done
printf '  scrape/routes: req/s %.2f  p50 %.2f  p99 %.2f\n' \
  "$(awk -v a="$(median <<<"${rps_all[scrape]}")" -v b="$(median <<<"${rps_all[routes]}")" 'BEGIN{print a / b}')" \
  "$(awk -v a="$(median <<<"${p50_all[scrape]}")" -v b="$(median <<<"${p50_all[routes]}")" 'BEGIN{print a / b}')" \
  "$(awk -v a="$(median <<<"${p99_all[scrape]}")" -v b="$(median <<<"${p99_all[routes]}")" 'BEGIN{print a / b}')"
