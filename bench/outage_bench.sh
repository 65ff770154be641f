#!/usr/bin/env bash
# Issue 9's outage benchmark, in ONE run: sigv4-sidecar (--storage.path), vmagent (-remoteWrite.tmpDataPath)
# and Prometheus' agent mode (its WAL) scrape the same targets at the same time for the whole run, each
# remote-writing to its own receiver.
#
#   nginx pages (bench/lib_scrape.sh) <-scrape- sidecar | vmagent | prometheus --enable-feature=agent
#        -remote_write-> receiver S | receiver V | receiver P          (all on 127.0.0.0/8)
#
# Receivers (RECEIVER): victoria-metrics (default: single-node VictoriaMetrics, duplicates of a re-sent batch
# counted once by -dedup.minScrapeInterval=1ms) or prometheus (--web.enable-remote-write-receiver, with an
# out-of-order window so that a re-sent batch's duplicates never take new samples down with them). Both take
# Prometheus remote write and answer the PromQL below. The receivers share the agents' two cores, and a
# catch-up can be no faster than its receiver's ingestion: on this VM Prometheus 2.42 took ~110k samples per
# CPU second of its own, VictoriaMetrics 1.79 ~500k, so with Prometheus receivers a 5x catch-up (250k/s)
# needs more than two cores for the receiver alone, and every agent measures mostly its receiver.
#
# After WARMUP seconds each agent's receiver is stopped (SIGTERM: connections refused) for OUTAGE seconds and
# then started again on the same port and data. The outages are staggered by STAGGER seconds in ORDER, so
# that each agent catches up while the other two only scrape (steady or spooling): three catch-ups at once
# would measure mostly how two cores are shared among six processes. STAGGER=0: all at once. A catch-up that
# is still running when the next one starts is reported (overlap).
#
# Measured:
# - every 5 s from /proc: RSS (VmRSS) and CPU seconds (utime+stime) of each agent and receiver, the bytes of
#   the agent's spool / tmpDataPath / WAL directory, its receiver's appended samples (monitor.tsv);
# - RSS at the outage's start, its peak during the outage and at the outage's end; disk at its start and end;
# - catch-up: from the moment the receiver is ready again until the agent is caught up (every target's `up`
#   on its receiver has a sample newer than CAUGHT_LAG seconds), the samples the receiver appended
#   (vm_rows_inserted_total{type="promremotewrite"}, or prometheus_tsdb_head_{,out_of_order_}samples_appended_total)
#   per second, as a multiple of the rate that receiver saw before any outage; the best 5 s; the receiver's
#   write requests and errors; the agent's CPU per sample delivered (a figure that other load on the machine
#   changes little, unlike the rate);
# - lost samples: per agent and target, the scrapes nginx answered (200) for that agent (by User-Agent) up to
#   a boundary halfway between two of its scrapes TAIL seconds after the last catch-up, times SERIES, against
#   count_over_time of the page's series (node_*, http_*: not up or scrape_*) on the agent's receiver up to
#   that boundary. Nothing the agents say is trusted: a scrape made and never delivered is a loss.
# No CPU pinning (every process may use both cores, the same for all three agents); the host's busy share
# and load average are printed: other work on the machine slows whatever is catching up.
#
# Usage: [OUTAGE=600] [STAGGER=max(OUTAGE/3,60)] [ORDER="V P S"] [RECEIVER=victoria-metrics|prometheus]
#        [TARGETS=50] [SERIES=1000] [INTERVAL=1] [WARMUP=60] [CATCHUP_MAX=max(OUTAGE,300)]
#        [CAUGHT_LAG=2*INTERVAL+8] [TAIL=30] [SIDECAR=path] [KEEP=dir] bench/outage_bench.sh [build-dir]
# KEEP=dir: the work dir (logs, monitor.tsv, the agents' and receivers' data) is moved there at the end.
# Quick: OUTAGE=60 WARMUP=30 bench/outage_bench.sh build/release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib_scrape.sh"
build=${1:-$root/build/release}
outage=${OUTAGE:-600}
stagger=${STAGGER:-$((outage / 3 > 60 ? outage / 3 : 60))}
order=${ORDER:-V P S}
targets=${TARGETS:-50}
series=${SERIES:-1000}
interval=${INTERVAL:-1}
warmup=${WARMUP:-60}
catchup_max=${CATCHUP_MAX:-$((outage > 300 ? outage : 300))}
caught_lag=${CAUGHT_LAG:-$((2 * interval + 8))}
tail_s=${TAIL:-30}
receiver=${RECEIVER:-victoria-metrics}
[[ $receiver == prometheus || $receiver == victoria-metrics ]] || { echo "RECEIVER: prometheus or victoria-metrics" >&2; exit 2; }
# The newest sample of each target's up on the receiver (the instant vector looks back 5 min).
newest_up=$([[ $receiver == prometheus ]] && echo 'timestamp(up{job="bench"})' || echo 'tlast_over_time(up{job="bench"}[5m])')
work=$(mktemp -d /tmp/outage_bench.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user
cp "${SIDECAR:-$build/proxy/sigv4-sidecar}" "$work/sigv4-sidecar"  # the build dir may be relinked meanwhile
agents="S V P"  # the column order of monitor.tsv
declare -A name=([S]=sigv4-sidecar [V]=vmagent [P]=prometheus-agent)
declare -A ua=([S]=sigv4-sidecar/ [V]=vm_promscrape [P]=Prometheus/)  # User-Agent prefixes in nginx's log
declare -A pid=() admin=() rport=() datadir=()
monitor_pid=""
cleanup() {
  local c p i left=()
  [[ -z "$monitor_pid" ]] || kill "$monitor_pid" 2>/dev/null || true
  for c in $agents; do
    [[ -z "${pid[$c]:-}" ]] || left+=("${pid[$c]}")
    [[ ! -f "$work/R$c.pid" ]] || left+=("$(cat "$work/R$c.pid")")
  done
  [[ -z "${nginx_pid:-}" ]] || left+=("$nginx_pid")
  for p in "${left[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    for p in "${left[@]}"; do kill -0 "$p" 2>/dev/null && break; done
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${KEEP:-}" ]]; then
    rm -rf "$KEEP" && mv "$work" "$KEEP" && echo "work dir kept in $KEEP"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
command -v nginx >/dev/null && command -v vmagent >/dev/null && command -v prometheus >/dev/null ||
  "$root/scripts/install-deps.sh" --bench
ulimit -n "$(ulimit -Hn)"
tck=$(getconf CLK_TCK)
now() { date +%s.%N; }
calc() { awk "BEGIN{printf \"%.6f\n\", ($*)}"; }  # awk's print would round epoch times to 6 digits
is() { awk "BEGIN{exit !($*)}"; }
fmt() { printf "%.${2:-1}f" "$1"; }

page_port=$(free_port)
for c in $agents; do
  admin[$c]=$(free_port)
  rport[$c]=$(free_port)
done
datadir=([S]="$work/S-spool" [V]="$work/V-tmpdata" [P]="$work/P-wal")

# --- targets ----------------------------------------------------------------------------------------------------
scrape_pages "$work/pages" "$series" "$((targets < 250 ? targets : 250))"
# The start of a request is $msec - $request_time (both in ms); the User-Agent last, as it is.
scrape_nginx_conf "$work" "$page_port" '$msec $request_time $status $server_addr $http_user_agent' \
  >"$work/nginx.conf"
scrape_nginx_start "$work" "$page_port" "$series" "$targets"

# --- receivers --------------------------------------------------------------------------------------------------
ooo_window=$((warmup + 3 * stagger + outage + 2 * catchup_max + 3600))
printf 'global: {scrape_interval: 15s}\nstorage: {tsdb: {out_of_order_time_window: %ss}}\n' "$ooo_window" \
  >"$work/receiver.yml"
launch_receiver() {  # $1 = agent
  if [[ $receiver == prometheus ]]; then
    prometheus --config.file="$work/receiver.yml" --storage.tsdb.path="$work/R$1" \
      --web.listen-address="127.0.0.1:${rport[$1]}" --web.enable-remote-write-receiver --log.level=warn \
      >>"$work/R$1.log" 2>&1 &
  else
    # Duplicates (same series and timestamp) count once; queries see samples 1 s after they arrive.
    victoria-metrics -storageDataPath="$work/R$1" -httpListenAddr="127.0.0.1:${rport[$1]}" \
      -dedup.minScrapeInterval=1ms -search.latencyOffset=1s -search.disableCache -loggerLevel=WARN \
      >>"$work/R$1.log" 2>&1 &
  fi
  echo $! >"$work/R$1.pid"
}
wait_receiver() {  # $1 = agent: until it is ready
  local i p path
  p=$(cat "$work/R$1.pid")
  path=$([[ $receiver == prometheus ]] && echo /-/ready || echo /health)
  for ((i = 0; i < 1200; i++)); do
    curl -sf -m 1 "http://127.0.0.1:${rport[$1]}$path" >/dev/null 2>&1 && return 0
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  echo "receiver $1 did not start:" >&2
  tail "$work/R$1.log" >&2
  return 1
}
stop_pid() {  # $1 = pid: SIGTERM, then SIGKILL after 30 s
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
recv_metrics() { curl -sf -m "${2:-3}" "http://127.0.0.1:${rport[$1]}/metrics"; }  # $2 = timeout
# Samples the receiver appended (Prometheus: in order and out of order; VictoriaMetrics: rows received by
# remote write), -1 when it does not answer.
recv_appended() {
  local m
  m=$(recv_metrics "$@") || { echo -1; return; }
  awk '$1 == "prometheus_tsdb_head_samples_appended_total" || index($1, "prometheus_tsdb_head_samples_appended_total{") == 1 ||
       $1 == "prometheus_tsdb_head_out_of_order_samples_appended_total" ||
       $1 == "vm_rows_inserted_total{type=\"promremotewrite\"}" {s += $NF} END {printf "%.0f\n", s}' <<<"$m"
}
# Remote-write requests the receiver answered: total and errors.
recv_writes() {
  local m
  m=$(recv_metrics "$@") || { echo "-1 -1"; return; }
  awk 'index($1, "prometheus_http_requests_total{") == 1 && index($1, "handler=\"/api/v1/write\"") {
         n += $NF; if ($1 !~ /code="2/) bad += $NF }
       index($1, "vm_http_requests_total{") == 1 && index($1, "path=\"/api/v1/write\"") { n += $NF }
       index($1, "vm_http_request_errors_total{") == 1 && index($1, "path=\"/api/v1/write\"") { bad += $NF }
       END {printf "%.0f %.0f\n", n, bad}' <<<"$m"
}
query() {  # $1 = agent, $2 = PromQL: the first value of the result, or empty
  curl -sf -m 10 "http://127.0.0.1:${rport[$1]}/api/v1/query" --data-urlencode "query=$2" 2>/dev/null |
    python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
for c in $agents; do launch_receiver "$c"; done
for c in $agents; do wait_receiver "$c"; done

# --- agents -----------------------------------------------------------------------------------------------------
scrape_yaml="global: {scrape_interval: ${interval}s, scrape_timeout: $((interval < 10 ? interval : 10))s}
scrape_configs:
  - job_name: bench
    static_configs: [{targets: $(scrape_target_list "$targets" "$page_port")}]"
write_url() { echo "http://127.0.0.1:${rport[$1]}/api/v1/write"; }
printf '%s\n' "$scrape_yaml" >"$work/vmagent.yml"  # vmagent reads remote-write from its flags
printf '%s\nremote_write: [{url: "%s"}]\n' "$scrape_yaml" "$(write_url P)" >"$work/prometheus.yml"
printf 'listen: "127.0.0.1:%s"\nadmin_listen: "127.0.0.1:%s"\n%s\nremote_write: [{url: "%s"}]\n' "$(free_port)" \
  "${admin[S]}" "$scrape_yaml" "$(write_url S)" >"$work/sidecar.yml"
# Every agent with its defaults (queue sizes, shards, block sizes), as a user would start it.
AWS_EC2_METADATA_DISABLED=true "$work/sigv4-sidecar" --config "$work/sidecar.yml" --storage.path "${datadir[S]}" \
  --log-level info >"$work/S.log" 2>&1 &
pid[S]=$!
vmagent -httpListenAddr="127.0.0.1:${admin[V]}" -promscrape.config="$work/vmagent.yml" \
  -remoteWrite.url="$(write_url V)" -remoteWrite.tmpDataPath="${datadir[V]}" -loggerLevel=INFO >"$work/V.log" 2>&1 &
pid[V]=$!
prometheus --enable-feature=agent --config.file="$work/prometheus.yml" --storage.agent.path="${datadir[P]}" \
  --web.listen-address="127.0.0.1:${admin[P]}" --log.level=info >"$work/P.log" 2>&1 &
pid[P]=$!
t_start=$(now)

agent_metric() {  # $1 = agent, $2 = metric (summed over label sets)
  metric_sum "http://127.0.0.1:${admin[$1]}/metrics" "$2" 2>/dev/null || echo -1
}
disk_bytes() { du -sb "$1" 2>/dev/null | cut -f1 || echo 0; }
# One line of monitor.tsv; columns (1-based): 1 time; agent k = 0, 1, 2 (S V P): 2+5k its RSS kB, 3+5k its CPU
# ticks, 4+5k its disk bytes, 5+5k its receiver's appended samples (-1: no answer), 6+5k the receiver's CPU
# ticks; 17 the sidecar's sent samples, 18 its shards, 19 its pending samples, 20 Prometheus agent's shards,
# 21 vmagent's pending bytes; 22 23 the host's busy and total ticks.
snapshot() {
  local c line r
  line=$(now)
  for c in $agents; do
    r=$(cat "$work/R$c.pid")
    line+=" $(status_kb "${pid[$c]}" VmRSS 2>/dev/null || echo -1) $(cpu_ticks "${pid[$c]}" 2>/dev/null || echo -1)"
    line+=" $(disk_bytes "${datadir[$c]}") $(recv_appended "$c") $(cpu_ticks "$r" 2>/dev/null || echo -1)"
  done
  line+=" $(agent_metric S sigv4_sidecar_remote_samples_sent_total) $(agent_metric S prometheus_remote_storage_shards)"
  line+=" $(agent_metric S prometheus_remote_storage_samples_pending) $(agent_metric P prometheus_remote_storage_shards)"
  line+=" $(agent_metric V vmagent_remotewrite_pending_data_bytes) $(busy_ticks)"
  echo "$line"
}
col() {  # $1 = agent, $2 = rss|cpu|disk|app|rcpu: its column in a snapshot
  local k
  case $1 in S) k=0 ;; V) k=1 ;; P) k=2 ;; esac
  case $2 in rss) echo $((2 + 5 * k)) ;; cpu) echo $((3 + 5 * k)) ;; disk) echo $((4 + 5 * k)) ;;
    app) echo $((5 + 5 * k)) ;; rcpu) echo $((6 + 5 * k)) ;; esac
}
field() { awk -v f="$2" '{print $f}' <<<"$1"; }  # $1 = snapshot line, $2 = column
get() { field "$1" "$(col "$2" "$3")"; }          # $1 = snapshot line, $2 = agent, $3 = what
monitor() {
  local next
  next=$(date +%s)
  while :; do
    snapshot >>"$work/monitor.tsv"
    next=$((next + 5))
    sleep "$(calc "$next - $(now)" | awk '{print ($1 > 0) ? $1 : 0}')"
  done
}
progress() {  # $1 = what: one line with each agent's phase, RSS, disk and its receiver's appended samples
  local s c out=""
  s=$(snapshot)
  for c in $agents; do
    out+=" $c ${phase[$c]} rss $(fmt "$(calc "$(get "$s" $c rss) / 1024")" 0)MB"
    out+=" disk $(fmt "$(calc "$(get "$s" $c disk) / 1048576")" 0)MB recv $(get "$s" $c app);"
  done
  echo "[$(date +%T)] $1:$out load $(cut -d' ' -f1 /proc/loadavg)"
}
check_alive() {
  local c
  for c in $agents; do
    kill -0 "${pid[$c]}" 2>/dev/null || { echo "${name[$c]} exited:" >&2; tail "$work/$c.log" >&2; exit 1; }
  done
}

echo "outage benchmark: $targets targets x $series series every ${interval}s per agent" \
  "($((targets * series / interval)) samples/s each, 3 agents at once); outage ${outage}s per agent, staggered" \
  "by ${stagger}s in the order $order; warm-up ${warmup}s"
echo "machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), $(free -g | awk '/^Mem:/{print $2}') GiB;" \
  "no CPU pinning (all processes on all cores); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$work/sigv4-sidecar" --version), vmagent $(dpkg-query -W -f '${Version}' victoria-metrics)," \
  "prometheus $(dpkg-query -W -f '${Version}' prometheus); receivers: $receiver; work dir $work"
declare -A phase=([S]=steady [V]=steady [P]=steady)
monitor &
monitor_pid=$!

# --- warm-up: the scrape rate each receiver sees ----------------------------------------------------------------
sleep "$((warmup / 2))"
check_alive
s_w=$(snapshot)
sleep "$((warmup - warmup / 2))"
check_alive
s_0=$(snapshot)
t0=$(field "$s_0" 1)
declare -A rate0 t_out t_end s_out s_end t_ready app_ready writes_ready t_caught app_caught writes_caught s_caught
for c in $agents; do
  rate0[$c]=$(calc "($(get "$s_0" $c app) - $(get "$s_w" $c app)) / ($t0 - $(field "$s_w" 1))")
done
k=0
for c in $order; do
  t_out[$c]=$(calc "$t0 + $k * $stagger")
  t_end[$c]=$(calc "${t_out[$c]} + $outage")
  k=$((k + 1))
done
progress "warm-up done"

# --- the outages and catch-ups ----------------------------------------------------------------------------------
left=3
last_progress=$(now)
while ((left > 0)); do
  check_alive
  t=$(now)
  for c in $order; do
    case ${phase[$c]} in
      steady)
        is "$t >= ${t_out[$c]}" || continue
        s_out[$c]=$(snapshot)
        stop_pid "$(cat "$work/R$c.pid")"
        t_out[$c]=$(now)
        t_end[$c]=$(calc "${t_out[$c]} + $outage")
        phase[$c]=outage
        echo "[$(date +%T)] ${name[$c]}'s receiver stopped for ${outage}s"
        ;;
      outage)
        is "$t >= ${t_end[$c]}" || continue
        s_end[$c]=$(snapshot)
        launch_receiver "$c"
        wait_receiver "$c"
        t_ready[$c]=$(now)
        app_ready[$c]=$(recv_appended "$c" 15)
        writes_ready[$c]=$(recv_writes "$c" 15)
        phase[$c]=catchup
        echo "[$(date +%T)] ${name[$c]}'s receiver back (ready after" \
          "$(fmt "$(calc "${t_ready[$c]} - $(field "${s_end[$c]}" 1)")") s)"
        ;;
      catchup)
        n=$(query "$c" "count(time() - $newest_up < $caught_lag)")
        late=$(is "$t - ${t_ready[$c]} > $catchup_max" && echo 1 || echo 0)
        [[ "${n:-0}" == "$targets" || $late == 1 ]] || continue
        t_caught[$c]=$(now)
        app_caught[$c]=$(recv_appended "$c" 15)
        writes_caught[$c]=$(recv_writes "$c" 15)
        s_caught[$c]=$(snapshot)
        phase[$c]=$([[ $late == 1 ]] && echo late || echo done)
        left=$((left - 1))
        if [[ $late == 1 ]]; then
          echo "[$(date +%T)] ${name[$c]} NOT caught up after ${catchup_max}s"
        else
          echo "[$(date +%T)] ${name[$c]} caught up after $(fmt "$(calc "${t_caught[$c]} - ${t_ready[$c]}")") s"
        fi
        ;;
    esac
  done
  if is "$(now) - $last_progress >= 30"; then
    progress "status"
    last_progress=$(now)
  fi
  sleep 1
done

# --- loss ---------------------------------------------------------------------------------------------------
sleep "$tail_s"
boundary=$(calc "$(now) - 15")  # every agent's samples up to here have been on its receiver for >= 15 s
sleep 2  # nginx flushes its log each second
kill "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" 2>/dev/null || true
monitor_pid=""
for c in $agents; do stop_pid "${pid[$c]}"; done
loss=$(python3 - "$work/scrape.log" "$boundary" "$t_start" "$series" "$page_port" "$interval" \
  "S=${ua[S]}=${rport[S]}" "V=${ua[V]}=${rport[V]}" "P=${ua[P]}=${rport[P]}" <<'PY'
# Per agent and target: the scrapes nginx answered for that agent before a boundary placed halfway between
# two of its scrapes around the nominal boundary, times the series of a page, against the page samples the
# agent's receiver holds up to that boundary.
import collections, json, sys, urllib.parse, urllib.request
log, nominal, t0, series, port = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
interval = float(sys.argv[6])
agents = [a.split("=", 2) for a in sys.argv[7:]]
starts = collections.defaultdict(list)  # (agent, address) -> [(start, status)]
unknown = 0
for line in open(log):
    f = line.rstrip("\n").split(" ", 4)
    if len(f) < 5:
        continue
    ag = next((a for a, prefix, _ in agents if f[4].startswith(prefix)), None)
    if ag is None:
        unknown += 1
        continue
    starts[(ag, f[3])].append((float(f[0]) - float(f[1]), f[2]))
for a, prefix, rport in agents:
    scrapes = expected = received = missed = 0
    lossy = []
    for (ag, addr), reqs in sorted(starts.items()):
        if ag != a:
            continue
        reqs.sort()
        before = [s for s in reqs if s[0] < nominal]
        after = [s for s in reqs if s[0] >= nominal]
        if not before or not after:
            continue
        b = (before[-1][0] + after[0][0]) / 2
        n = sum(1 for s in before if s[1] == "200")
        # Scrapes the agent never made: intervals from its first scrape of the target to the boundary.
        missed += round((before[-1][0] - before[0][0]) / interval) + 1 - len(before)
        scrapes += n
        expected += n * series
        rng = int((b - t0 + 120) * 1000)
        q = (f'sum(count_over_time({{job="bench",instance="{addr}:{port}",__name__=~"node_.+|http_.+"}}'
             f'[{rng}ms]))')
        url = f"http://127.0.0.1:{rport}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{b:.3f}"})
        r = json.load(urllib.request.urlopen(url, timeout=120))["data"]["result"]
        got = int(float(r[0]["value"][1])) if r else 0
        received += got
        if got != n * series:
            lossy.append(f"{addr}:{n * series - got}")
    # Scrapes the agent itself counted as failed (up == 0), e.g. a timeout on a page nginx did serve.
    rng = int((nominal - t0 + 120) * 1000)
    q = f'sum(count_over_time(up{{job="bench"}}[{rng}ms])) - sum(sum_over_time(up{{job="bench"}}[{rng}ms]))'
    url = f"http://127.0.0.1:{rport}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{nominal:.3f}"})
    r = json.load(urllib.request.urlopen(url, timeout=120))["data"]["result"]
    down = int(float(r[0]["value"][1])) if r else -1
    print(a, scrapes, expected, received, down, missed, len(lossy), ",".join(lossy[:5]) or "-")
print("unknown", unknown, 0, 0, 0, 0, 0, "-")
PY
)

# --- report -------------------------------------------------------------------------------------------------
mb() { fmt "$(calc "$1 / 1024")"; }
peak_rss() {  # $1 = agent, $2 $3 = window: the highest RSS sample in it
  awk -v f="$(col "$1" rss)" -v a="$2" -v b="$3" '$1 >= a && $1 <= b && $f > m {m = $f} END {print m + 0}' \
    "$work/monitor.tsv"
}
peak_rate() {  # $1 = agent, $2 $3 = window: the highest 5 s rate of receiver appends in it
  awk -v f="$(col "$1" app)" -v a="$2" -v b="$3" '$1 >= a && $1 <= b {
      if (have && $f >= 0 && pv >= 0 && $f >= pv && $1 > pt) { r = ($f - pv) / ($1 - pt); if (r > m) m = r }
      pt = $1; pv = $f; have = 1 } END {printf "%.0f\n", m}' "$work/monitor.tsv"
}
ticks_s() { calc "($2 - $1) / $tck"; }  # CPU seconds between two tick counts
busy_pct() { calc "100 * ($(field "$2" 22) - $(field "$1" 22)) / ($(field "$2" 23) - $(field "$1" 23))"; }
overlap() {  # $1 = agent: seconds its catch-up overlapped another agent's
  local c o=0
  for c in $agents; do
    [[ $c != "$1" ]] || continue
    o=$(awk -v o="$o" -v a0="${t_ready[$1]}" -v a1="${t_caught[$1]}" -v b0="${t_ready[$c]}" -v b1="${t_caught[$c]}" \
      'BEGIN {lo = a0 > b0 ? a0 : b0; hi = a1 < b1 ? a1 : b1; printf "%.1f\n", o + (hi > lo ? hi - lo : 0)}')
  done
  echo "$o"
}
# Everything per agent first, then the tables.
declare -A peak row detail
for c in $order; do
  so=${s_out[$c]} se=${s_end[$c]} sc=${s_caught[$c]}
  rss_pre=$(get "$so" $c rss)
  rss_end=$(get "$se" $c rss)
  p=$(peak_rss "$c" "$(field "$so" 1)" "$(field "$se" 1)")
  for v in "$rss_pre" "$rss_end"; do ((v > p)) && p=$v; done
  peak[$c]=$p
  dt=$(calc "${t_caught[$c]} - ${t_ready[$c]}")
  delivered=$(calc "${app_caught[$c]} - ${app_ready[$c]}")
  rate=$(calc "$delivered / ($dt > 0 ? $dt : 1)")
  cpu_cu=$(ticks_s "$(get "$se" $c cpu)" "$(get "$sc" $c cpu)")
  read -r w0 e0 <<<"${writes_ready[$c]}"
  read -r w1 e1 <<<"${writes_caught[$c]}"
  read -r _ scrapes expected received down missed lossy examples < <(grep "^$c " <<<"$loss")
  disk_pre=$(calc "$(get "$so" $c disk) / 1048576")
  disk_end=$(calc "$(get "$se" $c disk) / 1048576")
  row[$c]=$(printf '%-18s %7s %8s %7s %9.1f %10.0f %6.2f %9.1f %9s %8s' \
    "${name[$c]}$([[ ${phase[$c]} == late ]] && echo '(late)')" "$(mb "$rss_pre")" "$(mb "$p")" "$(mb "$rss_end")" \
    "$disk_end" "$rate" "$(calc "$rate / ${rate0[$c]}")" "$dt" "$((expected - received))" "$missed")
  detail[$c]=$(printf '%-18s %8.0f %6.1f %8.1f %6.1f %7.1f %6.2f %7.1f %7.0f %7s %7.1f %7.2f %7.1f %11s %6.0f%% %6.0f%%' \
    "${name[$c]}" "${rate0[$c]}" "$(calc "${t_ready[$c]} - ${t_out[$c]}")" "$disk_pre" \
    "$(calc "($(get "$se" $c disk) - $(get "$so" $c disk)) / (${rate0[$c]} * ($(field "$se" 1) - $(field "$so" 1)))")" \
    "$(ticks_s "$(get "$so" $c cpu)" "$(get "$se" $c cpu)")" \
    "$(calc "$(peak_rate "$c" "${t_ready[$c]}" "${t_caught[$c]}") / ${rate0[$c]}")" "$(calc "$delivered / 1e6")" \
    "$(overlap "$c")" "$(mb "$(peak_rss "$c" "${t_ready[$c]}" "${t_caught[$c]}")")" "$cpu_cu" \
    "$(calc "$delivered > 0 ? 1e6 * $cpu_cu / $delivered : 0")" \
    "$(ticks_s "$(get "$se" $c rcpu)" "$(get "$sc" $c rcpu)")" "$((w1 - w0))/$((e1 - e0))" \
    "$(busy_pct "$so" "$se")" "$(busy_pct "$se" "$sc")")
  detail[$c]+=$'\n'"    loss check: $scrapes scrapes answered by nginx, $expected page samples expected, $received on"
  detail[$c]+=" the receiver; targets differing: $lossy ${examples/#-/}; scrapes the agent marked up=0: $down;"
  detail[$c]+=" scrape intervals it skipped (no request at all): $missed"
done

echo
echo "outage ${outage}s per agent at ~$((targets * series / interval)) samples/s each ($targets targets x $series" \
  "series every ${interval}s), staggered by ${stagger}s in the order $order; receivers: $receiver;" \
  "$(nproc) cores, no pinning; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %7s %8s %7s %9s %10s %6s %9s %9s %8s\n' agent rss_pre rss_peak rss_end disk_end catchup/s x_scr \
  catchup_s lost skipped
for c in $agents; do echo "${row[$c]}"; done
for o in V P; do
  printf 'sidecar / %-16s RSS peak during the outage %.2f\n' "${name[$o]}" "$(calc "${peak[S]} / ${peak[$o]}")"
done
echo
echo "details:"
printf '%-18s %8s %6s %8s %6s %7s %6s %7s %7s %7s %7s %7s %7s %11s %7s %7s\n' agent scrape/s out_s disk_pre B/smp cpu_out \
  peak_x Msmp overlap rss_cu cpu_cu us/smp rcv_cpu writes/err busy_o busy_c
for c in $agents; do echo "${detail[$c]}"; done
cat <<COLUMNS
columns: rss_pre, rss_peak, rss_end = RSS (MB) at the outage's start, its highest 5 s sample during it, at its
  end; disk_end, disk_pre = MB of the spool / tmpDataPath / WAL directory at the outage's end and start; B/smp =
  its growth during the outage per sample scraped; catchup/s = samples the receiver appended per second from
  its restart until caught up (every target's up newer than ${caught_lag}s; (late): not within ${catchup_max}s),
  x_scr = that / scrape/s (what the receiver appended per second before any outage), peak_x = the best 5 s;
  catchup_s = time to catch up; Msmp = million samples delivered then; overlap = s of it during another agent's
  catch-up; rss_cu = peak RSS then (MB); cpu_cu, rcv_cpu = CPU s of the agent and of its receiver then; us/smp
  = agent CPU microseconds per sample delivered then; writes/err = the receiver's write requests / errors then;
  busy_o, busy_c = the host's busy share during the outage and the catch-up; cpu_out = agent CPU s during the
  outage; out_s = the outage as it was (receiver stopped until ready again); lost = page samples scraped (from
  nginx's log) minus those on the receiver (a scrape the agent itself failed, up=0, included); skipped = scrape
  intervals in which the agent sent no request at all (from its first scrape of a target to the boundary)
COLUMNS
grep -q '^unknown 0 ' <<<"$loss" || echo "note: nginx log lines from other user agents: $(grep '^unknown' <<<"$loss" |
  cut -d' ' -f2) (the script's own page checks)"
