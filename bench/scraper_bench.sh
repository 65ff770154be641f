#!/usr/bin/env bash
# The bundled scraper against vmagent and Prometheus' agent mode, scraping the same targets and remote-writing
# to the same sink, one at a time, in alternating order: CPU seconds (utime+stime of the process, threads
# included) over a fixed window after a warm-up, and peak RSS (VmHWM).
#
# Targets: nginx (1 worker, its own config in a temp dir) serves static pages on ONE port listening on
# 0.0.0.0 (only 127.0.0.0/8 allowed); target i is 127.0.<1 + i/250>.<1 + i%250>:PORT. Distinct addresses
# rather than 1000 ports or 1000 paths: every competitor gets 1000 ordinary host:port targets in one job with
# one metrics_path (Prometheus' targets are host:port; 1000 paths would need 1000 jobs), nginx needs one
# listening socket, and only one port has to be free. The page depends on the address's last byte (up to 250
# variants, values differ), so series and values differ between targets as they do in life; pages are
# static, so values do not change between scrapes (the same for every competitor).
# Sink: the same nginx, another port, `return 204` (it reads and discards the body): far cheaper than any
# competitor, and it logs each request's size, so delivery is checked from outside every competitor.
#
# Usage: [TARGETS=1000] [SERIES=1000] [INTERVAL=15] [WARMUP=30] [DURATION=60] [ROUNDS=2] [ORDER="S V P"]
#        [SIDECAR=path] [PROFILE=dir] bench/scraper_bench.sh [build-dir]
# PROFILE=dir: perf record (flat, 499 Hz) on the sidecar over each of its windows into dir, the top entries
# printed at the end (perf's own cost then inflates that run's CPU figure a little).
# Quick: TARGETS=100 WARMUP=10 DURATION=20 ROUNDS=1 bench/scraper_bench.sh build/bench
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
targets=${TARGETS:-1000}
series=${SERIES:-1000}
interval=${INTERVAL:-15}
warmup=${WARMUP:-30}
duration=${DURATION:-60}
rounds=${ROUNDS:-2}
order=${ORDER:-S V P}
work=$(mktemp -d /tmp/scraper_bench.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user
# The binary is copied: the build dir may be relinked while this runs.
cp "${SIDECAR:-$build/proxy/sigv4-sidecar}" "$work/sigv4-sidecar"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v nginx >/dev/null && command -v vmagent >/dev/null && command -v prometheus >/dev/null ||
  "$root/scripts/install-deps.sh" --bench
ulimit -n "$(ulimit -Hn)"  # 1000 keep-alive scrape connections each; the same limit for every competitor
tck=$(getconf CLK_TCK)
[[ -z "${PROFILE:-}" ]] || mkdir -p "$PROFILE"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'; }
page_port=$(free_port)
sink_port=$(free_port)
admin_port=$(free_port)

# Pages: node_exporter-like families (per-CPU counters, filesystems, network devices, a histogram, gauges),
# HELP and TYPE before each, cut to exactly SERIES samples.
python3 - "$work/pages" "$series" "$((targets < 250 ? targets : 250))" <<'PY'
import os, random, sys
out, n, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
for v in range(1, variants + 1):
    rnd = random.Random(v)
    lines, fam = [], 0
    while sum(not l.startswith("#") for l in lines) < n:
        kind = fam % 5
        if kind == 0:
            name = f"node_cpu{fam}_seconds_total"
            lines += [f"# HELP {name} Seconds the CPUs spent in each mode.", f"# TYPE {name} counter"]
            for cpu in range(16):
                for m in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
                    lines.append(f'{name}{{cpu="{cpu}",mode="{m}"}} {rnd.uniform(1e3, 1e6):.2f}')
        elif kind == 1:
            name = f"node_filesystem{fam}_avail_bytes"
            lines += [f"# HELP {name} Filesystem space available.", f"# TYPE {name} gauge"]
            for d in range(12):
                lines.append(f'{name}{{device="/dev/nvme0n1p{d}",fstype="ext4",mountpoint="/mnt/disk{d}"}} '
                             f'{rnd.randrange(10**9, 10**12)}')
        elif kind == 2:
            name = f"node_network{fam}_receive_bytes_total"
            lines += [f"# HELP {name} Network device statistic.", f"# TYPE {name} counter"]
            for d in range(16):
                lines.append(f'{name}{{device="eth{d}"}} {rnd.randrange(10**6, 10**11)}')
        elif kind == 3:
            name = f"http_request{fam}_duration_seconds"
            lines += [f"# HELP {name} Request latency.", f"# TYPE {name} histogram"]
            c = 0
            for le in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"):
                c += rnd.randrange(0, 1000)
                lines.append(f'{name}_bucket{{handler="/api/v1/query",le="{le}"}} {c}')
            lines += [f'{name}_sum{{handler="/api/v1/query"}} {rnd.uniform(1, 1e4):.6f}',
                      f'{name}_count{{handler="/api/v1/query"}} {c}']
        else:
            for g in range(20):
                name = f"node_memory_Item{fam}_{g}_bytes"
                lines += [f"# HELP {name} Memory information field.", f"# TYPE {name} gauge",
                          f"{name} {rnd.randrange(10**6, 10**10)}"]
        fam += 1
    kept, samples = [], 0
    for l in lines:
        if not l.startswith("#"):
            if samples == n:
                break
            samples += 1
        kept.append(l)
    open(f"{out}/{v}.prom", "w").write("\n".join(kept) + "\n")
PY

target_list() {  # $1 = format: yaml (a flow list)
  local i sep=""
  printf '['
  for ((i = 0; i < targets; i++)); do
    printf '%s"127.0.%d.%d:%d"' "$sep" $((1 + i / 250)) $((1 + i % 250)) "$page_port"
    sep=", "
  done
  printf ']'
}
scrape_yaml="global: {scrape_interval: ${interval}s, scrape_timeout: 10s}
scrape_configs:
  - job_name: bench
    static_configs: [{targets: $(target_list)}]"
sink_url="http://127.0.0.1:$sink_port/api/v1/write"
printf '%s\n' "$scrape_yaml" >"$work/vmagent.yml"  # vmagent reads remote-write from its flags
printf '%s\nremote_write: [{url: "%s"}]\n' "$scrape_yaml" "$sink_url" >"$work/prometheus.yml"
printf 'admin_listen: "127.0.0.1:%s"\n%s\nremote_write: [{url: "%s"}]\n' "$admin_port" "$scrape_yaml" \
  "$sink_url" >"$work/sidecar.yml"

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 16384; }
http {
  log_format scrape '\$msec \$status \$bytes_sent';
  log_format write '\$msec \$status \$http_content_length';
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  map \$server_addr \$page { "~\\.(?<last>[0-9]+)\$" \$last; }
  server {
    listen 0.0.0.0:$page_port;
    allow 127.0.0.0/8;
    deny all;
    access_log $work/scrape.log scrape buffer=64k flush=1s;
    types { }
    default_type "text/plain; version=0.0.4; charset=utf-8";
    location = /metrics {
      root $work/pages;
      try_files /\$page.prom =404;
    }
  }
  server {
    listen 127.0.0.1:$sink_port;
    access_log $work/write.log write buffer=64k flush=1s;
    location = /api/v1/write { return 204; }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
pids+=($!)
sleep 0.5
kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/nginx-error.log" >&2; echo "nginx did not start" >&2; exit 1; }
nginx_worker=$(pgrep -P "${pids[-1]}" | head -1)
body=$(curl -sf "http://127.0.0.1:$page_port/metrics" | grep -vc '^#')
[[ "$body" == "$series" ]] || { echo "page check: $body samples, want $series" >&2; exit 1; }
# Variant pages actually differ by address (the last byte chooses the file).
[[ $(curl -sf "http://127.0.0.1:$page_port/metrics" | md5sum) != $(curl -sf "http://127.0.1.2:$page_port/metrics" |
  md5sum) || $targets -lt 2 ]] || { echo "pages do not vary by address" >&2; exit 1; }

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }  # utime+stime, fields 14 and 15
sys_ticks() { awk '{sub(/.*\) /, ""); print $13}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
log_stats() {  # $1 = log, $2 $3 = window (epoch seconds): requests, non-2xx, bytes
  awk -v a="$2" -v b="$3" '$1 >= a && $1 < b {n++; if ($2 !~ /^2/) bad++; s += $3} END {print n + 0, bad + 0, s + 0}' "$1"
}
metric_sum() {  # $1 = url, $2 = metric name (sum over label sets)
  curl -sf "$1" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $NF} END {printf "%.0f\n", s}'
}

start() {  # $1 = S|V|P, $2 = run number; prints the PID
  local d="$work/run-$1-$2"
  mkdir -p "$d"
  case $1 in
    S) AWS_EC2_METADATA_DISABLED=true "$work/sigv4-sidecar" --config "$work/sidecar.yml" --log-level warn \
         >"$d/log" 2>&1 & ;;
    V) vmagent -httpListenAddr="127.0.0.1:$admin_port" -promscrape.config="$work/vmagent.yml" \
         -remoteWrite.url="$sink_url" -remoteWrite.tmpDataPath="$d/tmp" -loggerLevel=WARN >"$d/log" 2>&1 & ;;
    P) prometheus --enable-feature=agent --config.file="$work/prometheus.yml" --storage.agent.path="$d/wal" \
         --web.listen-address="127.0.0.1:$admin_port" --log.level=warn >"$d/log" 2>&1 & ;;
  esac
  echo $!
}
sent_metric() {
  case $1 in
    S) metric_sum "http://127.0.0.1:$admin_port/metrics" sigv4_sidecar_remote_samples_sent_total ;;
    V) metric_sum "http://127.0.0.1:$admin_port/metrics" vmagent_remotewrite_block_size_rows_sum ;;
    P) metric_sum "http://127.0.0.1:$admin_port/metrics" prometheus_remote_storage_samples_total ;;
  esac
}
declare -A name=([S]=sigv4-sidecar [V]=vmagent [P]=prometheus-agent)
declare -A cpu_sum hwm_sum runs

echo "targets $targets x $series series every ${interval}s ($((targets * series / interval)) samples/s expected)," \
  "warm-up ${warmup}s, window ${duration}s, $rounds round(s) of: $order"
echo "pages on 0.0.0.0:$page_port (127.0.x.y targets), sink 127.0.0.1:$sink_port (nginx return 204)"
printf '%-17s %3s %7s %5s %6s %8s %8s %9s %8s %9s %8s %6s %6s  %s\n' competitor run cpu_s sys% core% hwm_MB rss_MB scrapes/s \
  write/s write_KB/s sent/s ngx% host% loadavg
n=0
for ((r = 1; r <= rounds; r++)); do
  for c in $order; do
    n=$((n + 1))
    pid=$(start "$c" "$n")
    pids+=("$pid")  # killed on exit if the script stops early
    sleep "$warmup"
    kill -0 "$pid" 2>/dev/null || { echo "${name[$c]} exited:" >&2; tail "$work/run-$c-$n/log" >&2; exit 1; }
    s0=$(sent_metric "$c" || echo 0)
    c0=$(cpu_ticks "$pid"); k0=$(sys_ticks "$pid"); g0=$(cpu_ticks "$nginx_worker"); read -r b0 t0_all < <(busy_ticks); t0=$(date +%s.%N)
    if [[ -n "${PROFILE:-}" && $c == S ]]; then
      perf record -q -F 499 -p "$pid" -o "$PROFILE/perf-$n.data" -- sleep "$duration" >/dev/null 2>&1
    else
      sleep "$duration"
    fi
    c1=$(cpu_ticks "$pid"); k1=$(sys_ticks "$pid"); g1=$(cpu_ticks "$nginx_worker"); read -r b1 t1_all < <(busy_ticks); t1=$(date +%s.%N)
    s1=$(sent_metric "$c" || echo 0)
    hwm=$(status_kb "$pid" VmHWM); rss=$(status_kb "$pid" VmRSS)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 2  # nginx flushes its logs each second
    read -r sn sbad _ < <(log_stats "$work/scrape.log" "$t0" "$t1")
    read -r wn wbad wbytes < <(log_stats "$work/write.log" "$t0" "$t1")
    el=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN{printf "%.2f", (b - a) / t}')
    printf '%-17s %3d %7s %5.0f %6.1f %8.1f %8.1f %9.1f %8.1f %9.1f %8.0f %6.1f %6.1f  %s%s\n' "${name[$c]}" "$n" "$cpu" \
      "$(awk -v a="$k0" -v b="$k1" -v x="$c0" -v y="$c1" 'BEGIN{print (y > x) ? 100 * (b - a) / (y - x) : 0}')" \
      "$(awk -v c="$cpu" -v e="$el" 'BEGIN{print 100 * c / e}')" "$(awk -v k="$hwm" 'BEGIN{print k / 1024}')" \
      "$(awk -v k="$rss" 'BEGIN{print k / 1024}')" "$(awk -v n="$sn" -v e="$el" 'BEGIN{print n / e}')" \
      "$(awk -v n="$wn" -v e="$el" 'BEGIN{print n / e}')" "$(awk -v n="$wbytes" -v e="$el" 'BEGIN{print n / e / 1024}')" \
      "$(awk -v a="$s0" -v b="$s1" -v e="$el" 'BEGIN{print (b - a) / e}')" \
      "$(awk -v a="$g0" -v b="$g1" -v t="$tck" -v e="$el" 'BEGIN{print 100 * (b - a) / t / e}')" \
      "$(awk -v a="$b0" -v b="$b1" -v x="$t0_all" -v y="$t1_all" 'BEGIN{print 100 * (b - a) / (y - x)}')" "$load" \
      "$( ((sbad + wbad)) && echo "  NON-2xx: $sbad scrapes, $wbad writes (figure invalid)")$(awk -v a="$s0" \
        -v b="$s1" -v e="$el" -v n="$sn" -v want="$((targets * series / interval))" -v ws="$((targets / interval))" \
        'BEGIN{if ((b - a) / e < 0.9 * want || n / e < 0.9 * ws) print "  NOT STEADY: below 90% of the expected rate"}')"
    cpu_sum[$c]=$(awk -v a="${cpu_sum[$c]:-0}" -v b="$cpu" 'BEGIN{print a + b}')
    hwm_sum[$c]=$(awk -v a="${hwm_sum[$c]:-0}" -v b="$hwm" 'BEGIN{print a + b / 1024}')
    runs[$c]=$((${runs[$c]:-0} + 1))
  done
done

echo "means over $rounds round(s): CPU seconds per ${duration}s window, peak RSS"
for c in $order; do
  printf '  %-17s cpu %7.2f s  hwm %7.1f MB\n' "${name[$c]}" "$(awk -v a="${cpu_sum[$c]}" -v n="${runs[$c]}" \
    'BEGIN{print a / n}')" "$(awk -v a="${hwm_sum[$c]}" -v n="${runs[$c]}" 'BEGIN{print a / n}')"
done
for o in V P; do
  [[ -n "${runs[S]:-}" && -n "${runs[$o]:-}" ]] || continue
  printf '  sidecar / %-16s cpu %.2f  hwm %.2f\n' "${name[$o]}" \
    "$(awk -v a="${cpu_sum[S]}" -v b="${cpu_sum[$o]}" -v n="${runs[S]}" -v m="${runs[$o]}" 'BEGIN{print (a / n) / (b / m)}')" \
    "$(awk -v a="${hwm_sum[S]}" -v b="${hwm_sum[$o]}" -v n="${runs[S]}" -v m="${runs[$o]}" 'BEGIN{print (a / n) / (b / m)}')"
done
if [[ -n "${PROFILE:-}" ]]; then
  for f in "$PROFILE"/perf-*.data; do
    echo "perf, sidecar (${f##*/}): top entries, flat"
    perf report -i "$f" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -30 |
      sed 's/  */ /g' | cut -c1-150
  done
fi
