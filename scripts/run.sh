#!/usr/bin/env bash
# The main job: a local demo pipeline, all on loopback.
#
#   1. No agent: sigv4-sidecar's own scraper scrapes a real node_exporter, itself, and an API Gateway stand-in
#      that answers only correctly signed execute-api requests, and remote-writes signed (aps) to
#      the AMP stand-in (a verifier: recomputes every SigV4 signature with botocore, 403 on mismatch)
#      --> Prometheus (receiver); the samples go through the sidecar's durable spool (--storage.path)
#   2. The proxy beside it: Prometheus (agent) --remote_write--> sigv4-sidecar :8005 --signed--> the same AMP
#      stand-in --> the receiver; and a curl GET through the sidecar to an API Gateway-style path.
#
# Runs until Ctrl-C, or for DEMO_SECONDS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sigv4-sidecar

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs were in $work (removed)"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
sidecar_port=${SIDECAR_PORT:-8005}
admin_port=${ADMIN_PORT:-8006}
receiver_port=19090
agent_port=19091
node_port=19100

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1; see $work" >&2
  return 1
}

echo "==> receiver Prometheus on 127.0.0.1:$receiver_port (remote-write receiver)"
printf 'global: {scrape_interval: 15s}\n' >"$work/receiver.yml"
prometheus --config.file="$work/receiver.yml" --storage.tsdb.path="$work/receiver-data" \
  --web.listen-address="127.0.0.1:$receiver_port" --web.enable-remote-write-receiver \
  >"$work/receiver.log" 2>&1 &
pids+=($!)

start_verifier() {  # name, then extra flags; sets ${name}_port
  local name=$1
  shift
  /usr/bin/python3 tests/support/verifier.py --listen 127.0.0.1:0 --port-file "$work/$name.port" \
    --credentials "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do [[ -s "$work/$name.port" ]] && break; sleep 0.1; done
  printf -v "${name}_port" '%s' "$(cat "$work/$name.port")"
}
echo "==> AMP stand-in (verifier, aps only) forwarding verified writes to the receiver"
start_verifier amp --require-service aps --forward-to "http://127.0.0.1:$receiver_port" --forward-path /api/v1/write
echo "==> API Gateway stand-in (verifier, execute-api only) serving a metrics page"
start_verifier apigw --require-service execute-api

echo "==> node_exporter on 127.0.0.1:$node_port"
prometheus-node-exporter --web.listen-address="127.0.0.1:$node_port" >"$work/node_exporter.log" 2>&1 &
pids+=($!)

cat >"$work/sidecar.yaml" <<YAML
listen: 127.0.0.1:$sidecar_port
admin_listen: 127.0.0.1:$admin_port
routes:
  - name: amp
    match: {path_prefix: /api/v1/write}
    upstream: http://127.0.0.1:$amp_port/api/v1/write
    sigv4: {region: us-east-1, service: aps}
  - name: apigw
    match: {path_prefix: /prod/}
    upstream: http://127.0.0.1:$apigw_port/_test/
    sigv4: {region: us-east-1, service: execute-api}

# The bundled scraper: no agent needed.
global:
  scrape_interval: 5s
  external_labels: {pipeline: demo}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:$node_port']}]
  - job_name: sigv4-sidecar
    static_configs: [{targets: ['127.0.0.1:$admin_port']}]
  - job_name: api-gateway
    metrics_path: /_test/metrics
    static_configs: [{targets: ['127.0.0.1:$apigw_port']}]
    sigv4: {region: us-east-1, service: execute-api}
remote_write:
  - url: http://127.0.0.1:$amp_port/workspaces/ws-demo/api/v1/remote_write
    sigv4: {region: us-east-1}
    queue_config: {batch_send_deadline: 1s}
YAML
echo "==> sigv4-sidecar on 127.0.0.1:$sidecar_port (admin $admin_port), config:"
sed 's/^/    /' "$work/sidecar.yaml"
# --storage.path: the scraper's samples go through a durable spool, so an AMP outage or a restart loses none.
build/release/proxy/sigv4-sidecar --config "$work/sidecar.yaml" --storage.path "$work/spool" >"$work/sidecar.log" 2>&1 &
pids+=($!)
wait_port "$sidecar_port"
wait_port "$receiver_port"

echo "==> agent Prometheus on 127.0.0.1:$agent_port: scrapes itself, remote_writes through the sidecar's proxy"
cat >"$work/agent.yml" <<YAML
global: {scrape_interval: 2s}
scrape_configs:
  - job_name: agent
    static_configs: [{targets: ['127.0.0.1:$agent_port']}]
remote_write:
  - url: http://127.0.0.1:$sidecar_port/api/v1/write
    queue_config: {batch_send_deadline: 1s}
YAML
prometheus --config.file="$work/agent.yml" --storage.tsdb.path="$work/agent-data" \
  --web.listen-address="127.0.0.1:$agent_port" >"$work/agent.log" 2>&1 &
pids+=($!)

echo "==> a scrape of an API Gateway-style endpoint through the sidecar (curl)"
curl -s "http://127.0.0.1:$sidecar_port/prod/metrics" | head -3

deadline=$((SECONDS + ${DEMO_SECONDS:-100000}))
echo "==> watching (Ctrl-C to stop): the receiver, the sidecar's scrapes and sends, the AWS stand-ins"
py=/usr/bin/python3
stats_py='import json, sys
s = json.load(sys.stdin)
print("%d/%d" % (s["verified"], s["rejected"]) + (" (last: %s)" % s["last_rejection"] if s["rejected"] else ""))'
while ((SECONDS < deadline)); do
  sleep 5
  series=$(curl -s "http://127.0.0.1:$receiver_port/api/v1/query?query=count(%7B__name__%3D~%22.%2B%22%7D)" |
    $py -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
  targets=$(curl -s "http://127.0.0.1:$admin_port/api/v1/targets" | $py -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join("%s=%s" % (x["scrapePool"], x["health"]) for x in sorted(t, key=lambda x: x["scrapePool"])))')
  sent=$(curl -s "http://127.0.0.1:$admin_port/metrics" |
    awk '/^sigv4_sidecar_remote_samples_sent_total/{n+=$2} /^sigv4_sidecar_requests_total/{r+=$2}
         /^sigv4_sidecar_spool_bytes/{b+=$2} /^sigv4_sidecar_spool_lag_bytes/{l+=$2}
         END{printf "%d samples sent, spool %.0f KB (%.0f KB unsent), %d proxied requests", n, b/1024, l/1024, r}')
  amp=$(curl -s "http://127.0.0.1:$amp_port/_verifier/stats" |
    $py -c "$stats_py")
  apigw=$(curl -s "http://127.0.0.1:$apigw_port/_verifier/stats" |
    $py -c "$stats_py")
  echo "    receiver: $series series | scrapes: $targets | sidecar: $sent | verified/rejected: AMP $amp, API Gateway $apigw"
done
