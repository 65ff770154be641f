#!/usr/bin/env bash
# Proxy throughput, latency and memory on loopback, in one run, alternating targets:
#   direct to nginx; nginx as a keep-alive reverse proxy (what a proxy costs here, no signing); the sidecar
#   (signing). Upstream plain and TLS (nginx-as-proxy too). wrk 1 thread; the origin and nginx-as-proxy are
#   separate nginx processes, 1 worker each (NGINX_PROXY_WORKERS=n for more). Each round prints the sidecar's
#   req/s and p99 as ratios against nginx-as-proxy's measured just before it.
# Usage: [ROUNDS=n | PAIRS=n] [ONLY="GET 1c"] [SIDECAR_ARGS="--busy-poll-us 0"] bench/proxy_bench.sh [build-dir] [seconds-per-run]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib_scrape.sh"  # bench_origin_conf
build=${1:-$root/build/release}
secs=${2:-10}
bin=$build/proxy/sigv4-sidecar
work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null && command -v nginx >/dev/null || "$root/scripts/install-deps.sh" --bench
bash "$root/tests/support/make_test_certs.sh" "$work/certs" >/dev/null

# A 4 KiB Prometheus metrics page.
python3 - "$work/metrics" <<'PY'
import sys
lines, i = [], 0
while sum(len(l) for l in lines) < 4096 - 64:
    lines.append(f'http_requests_total{{code="200",handler="/api/v1/query",instance="node-{i}"}} {i * 7919}\n'); i += 1
open(sys.argv[1], "w").write("".join(lines)[:4096])
PY

# The origin and nginx-as-proxy are two nginx processes, one worker each: the reference proxy must not share
# its worker (and its CPU) with the origin it proxies to, as the sidecar does not.
bench_origin_conf "$work" 18481 18482
cat >"$work/nginx-proxy.conf" <<NGINX
worker_processes ${NGINX_PROXY_WORKERS:-1};
pid $work/nginx-proxy.pid;
error_log $work/nginx-proxy-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_buffer_size 64k;
  upstream origin { server 127.0.0.1:18481; keepalive 128; }
  upstream origin_tls { server 127.0.0.1:18482; keepalive 128; }
  server {
    listen 127.0.0.1:18483;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:18484;
    location / {
      proxy_pass https://origin_tls; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_session_reuse on; proxy_ssl_verify on; proxy_ssl_name localhost;
      proxy_ssl_trusted_certificate $work/certs/ca.pem;
    }
  }
}
NGINX
for conf in origin nginx-proxy; do
  nginx -c "$work/$conf.conf" -p "$work" -g 'daemon off;' &
  pids+=($!)
done
sleep 0.5
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null || { echo "nginx did not start (ports 18481-18484 busy?)" >&2; exit 1; }
done
# The nginx-as-proxy worker's pid, for its peak RSS.
proxy_worker() { pgrep -P "$(cat "$work/nginx-proxy.pid")" | head -1; }

start_sidecar() {  # $1 = upstream URL, $2 = port
  AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    "$bin" --host "${1#*://}" --upstream-url-scheme "${1%%://*}" --name execute-api --region us-east-1 \
    --port "127.0.0.1:$2" --admin-listen "127.0.0.1:$(($2 + 1))" --ca-file "$work/certs/ca.pem" \
    --log-level warn ${SIDECAR_ARGS:-} >"$work/sidecar-$2.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/sidecar-$2.pid"
}
start_sidecar http://127.0.0.1:18481 18405
start_sidecar https://localhost:18482 18407
sleep 1
for p in 18405 18407; do
  echo "idle RSS sidecar:$p $(awk '/VmRSS/{print $2" "$3}' /proc/$(cat "$work/sidecar-$p.pid")/status)"
done

run() {  # label url conns [script]
  local args=(-t1 -c"$3" -d"${secs}s" --latency)
  [[ -n "${4:-}" ]] && args+=(-s "$4")
  local out
  out=$(wrk "${args[@]}" "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  local bad
  bad=$(awk '/Non-2xx or 3xx responses/{print $NF}' <<<"$out")
  printf '%-34s %10s req/s  p50 %8s  p99 %8s%s\n' "$1" "$rps" "$p50" "$p99" "${bad:+  NON-2xx: $bad (figure invalid)}"
  last_rps=$rps last_p99=$(to_us "$p99")
}
to_us() { awk -v v="$1" 'BEGIN{u=v; sub(/[a-z]+$/,"",v); if (u ~ /ms$/) v*=1000; else if (u ~ /us$/) v*=1;
  else if (u ~ /s$/) v*=1000000; print v}'; }
ratio() {  # label, sidecar rps, sidecar p99 us, nginx rps, nginx p99 us
  awk -v l="$1" -v a="$2" -v ap="$3" -v b="$4" -v bp="$5" \
    'BEGIN{printf "%-34s sidecar / nginx-as-proxy: req/s %.2fx  p99 %.2fx\n", l, a/b, ap/bp}'
}

# PAIRS=N: the added latency at 1 connection, robustly on a noisy VM: N short alternating runs (direct,
# nginx-as-proxy, sidecar; plain and TLS), then the median over runs of each one's p50 minus direct's p50 in the
# same run.
if [[ -n "${PAIRS:-}" ]]; then
  p50_us() { wrk -t1 -c1 -d"${secs}s" --latency "$1" | awk '$1=="50%"{v=$2; u=v; sub(/[a-z]+$/,"",v);
    if (u ~ /ms$/) v*=1000; else if (u ~ /[^m]s$/ && u !~ /us$/) v*=1000000; print v}'; }
  declare -A added
  for i in $(seq 1 "$PAIRS"); do
    d=$(p50_us http://127.0.0.1:18481/metrics)
    line="run $i: direct ${d}us"
    for t in "nginx-as-proxy-http|18483" "sidecar-http|18405" "nginx-as-proxy-https|18484" "sidecar-https|18407"; do
      IFS='|' read -r name port <<<"$t"
      v=$(p50_us "http://127.0.0.1:$port/metrics")
      added[$name]+="$(awk -v a="$v" -v b="$d" 'BEGIN{print a-b}') "
      line+="  $name ${v}us"
    done
    echo "$line"
  done
  for name in nginx-as-proxy-http sidecar-http nginx-as-proxy-https sidecar-https; do
    echo "added p50 at 1 connection, $name: median $(tr ' ' '\n' <<<"${added[$name]}" | grep . | sort -n |
      awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}') us over $PAIRS runs" \
      "(each: $(tr -s ' ' <<<"${added[$name]}"))"
  done
  exit 0
fi

post=$root/bench/proxy/post10k.lua
ratios=()
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "== round $round"
  for w in "GET 64c|/metrics|64|" "GET 1c|/metrics|1|" "POST10k 64c|/write|64|$post"; do
    IFS='|' read -r name path conns script <<<"$w"
    [[ -z "${ONLY:-}" || "$name" == "$ONLY" ]] || continue
    run "$name direct nginx" "http://127.0.0.1:18481$path" "$conns" "$script"
    for up in "http|18483|18405" "https|18484|18407"; do
      IFS='|' read -r scheme nport sport <<<"$up"
      run "$name nginx-as-proxy -> $scheme" "http://127.0.0.1:$nport$path" "$conns" "$script"
      n_rps=$last_rps n_p99=$last_p99
      run "$name sidecar -> $scheme" "http://127.0.0.1:$sport$path" "$conns" "$script"
      ratios+=("$(ratio "round $round $name -> $scheme" "$last_rps" "$last_p99" "$n_rps" "$n_p99")")
    done
  done
done
printf '%s\n' "${ratios[@]}"
for p in 18405 18407; do
  echo "peak RSS sidecar:$p $(awk '/VmHWM/{print $2" "$3}' /proc/$(cat "$work/sidecar-$p.pid")/status)"
done
echo "peak RSS nginx-as-proxy worker (both upstreams) $(awk '/VmHWM/{print $2" "$3}' /proc/"$(proxy_worker)"/status)"
for p in 18405 18407; do
  curl -s "http://127.0.0.1:$((p + 1))/metrics" | awk -v p="$p" '/^sigv4_sidecar_busy_poll/{print "sidecar:" p " " $0}'
done
