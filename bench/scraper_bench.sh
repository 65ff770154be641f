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
source "$root/bench/lib_scrape.sh"
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

page_port=$(free_port)
sink_port=$(free_port)
admin_port=$(free_port)

scrape_pages "$work/pages" "$series" "$((targets < 250 ? targets : 250))"

scrape_yaml="global: {scrape_interval: ${interval}s, scrape_timeout: 10s}
scrape_configs:
  - job_name: bench
    static_configs: [{targets: $(scrape_target_list "$targets" "$page_port")}]"
sink_url="http://127.0.0.1:$sink_port/api/v1/write"
printf '%s\n' "$scrape_yaml" >"$work/vmagent.yml"  # vmagent reads remote-write from its flags
printf '%s\nremote_write: [{url: "%s"}]\n' "$scrape_yaml" "$sink_url" >"$work/prometheus.yml"
printf 'admin_listen: "127.0.0.1:%s"\n%s\nremote_write: [{url: "%s"}]\n' "$admin_port" "$scrape_yaml" \
  "$sink_url" >"$work/sidecar.yml"

scrape_nginx_conf "$work" "$page_port" '$msec $status $bytes_sent' \
  "  log_format write '\$msec \$status \$http_content_length';" "  server {
    listen 127.0.0.1:$sink_port;
    access_log $work/write.log write buffer=64k flush=1s;
    location = /api/v1/write { return 204; }
  }" >"$work/nginx.conf"
scrape_nginx_start "$work" "$page_port" "$series" "$targets" || exit 1
pids+=("$nginx_pid")

log_stats() {  # $1 = log, $2 $3 = window (epoch seconds): requests, non-2xx, bytes
  awk -v a="$2" -v b="$3" '$1 >= a && $1 < b {n++; if ($2 !~ /^2/) bad++; s += $3} END {print n + 0, bad + 0, s + 0}' "$1"
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
