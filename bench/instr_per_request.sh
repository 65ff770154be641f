#!/usr/bin/env bash
# Instructions per proxied request, deterministically: the sidecar under callgrind, an nginx origin serving
# 4 KiB, 8 keep-alive clients; counters zeroed after a warm-up, then N requests (default 2000) counted. The
# figure does not move with the machine's load, so an optimization's worth is measured in one run, not five.
# SHA-256 runs without SHA-NI under valgrind (~17 k instructions of each request's figure); the real CPU's cost
# per request is perf stat's task-clock under load (see the issue 11 notes).
# Usage: bench/instr_per_request.sh [build-dir] [requests]   (prints the top functions too; keeps nothing)
#        POST=1 bench/instr_per_request.sh ...   the same for POST 10 KiB (answered 204), the bench's other workload
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib_scrape.sh"
build=${1:-$root/build/release}
n=${2:-2000}
post=${POST:-0}
bin=$build/proxy/sigv4-sidecar
command -v valgrind >/dev/null && command -v nginx >/dev/null && command -v wrk >/dev/null ||
  "$root/scripts/install-deps.sh" --bench
work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run as an unprivileged user
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

head -c 3072 /dev/urandom | base64 -w 100 | head -c 4096 >"$work/metrics"
origin=$(free_port) port=$(free_port) admin=$(free_port)
bench_origin_conf "$work" "$origin"
nginx -c "$work/origin.conf" -p "$work" -g 'daemon off;' &
pids+=($!)
AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --dump-instr=no \
  "$bin" --host "127.0.0.1:$origin" --upstream-url-scheme http --name execute-api --region us-east-1 \
  --port "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --log-level warn --busy-poll-us 0 \
  >"$work/sidecar.log" 2>&1 &
sidecar=$!
pids+=("$sidecar")
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$admin/-/ready" && break; sleep 0.2; done
wrk -t1 -c8 -d5s "http://127.0.0.1:$port/metrics" >/dev/null  # warm-up: pools, caches, first-run paths
callgrind_control -z "$sidecar" >/dev/null 2>&1
python3 - "$port" "$n" "$post" <<'PY'
import os, select, socket, sys
port, n, post = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
if post:
    body = os.urandom(10240)
    req = (f"POST /write HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n"
           f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
else:
    req = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n".encode()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
bufs = {s: b"" for s in socks}
sent = done = 0
for s in socks:
    s.sendall(req)
    sent += 1
while done < n:
    for s in select.select(socks, [], [])[0]:
        bufs[s] += s.recv(65536)
        while (h := bufs[s].find(b"\r\n\r\n")) >= 0:
            head = bufs[s][:h].decode()
            assert head.startswith("HTTP/1.1 204" if post else "HTTP/1.1 200"), head
            length = int(next((l.split(":")[1] for l in head.split("\r\n") if l.lower().startswith("content-length")), 0))
            if len(bufs[s]) < h + 4 + length:
                break
            bufs[s] = bufs[s][h + 4 + length:]
            done += 1
            if sent < n:
                s.sendall(req)
                sent += 1
PY
callgrind_control -d "$sidecar" >/dev/null 2>&1
total=$(callgrind_annotate "$work"/cg.out.1 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1}')
echo "instructions per proxied $( ((post)) && echo "POST 10 KiB" || echo "GET 4 KiB"): $((total / n)) ($n requests)"
callgrind_annotate --threshold=100 "$work"/cg.out.1 2>/dev/null | awk '/file:function/{go=1; next} go && NF' |
  grep -v -e "^-" -e "ld-linux" -e "below main" -e '_M_run' -e 'start_thread' -e 'clone.S' -e ':main ' -e 'run_proxy' -e 'server::run' \
    -e 'libc-start' -e 'libc_start' -e 'libstdc++.so.6.0.30\]$' | head -25 | cut -c1-170
