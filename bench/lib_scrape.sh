# Sourced by the scraper benchmarks (scraper_bench.sh, outage_bench.sh): the target pages, the nginx that
# serves them, the target list, and readers of /proc and /metrics; and by the proxy benchmarks (proxy_bench.sh,
# instr_per_request.sh) for their origin's nginx config (bench_origin_conf).
#
# Targets: nginx (1 worker, its own config in the caller's temp dir) serves static pages on ONE port listening
# on 0.0.0.0 (only 127.0.0.0/8 allowed); target i is 127.0.<1 + i/250>.<1 + i%250>:PORT, and its page is
# chosen by the address's last byte (up to 250 variants).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'; }

# scrape_pages DIR SERIES VARIANTS: DIR/1.prom .. DIR/VARIANTS.prom, node_exporter-like families (per-CPU
# counters, filesystems, network devices, a histogram, gauges), HELP and TYPE before each, cut to exactly
# SERIES samples; names start with node_ or http_ (never up or scrape_).
# The benches' origin, an nginx of one worker: $1/metrics at /metrics, 204 at /write (POST bodies discarded), on
# 127.0.0.1:$2, and with a third argument TLS on 127.0.0.1:$3 with $1/certs/server.{pem,key}. Writes $1/origin.conf.
bench_origin_conf() {
  local work=$1 port=$2 tls_port=${3:-} tls=""
  [[ -n $tls_port ]] && tls="listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $work/certs/server.pem;
    ssl_certificate_key $work/certs/server.key;"
  cat >"$work/origin.conf" <<NGINX
worker_processes 1;
pid $work/origin.pid;
error_log $work/origin-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$port;
    $tls
    location = /metrics { default_type text/plain; alias $work/metrics; }
    location = /write { return 204; }
  }
}
NGINX
}

scrape_pages() {
  python3 - "$1" "$2" "$3" <<'PY'
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
}

# scrape_target_list N PORT: the N targets as a YAML flow list.
scrape_target_list() {
  local i sep=""
  printf '['
  for ((i = 0; i < $1; i++)); do
    printf '%s"127.0.%d.%d:%d"' "$sep" $((1 + i / 250)) $((1 + i % 250)) "$2"
    sep=", "
  done
  printf ']'
}

# scrape_nginx_conf WORK PAGE_PORT SCRAPE_LOG_FORMAT [HTTP_LINES] [SERVERS]: the config on stdout. The pages
# are WORK/pages/<last byte>.prom, each scrape logged to WORK/scrape.log in the given format; HTTP_LINES go
# after the scrape log_format (more formats), SERVERS after the pages' server block.
scrape_nginx_conf() {
  local work=$1 port=$2 format=$3 http_lines=${4:-} servers=${5:-}
  cat <<NGINX
worker_processes 1;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 16384; }
http {
  log_format scrape '$format';
${http_lines:+$http_lines
}  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  map \$server_addr \$page { "~\\.(?<last>[0-9]+)\$" \$last; }
  server {
    listen 0.0.0.0:$port;
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
${servers:+$servers
}}
NGINX
}

# scrape_nginx_start WORK PAGE_PORT SERIES TARGETS: runs nginx on WORK/nginx.conf in the background and checks
# that a page has SERIES samples and that pages vary by address. Sets nginx_pid (the master, the caller's to
# kill) and nginx_worker.
scrape_nginx_start() {
  local work=$1 port=$2 series=$3 targets=$4 body
  nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
  nginx_pid=$!
  sleep 0.5
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx-error.log" >&2; echo "nginx did not start" >&2; return 1; }
  nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
  body=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -vc '^#')
  [[ "$body" == "$series" ]] || { echo "page check: $body samples, want $series" >&2; return 1; }
  # Variant pages actually differ by address (the last byte chooses the file).
  [[ $(curl -sf "http://127.0.0.1:$port/metrics" | md5sum) != $(curl -sf "http://127.0.1.2:$port/metrics" |
    md5sum) || $targets -lt 2 ]] || { echo "pages do not vary by address" >&2; return 1; }
}

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }  # utime+stime, fields 14 and 15
sys_ticks() { awk '{sub(/.*\) /, ""); print $13}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
metric_sum() {  # $1 = url, $2 = metric name (sum over label sets)
  curl -sf "$1" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $NF} END {printf "%.0f\n", s}'
}
