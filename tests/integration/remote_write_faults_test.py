#!/usr/bin/python3
"""The scraper's remote-write sender against a misbehaving receiver, all real parts on loopback.

  remote_write_faults_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus]

Each case has its own scrape target (a page whose `seq_total` rises by exactly one per GET, so the receiver can
tell which scrapes it holds), its own sigv4-sidecar (scraper-only config, scrape every 1 s, external label
`case`) and its own fault gateway, and all cases run at the same time to keep the wall time down:

  sidecar --POST (signed, aps)--> fault gateway --forward unchanged--> verifier (SigV4 check) --> Prometheus

The gateway forwards every POST byte for byte (Host and signature included) to tests/support/verifier.py, which
recomputes the signature with botocore and forwards to a real Prometheus (--web.enable-remote-write-receiver),
unless its mode says otherwise: 503; 429 with Retry-After; 400 with a two-line body; 403 "security token ...
expired"; or refused connections (listening socket closed and every open connection shut down, reopened later on
the same port). It decodes each request (snappy + remote.proto compiled by protoc at test time) to know which
seq_total values and how many samples each answer it gave concerned.

Checks per case: which seq_total values the receiver holds (`seq_total[5m]`): exactly 1..max with none missing
when the sender must lose nothing, exactly 1..max minus the values of the refused requests when it must drop;
the sidecar's prometheus_remote_storage_* counters against what the gateway refused; the Retry-After wait
measured between attempts; the log says why each failed send failed (and has the 400 body's first line);
/-/ready stays 200 throughout; the log never holds the secret key, a Signature= or any signature the gateway
saw; SIGTERM exits 0. Last line: 'N passed, M failed'.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
import remote_write_front as rw  # noqa: E402

L = t.LOOPBACK
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

OUTAGE_S = 20.0  # the 503 and the refused-connection outages
RETRY_AFTER_S = 3
BODY_400 = "out of order sample: rejected by the fault gateway\nsecond line, not for the log\n"
BODY_EXPIRED = '{"message":"The security token included in the request is expired"}'
# One scrape appends seq_total and the 5 synthetic series (up, scrape_duration_seconds, scrape_samples_scraped,
# scrape_samples_post_metric_relabeling, scrape_series_added): 6 samples/s. A 20 s outage plus the longest
# backoff (2 s), the batch deadline (1 s) and slack queues ~6 * 28 = 168 samples behind the batch in flight;
# capacity is per shard (the sidecar runs 4 until resharding exists, each series on one), so 200 holds that
# even if every series hashed to one shard; 2.42's default 2500 would hide a queue that could not.
SAMPLES_PER_SCRAPE = 6
CAPACITY = 200
QUEUE = {"capacity": CAPACITY, "max_samples_per_send": 500, "batch_send_deadline": "1s", "min_backoff": "100ms",
         "max_backoff": "2s"}


def load_remote_pb2():
    out = os.path.join(t.work_dir(), "pb")
    os.makedirs(out, exist_ok=True)
    proto_dir = os.path.join(SOURCE_DIR, "scraper")
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out}",
                    os.path.join(proto_dir, "remote.proto")], check=True)
    sys.path.insert(0, out)
    import remote_pb2  # noqa: E402
    return remote_pb2


class Recorder:
    """Checks made on a case's thread, replayed in order on the main thread (so the output is not interleaved)."""

    def __init__(self):
        self.items = []

    def check(self, cond, message, detail=None):
        self.items.append(("check", bool(cond), message, detail))
        return bool(cond)

    def check_eq(self, actual, expected, message):
        return self.check(actual == expected, message, f"expected {expected!r}, got {actual!r}")

    def figure(self, text):
        self.items.append(("figure", True, text, None))

    def replay(self):
        for kind, cond, message, detail in self.items:
            if kind == "figure":
                print(f"  figure {message}", flush=True)
            else:
                t.check(cond, message, detail)


# --- the fault gateway -----------------------------------------------------------------------------------------

class Gateway(rw.FaultListener):
    """The shared fault listener (set_pass / set_status / refuse / reopen), decoding with the protoc-compiled
    remote.proto. Every request is recorded: arrival time (monotonic), the answer's status, its sample count, its
    seq_total values and the sha256 of its uncompressed payload (a retry re-sends the same); and the signatures.
    """

    def __init__(self, pb2, forward_port):
        self.pb2 = pb2
        self.attempts = []
        self.signatures = set()
        super().__init__(forward_port, "gateway")

    def decode(self, body):
        import snappy
        raw = snappy.uncompress(body)
        req = self.pb2.WriteRequest()
        req.ParseFromString(raw)
        seq, n = [], 0
        for ts in req.timeseries:
            n += len(ts.samples)
            if any(lb.name == "__name__" and lb.value == "seq_total" for lb in ts.labels):
                seq += [int(s.value) for s in ts.samples]
        return n, seq, hashlib.sha256(raw).hexdigest()

    def record(self, h, body, arrived, wall_ms, status):
        auth = h.headers.get("Authorization", "")
        sig = auth.rpartition("Signature=")[2]
        try:
            samples, seq, key = self.decode(body)
        except Exception as e:  # noqa: BLE001 - recorded: the check on decoding fails
            samples, seq, key = -1, [f"undecodable: {e}"], hashlib.sha256(body).hexdigest()
        with self.lock:
            if sig:
                self.signatures.add(sig)
            self.attempts.append({"t": arrived, "status": status, "samples": samples, "seq": seq, "key": key,
                                  "signed": auth.startswith("AWS4-HMAC-SHA256 ")})

    def snapshot(self):
        with self.lock:
            return list(self.attempts)


# --- the receiver ----------------------------------------------------------------------------------------------

def seq_values(rport, case):
    """The seq_total values the receiver holds for `case`, in timestamp order."""
    q = urllib.parse.urlencode({"query": f'seq_total{{case="{case}"}}[5m]'})
    try:
        r = t.http_request(L, rport, "GET", "/api/v1/query?" + q, [("Host", f"{L}:{rport}")], timeout=5)
        res = json.loads(r.body)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return []
    if len(res) != 1:
        return []
    return [int(float(v)) for _, v in res[0]["values"]]


def wait_values(rport, case, want_max, expected, seconds=20):
    """Polls until the receiver holds a value >= want_max and exactly `expected(max)`; returns the last values."""
    deadline = time.monotonic() + seconds
    vals = []
    while time.monotonic() < deadline:
        vals = seq_values(rport, case)
        if vals and max(vals) >= want_max and vals == expected(max(vals)):
            break
        time.sleep(0.5)
    return vals


def describe_gaps(vals):
    if not vals:
        return "nothing"
    missing = sorted(set(range(1, max(vals) + 1)) - set(vals))
    out_of_order = [b for a, b in zip(vals, vals[1:]) if b <= a]
    return f"{len(vals)} values up to {max(vals)}; missing {missing[:40]}; out of order {out_of_order[:10]}"


# --- one case: a sidecar, its target and gateway ---------------------------------------------------------------

class Case:
    def __init__(self, name, binary, pb2, verifier_port, retry_on_429=False):
        self.name = name
        self.rec = Recorder()
        self.target = rw.CounterTarget("seq_total")
        self.gw = Gateway(pb2, verifier_port)
        queue = dict(QUEUE, retry_on_http_429=retry_on_429)
        config = {
            "admin_listen": f"{L}:{t.free_port()}",
            "timeouts": {"shutdown_grace": "2s"},
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "external_labels": {"case": name}},
            "scrape_configs": [{"job_name": "seq", "static_configs": [{"targets": [f"{L}:{self.target.port}"]}]}],
            "remote_write": [{"url": f"http://{L}:{self.gw.port}/workspaces/ws-{name}/api/v1/remote_write",
                              "sigv4": {"region": "us-east-1"}, "queue_config": queue}],
        }
        self.proxy = t.start_proxy(binary, config, name=f"sidecar-{name}", proxy_listener=False)
        self.not_ready = []
        self.peak_pending = 0
        self.stop_watch = threading.Event()
        self.watcher = threading.Thread(target=self.watch, daemon=True)
        self.watcher.start()

    def watch(self):
        """Polls /-/ready (and the pending gauge) every 0.5 s for as long as the case runs."""
        while not self.stop_watch.wait(0.5):
            try:
                r = self.proxy.admin("/-/ready")
                if r.status != 200:
                    self.not_ready.append((r.status, r.body[:80]))
                m = t.parse_metrics(self.proxy.admin("/metrics").body.decode())
                self.peak_pending = max(self.peak_pending,
                                        t.metric_sum(m, "prometheus_remote_storage_samples_pending"))
            except OSError as e:
                self.not_ready.append(("error", str(e)))

    def metric(self, name, **labels):
        return t.metric_sum(self.proxy.metrics(), name, **labels)

    def wait_delivering(self, seconds=20):
        """Waits for the first POST the receiver accepted, so each fault starts on a working pipeline."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(200 <= a["status"] < 300 for a in self.gw.snapshot()):
                return True
            time.sleep(0.2)
        return False

    def answered(self, status):
        return [a for a in self.gw.snapshot() if a["status"] == status]

    def check_common(self, rport, lost_seq):
        """The receiver holds exactly 1..max minus lost_seq, reaching past what was scraped when the fault ended;
        then the log, readiness and secrecy checks every case shares."""
        rec, last = self.rec, self.target.count()
        lost = set(lost_seq)
        vals = wait_values(rport, self.name, last + 1, lambda m: [v for v in range(1, m + 1) if v not in lost])
        what = "every seq_total value, none missing, in order" if not lost else \
            f"every seq_total value except exactly the {len(lost)} the gateway refused"
        rec.check(vals and max(vals) > last and vals == [v for v in range(1, max(vals) + 1) if v not in lost],
                  f"{self.name}: the receiver holds {what}, and later scrapes (> {last}) arrive", describe_gaps(vals))
        rec.check_eq(self.metric("prometheus_remote_storage_samples_dropped_total"), 0,
                     f"{self.name}: no sample dropped before sending (queue capacity {CAPACITY} held)")
        log = self.proxy.process.log_text()
        rec.check(not self.not_ready, f"{self.name}: /-/ready answered 200 throughout", self.not_ready[:5])
        rec.check(t.TEST_SECRET not in log and "Signature=" not in log,
                  f"{self.name}: the log holds neither the secret key nor a Signature=")
        with self.gw.lock:
            sigs = set(self.gw.signatures)
        rec.check(len(sigs) > 0 and not [s for s in sigs if s in log],
                  f"{self.name}: none of the {len(sigs)} signatures the gateway saw is in the log")
        rec.check(all(a["signed"] for a in self.gw.snapshot()), f"{self.name}: every POST was signed (SigV4)")
        rec.check("shard died" not in log, f"{self.name}: no shard died")
        return log


def run_fault(case, status, body, headers, seconds):
    """Answers every POST with status, body and headers for `seconds` (after the pipeline works), then passes
    again."""
    ok = case.wait_delivering()
    case.rec.check(ok, f"{case.name}: delivering before the fault")
    case.gw.set_status(status, body, headers)
    time.sleep(seconds)
    case.gw.set_pass()


def log_lines(log, needle):
    return [line for line in log.splitlines() if needle in line]


# --- the cases -------------------------------------------------------------------------------------------------

def retry_gaps(c, status):
    """Per batch (requests with the same decoded payload: a retry re-sends the same samples, and the 4 shards
    each have their own batch in flight), the waits after each attempt answered `status` until the next attempt
    of that batch. Returns (gaps, the most attempts any one batch had)."""
    by_key = {}
    for a in c.gw.snapshot():
        by_key.setdefault(a["key"], []).append(a)
    gaps = []
    for attempts in by_key.values():
        gaps += [b["t"] - a["t"] for a, b in zip(attempts, attempts[1:]) if a["status"] == status]
    return gaps, max((len(v) for v in by_key.values()), default=0)


def case_503(c, rport):
    run_fault(c, 503, "upstream unavailable\n", [], OUTAGE_S)
    log = c.check_common(rport, [])
    rec = c.rec
    n503 = c.answered(503)
    gaps, most = retry_gaps(c, 503)
    rec.check(most >= 8, f"503: a batch was retried through the outage ({len(n503)} answers 503, up to {most} "
                         f"attempts of one batch)")
    if gaps:
        rec.figure(f"503: waits after a 503, per batch (s, sorted): {', '.join(f'{g:.2f}' for g in sorted(gaps))}")
        rec.check(max(gaps) <= 2.6 and min(gaps) >= 0.07,
                  "503: backoff from min_backoff 100ms (jitter -20%) up to max_backoff 2s", gaps)
    rec.check(c.metric("prometheus_remote_storage_samples_retried_total") > 0, "503: samples_retried_total > 0")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total"), 0, "503: samples_failed_total == 0")
    rec.check(c.metric("sigv4_sidecar_remote_send_errors_total", kind="http_5xx") >= len(n503),
              "503: send errors counted as http_5xx")
    rec.check(log_lines(log, "send failed, retrying") and log_lines(log, "HTTP status 503"),
              "503: the log says the send failed with HTTP status 503 and is retried", log[-600:])


def case_429_retry(c, rport):
    run_fault(c, 429, "slow down\n", [("Retry-After", str(RETRY_AFTER_S))], 10.0)
    log = c.check_common(rport, [])
    rec = c.rec
    gaps, most = retry_gaps(c, 429)
    rec.figure(f"429 + Retry-After {RETRY_AFTER_S}: waits after a 429, per batch (s, sorted): "
               f"{', '.join(f'{g:.3f}' for g in sorted(gaps))}")
    rec.check(len(gaps) >= 3 and most >= 3 and
              all(RETRY_AFTER_S - 0.05 <= g <= RETRY_AFTER_S + 0.6 for g in gaps),
              f"429 retried: every attempt after a 429 waited Retry-After ({RETRY_AFTER_S} s), not the 100ms-2s "
              f"backoff ({len(gaps)} waits, up to {most} attempts of one batch)", gaps)
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total"), 0, "429 retried: nothing failed")
    rec.check(c.metric("prometheus_remote_storage_samples_retried_total") > 0, "429 retried: samples retried")
    rec.check(log_lines(log, "HTTP status 429"), "429 retried: the log says HTTP status 429", log[-600:])


def case_429_drop(c, rport):
    run_fault(c, 429, "slow down\n", [("Retry-After", str(RETRY_AFTER_S))], 5.0)
    refused = c.answered(429)
    lost = [v for a in refused for v in a["seq"]]
    n = sum(a["samples"] for a in refused)
    log = c.check_common(rport, lost)
    rec = c.rec
    rec.check(len(refused) >= 2, f"429 dropped: {len(refused)} batches answered 429 ({n} samples)")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total", reason="http_429"), n,
                 "429 dropped: samples_failed_total{reason=\"http_429\"} == the samples in the 429'd requests")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total"), n, "429 dropped: no other failure")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_retried_total"), 0,
                 "429 dropped: nothing retried (retry_on_http_429: false)")
    rec.check_eq(len(log_lines(log, "batch refused, dropped")), len(refused),
                 "429 dropped: one 'batch refused, dropped' log line per refused batch")
    rec.check(all("429" in line for line in log_lines(log, "batch refused, dropped")),
              "429 dropped: each says HTTP status 429", log_lines(log, "batch refused")[:2])


def case_400(c, rport):
    run_fault(c, 400, BODY_400, [], 5.0)
    refused = c.answered(400)
    lost = [v for a in refused for v in a["seq"]]
    n = sum(a["samples"] for a in refused)
    log = c.check_common(rport, lost)
    rec = c.rec
    rec.check(len(refused) >= 2, f"400: {len(refused)} batches answered 400 ({n} samples, seq {lost})")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total", reason="http_4xx"), n,
                 "400: samples_failed_total{reason=\"http_4xx\"} == the samples in the 400'd requests")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_retried_total"), 0, "400: nothing retried")
    dropped = log_lines(log, "batch refused, dropped")
    rec.check_eq(len(dropped), len(refused), "400: one 'batch refused, dropped' log line per refused batch")
    first = BODY_400.splitlines()[0]
    rec.check(dropped and all("HTTP status 400" in line and line.count(first) == 1 for line in dropped),
              "400: each log line has the status and the body's first line (once)", dropped[:2])
    rec.check(not [line for line in dropped if "second line" in line], "400: and not the rest of the body")


def case_refused(c, rport):
    rec = c.rec
    rec.check(c.wait_delivering(), "refused: delivering before the fault")
    c.gw.refuse()
    time.sleep(0.5)
    rec.check_eq(rw.connect_probe(c.gw.port), "refused",
                 "refused: a connect to the gateway's port is refused during the outage")
    before = len(c.gw.snapshot())
    time.sleep(OUTAGE_S - 0.5)
    during = len(c.gw.snapshot()) - before
    c.gw.reopen()
    log = c.check_common(rport, [])
    rec.check_eq(during, 0, "refused: no request reached the gateway during the outage")
    rec.figure(f"refused: peak samples_pending during the {OUTAGE_S:.0f} s outage: {c.peak_pending:.0f} "
               f"(capacity {CAPACITY}, {SAMPLES_PER_SCRAPE} samples per scrape)")
    rec.check(c.peak_pending >= SAMPLES_PER_SCRAPE * (OUTAGE_S - 3),
              "refused: the queue held the outage's samples (samples_pending peaked near 6/s x 20 s)", c.peak_pending)
    rec.check(c.metric("prometheus_remote_storage_samples_retried_total") > 0, "refused: samples retried")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total"), 0, "refused: nothing failed")
    rec.check(c.metric("sigv4_sidecar_remote_send_errors_total", kind="network") > 0,
              "refused: send errors counted as network")
    lines = log_lines(log, "send failed, retrying")
    rec.check([line for line in lines if "refused" in line.lower()],
              "refused: the log says the connection was refused", lines[:3])


def case_expired(c, rport):
    run_fault(c, 403, BODY_EXPIRED, [], 6.0)
    log = c.check_common(rport, [])
    rec = c.rec
    n403 = c.answered(403)
    rec.check(len(n403) >= 3, f"expired token: {len(n403)} attempts answered 403")
    rec.check(c.metric("prometheus_remote_storage_samples_retried_total") > 0, "expired token: samples retried")
    rec.check_eq(c.metric("prometheus_remote_storage_samples_failed_total"), 0,
                 "expired token: kept and retried, not dropped")
    # The refusal makes the refresher fetch at once (at most once per 30 s): the start-up fetch plus one.
    refreshes = c.metric("sigv4_sidecar_credential_refreshes_total", result="success")
    rec.check(refreshes >= 2, f"expired token: the credentials were refreshed early ({refreshes:.0f} fetches)")
    rec.check(log_lines(log, "credentials refused as expired: refreshing now"),
              "expired token: the log says the credentials are refreshed now")
    lines = log_lines(log, "send failed, retrying")
    rec.check([line for line in lines if "security token included in the request is expired" in line],
              "expired token: the log says AWS's message", lines[:2])


# --- main ------------------------------------------------------------------------------------------------------

def main():
    started = time.monotonic()
    binary = os.path.abspath(sys.argv[1])
    prometheus = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    if not os.path.exists(prometheus):
        t.check(False, f"{prometheus} present; install Debian's 'prometheus' package")
        return
    pb2 = load_remote_pb2()

    t.section("start: receiver, verifier (aps), and per case a target, a fault gateway and a sidecar")
    _, rport = t.start_prometheus(prometheus, "receiver", "global: {scrape_interval: 15s}\n",
                                  ["--web.enable-remote-write-receiver"])
    _, vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)], forward_to=f"http://{L}:{rport}",
                                extra_args=["--require-service", "aps", "--forward-path", "/api/v1/write"])
    plan = [("outage503", case_503, False), ("retry429", case_429_retry, True), ("drop429", case_429_drop, False),
            ("bad400", case_400, False), ("refused", case_refused, False), ("expired403", case_expired, False)]
    cases = [(Case(name, binary, pb2, vport, retry), fn) for name, fn, retry in plan]
    t.check(True, f"receiver :{rport}, verifier :{vport}, " +
            ", ".join(f"{c.name} gateway :{c.gw.port}" for c, _ in cases))

    def run(c, fn):
        try:
            fn(c, rport)
        except Exception as e:  # noqa: BLE001 - a case's crash is its failure, the others go on
            c.rec.check(False, f"{c.name}: the case ran", repr(e))

    threads = [threading.Thread(target=run, args=(c, fn)) for c, fn in cases]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for c, _ in cases:
        c.stop_watch.set()
    for c, _ in cases:
        t.section(c.name)
        c.rec.replay()
        for a in c.gw.snapshot():
            if a["samples"] < 0:
                t.check(False, f"{c.name}: the gateway decoded every request", a["seq"])
                break

    t.section("the verifier and shutdown")
    st = t.verifier_stats(vport)
    forwarded = sum(1 for c, _ in cases for a in c.gw.snapshot() if 200 <= a["status"] < 300)
    t.check(st["rejected"] == 0 and st["verified"] == forwarded,
            f"every forwarded POST verified (aps) by the verifier ({forwarded})", st)
    for c, _ in cases:
        t.check_eq(c.proxy.stop(), 0, f"{c.name}: exit code after SIGTERM")
    print(f"  figure wall time {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    t.run_main(main)
