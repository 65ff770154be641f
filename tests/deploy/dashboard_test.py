#!/usr/bin/python3
"""deploy/grafana/sigv4-sidecar.json against a real Prometheus that scraped a busy sidecar: every panel's PromQL
(Grafana's variables substituted as Grafana would for one selected sidecar) returns data.

  dashboard_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus]

The busy sidecar, all on 127.0.0.1: credentials from a fake IMDS (they expire, so the expiry panel has a value);
routes to a verifier that accepts its signatures, to one that knows the key with another secret (signature
mismatch), to a closed port (upstream errors), to an upstream that drops reused connections (retries) and
signing as a role the fake STS refuses (refresh failures, signing errors); client traffic on all of them
plus malformed requests; its scraper scraping itself and a closed port, remote-writing to a sink that accepts,
one that answers 400 (failed samples) and one that answers 503 with a small queue (retries, send errors, pending
and dropped samples). A Prometheus scrapes its /metrics every second. The dashboard's structure is checked too:
unique ids, no overlapping panels, every target on the datasource variable, every metric it names registered
in the sidecar's sources.
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import fake_aws  # noqa: E402
import testlib as t  # noqa: E402

L = t.LOOPBACK
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "sigv4-sidecar.json")
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1 s scrape interval is at least 4 s
LOAD_SECONDS = 20


class Sink(http.server.BaseHTTPRequestHandler):
    """Remote-write sinks: /ok answers 204, /bad 400, /down 503."""
    protocol_version = "HTTP/1.1"
    counts = {}

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        path = self.path.split("?")[0]
        Sink.counts[path] = Sink.counts.get(path, 0) + 1
        status, body = {"/ok": (204, b""), "/bad": (400, b"bad sample: out of order\n"),
                        "/down": (503, b"unavailable\n")}.get(path, (404, b"no\n"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class FlakyUpstream(socketserver.ThreadingTCPServer):
    """Answers the first request on each connection (keep-alive), then closes the connection when the second
    arrives, before any response byte: the sidecar's retry on a fresh connection (upstream_retries_total)."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for n in range(2):
                length = 0
                while True:
                    line = self.rfile.readline(65537)
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.rfile.read(length)
                if n == 1:
                    return  # the reused connection dies before answering
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                self.wfile.flush()

    def __init__(self):
        super().__init__((L, 0), FlakyUpstream.Handler)


def closed_port():
    s = socket.socket()
    s.bind((L, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load(proxy, stop):
    """Client traffic on every route until stop is set (bounded by LOAD_SECONDS + 10 s in any case)."""
    deadline = time.monotonic() + LOAD_SECONDS + 10
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        i += 1
        for path in ("/ok/a", "/ok/b", "/mismatch/x", "/down/x", "/role/x", "/flaky/x"):
            try:
                proxy.request("POST" if i % 2 else "GET", path, body=b"x" * 512 if i % 2 else b"", timeout=5)
            except OSError:
                pass
        if i % 20 == 0:
            try:
                t.raw_request(L, proxy.port, b"GARBAGE / NOT-HTTP\r\n\r\n", timeout=1)
            except OSError:
                pass
        time.sleep(0.01)


def substitute(expr, job, instance):
    # One selected value: Grafana puts it in the =~ matcher as is (neither value has a regex metacharacter
    # other than '.', which matches itself).
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "1s")
            .replace("$job", job).replace("$instance", instance))


def registered_metrics():
    """Every metric name the sources register (obs::registry counters/gauges/histograms): families with
    labels show in /metrics only once a series exists, so the sources are the list."""
    names = set()
    for layer in ("obs", "net", "creds", "proxy", "scraper"):
        d = os.path.join(ROOT, layer)
        for f in os.listdir(d):
            if f.endswith((".hpp", ".cpp")):
                with open(os.path.join(d, f)) as fh:
                    names |= set(re.findall(r'\.(?:counters|gauges|histograms)\(\s*"([a-z0-9_]+)"', fh.read()))
    return names


def check_structure(dash, exported):
    t.section("the dashboard's structure")
    ids = [p["id"] for p in dash["panels"]]
    t.check(len(ids) == len(set(ids)), f"{len(ids)} panels with unique ids")
    cells = {}
    overlaps = []
    for p in dash["panels"]:
        g = p["gridPos"]
        t.check(g["x"] + g["w"] <= 24, f"panel {p['title']!r} fits the 24-column grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    overlaps.append((p["title"], cells[(x, y)]))
                cells[(x, y)] = p["title"]
    t.check(not overlaps, "no panels overlap", overlaps[:3])
    names = {v["name"] for v in dash["templating"]["list"]}
    t.check({"datasource", "job", "instance"} <= names, f"variables {sorted(names)}")
    targets = [(p, tg) for p in dash["panels"] for tg in p.get("targets", [])]
    t.check(all(tg.get("datasource", {}).get("uid") == "${datasource}" and p["datasource"]["uid"] == "${datasource}"
                for p, tg in targets), "every panel and target uses the datasource variable")
    used = set()
    for _, tg in targets:
        used |= set(re.findall(r"\b(sigv4_sidecar_[a-z_]+|prometheus_remote_storage_[a-z_]+)", tg["expr"]))
    base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    missing = sorted(n for n in base if n not in exported)
    t.check(len(exported) > 30 and not missing, f"every one of the {len(base)} metrics the dashboard names is "
            f"registered by the sidecar's sources ({len(exported)} names)", missing)
    return targets


def main():
    binary = os.path.abspath(sys.argv[1])
    prometheus = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    with open(DASHBOARD) as f:
        dash = json.load(f)

    t.section("a busy sidecar")
    fake_proc, aws = fake_aws.start(["--fakes", "imds,sts", "--imds-expires-in", "3600"])
    aws.fail("sts", code="AccessDenied", count=100000)
    akid, secret, token = fake_aws.fake_credentials("imds", 1)
    good, good_port = t.start_verifier([(akid, secret, token)])
    wrong, wrong_port = t.start_verifier([(akid, "not-" + secret, token)])
    sink = http.server.ThreadingHTTPServer((L, 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://{L}:{sink.server_address[1]}"
    flaky = FlakyUpstream()
    threading.Thread(target=flaky.serve_forever, daemon=True).start()
    sigv4 = {"region": "us-east-1", "service": "aps"}
    admin_port = t.free_port()
    fast_queue = {"min_backoff": "100ms", "max_backoff": "500ms", "batch_send_deadline": "500ms"}
    config = {
        "admin_listen": f"{L}:{admin_port}",
        "timeouts": {"upstream_connect": "1s", "shutdown_grace": "2s"},
        "routes": [
            {"name": "ok", "match": {"path_prefix": "/ok/"}, "upstream": f"http://{L}:{good_port}/", "sigv4": sigv4},
            {"name": "mismatch", "match": {"path_prefix": "/mismatch/"}, "upstream": f"http://{L}:{wrong_port}/",
             "sigv4": sigv4},
            {"name": "down", "match": {"path_prefix": "/down/"}, "upstream": f"http://{L}:{closed_port()}/",
             "sigv4": sigv4},
            {"name": "flaky", "match": {"path_prefix": "/flaky/"}, "upstream": f"http://{L}:{flaky.server_address[1]}/",
             "sigv4": sigv4},
            {"name": "role", "match": {"path_prefix": "/role/"}, "upstream": f"http://{L}:{good_port}/",
             "sigv4": dict(sigv4, role_arn="arn:aws:iam::123456789012:role/refused")},
        ],
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "self", "static_configs": [{"targets": [f"{L}:{admin_port}"]}]},
            {"job_name": "gone", "static_configs": [{"targets": [f"{L}:{closed_port()}"]}]},
        ],
        "remote_write": [
            {"name": "ok", "url": f"{sink_url}/ok", "sigv4": sigv4, "queue_config": fast_queue},
            {"name": "bad", "url": f"{sink_url}/bad", "sigv4": sigv4, "queue_config": fast_queue},
            {"name": "down", "url": f"{sink_url}/down", "sigv4": sigv4,
             "queue_config": dict(fast_queue, capacity=50, max_shards=1, max_samples_per_send=20)},
        ],
    }
    env = t.credential_env(akid=None)
    env.pop("AWS_EC2_METADATA_DISABLED", None)
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = aws.url("imds")
    env["AWS_ENDPOINT_URL_STS"] = aws.url("sts")
    proxy = t.start_proxy(binary, config, env=env, name="sidecar-busy")

    monitor, mport = t.start_prometheus(prometheus, "monitor", f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: sigv4-sidecar
    static_configs: [{{targets: ["{L}:{admin_port}"]}}]
""")
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(proxy, stop), daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    t.check(True, f"sidecar :{proxy.port} admin :{admin_port}, Prometheus :{mport}, sinks {sink_url}")

    targets = check_structure(dash, registered_metrics())

    t.section("the variables resolve to the scraped sidecar")
    up, took = t.prom_poll(mport, "sigv4_sidecar_build_info", lambda r: len(r) == 1, 30)
    t.check(took is not None, "Prometheus scraped the sidecar (sigv4_sidecar_build_info)", up)
    job = up[0][0].get("job", "") if up else ""
    instance = up[0][0].get("instance", "") if up else ""
    t.check_eq((job, instance), ("sigv4-sidecar", f"{L}:{admin_port}"), "label_values(sigv4_sidecar_build_info, job"
               ") and (..., instance) give the sidecar")

    t.section("every panel's PromQL returns data")
    time.sleep(LOAD_SECONDS / 2)
    deadline = time.monotonic() + LOAD_SECONDS + 30
    pending = list(targets)
    results = {}
    while pending and time.monotonic() < deadline:
        still = []
        for p, tg in pending:
            r = t.prom_query(mport, substitute(tg["expr"], job, instance))
            if r:
                results[(p["id"], tg["refId"])] = r
            else:
                still.append((p, tg))
        pending = still
        if pending:
            time.sleep(1)
    stop.set()
    for p, tg in targets:
        r = results.get((p["id"], tg["refId"]))
        shown = [(x[0], round(x[1], 4)) for x in r[:2]] if r else None
        t.check(bool(r), f"{p['title']} [{tg['refId']}]: {len(r) if r else 0} series, e.g. {shown}",
                substitute(tg["expr"], job, instance))
    for th in threads:
        th.join(15)
    t.check(Sink.counts.get("/ok", 0) > 0 and Sink.counts.get("/bad", 0) > 0 and Sink.counts.get("/down", 0) > 0,
            f"the sinks saw writes {Sink.counts}")
    st = t.verifier_stats(good_port)
    t.check(st["verified"] > 0, f"the accepting verifier verified {st['verified']} requests")
    t.check(proxy.process.alive() and monitor.alive(), "the sidecar and Prometheus still run")
    t.check_eq(proxy.stop(timeout=20), 0, "the sidecar exits 0 on SIGTERM")
    sink.shutdown()
    flaky.shutdown()
    del fake_proc


if __name__ == "__main__":
    t.run_main(main)
