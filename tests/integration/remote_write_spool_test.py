#!/usr/bin/python3
"""The durable remote-write spool's proof (issue 9): outages, kills and damaged files lose no sample.

  remote_write_spool_test.py CASE PATH/TO/sigv4-sidecar [PATH/TO/prometheus]
  CASE: outage_503 | refused | kill9_restart | torn_tail | corrupt_record | two_endpoints | disk_full
  SPOOL_TEST_OUTAGE_S: the outage length (default 60 s; shorter while developing)
  SPOOL_TEST_DISK_FULL_S: disk_full: how long the disk stays full (default 33 s: past one 30 s retry)

One case per run (ctest registers each as remote_write_spool.CASE, so they run in parallel). All real parts on
127.0.0.1:

  counter target <-scrape 1 s- sigv4-sidecar --storage.path DIR --POST (signed, aps)--> fault front
      --byte for byte--> verifier.py (SigV4 check, --require-service aps) --> Prometheus receiver

The target's `spool_seq_total` rises by exactly one per GET, so every sample says which scrape it came from; the
sidecar's config is Prometheus' format (global, scrape_configs, remote_write with sigv4 and a quick
queue_config). The front (tests/support/remote_write_front.py) passes through, answers 503, or refuses
connections, and decodes every request, so it knows which samples were delivered how often (duplicates of
re-sent batches are counted and reported, never a failure) and in what order. The receiver is Debian's
Prometheus with --web.enable-remote-write-receiver and an out-of-order window: Prometheus 2.42 refuses a whole
request (400) when one sample in it is older than its series' newest, so a duplicate of a re-sent batch would
take undelivered samples down with it; the window lets duplicates land, and the front checks the order
instead (a sample delivered for the first time must not be older than its series' newest).

Cases (the receiver's `spool_seq_total{case}` must run 1..last with no gap, last past what was scraped when the
fault ended):
  outage_503      503 for every write for the outage, then recovery.
  refused         connections refused for the outage (listener closed), then reopened on the same port.
  kill9_restart   kill -9 20 s into a 503 outage, restart on the same --storage.path, endpoint back at the
                  outage's end. Beside it, Prometheus 2.42 in agent mode scrapes a counter of its own through a
                  front of its own (straight to the receiver: Debian's build does not sign) with the same
                  schedule, killed and restarted (--storage.agent.path) at the same moment; what it lost is
                  reported, not asserted.
  torn_tail       SIGTERM during an outage (a backlog in the spool), the last segment cut in the middle of its
                  last record, restart with the endpoint back: the log and sigv4_sidecar_spool_torn_tails_total
                  say a torn tail was cut; missing exactly that record's samples.
  corrupt_record  kill -9 during an outage, 4 bytes flipped in a record in the middle of the undelivered backlog
                  (scraper/spool_format.hpp's layout, parsed by tests/support/spool_files.py, so a real record
                  boundary), restart: skipped and counted (sigv4_sidecar_spool_corrupt_records_total, the log);
                  missing exactly that record's samples.
  two_endpoints   two remote_writes (write_relabel_configs tells them apart at the receiver), one down (503)
                  for the outage: the other's newest delivered sample stays within a few seconds of now
                  throughout; the down one catches up with no gap.
  disk_full       --storage.path on a 256 KiB tmpfs the case mounts (as root; a failed mount fails the case):
                  5 s into a 503 outage a filler file fills it to ENOSPC and the spool's own growth hits the
                  wall. The sidecar stays alive and ready, counts sigv4_sidecar_spool_write_errors_total
                  {kind="disk_full"} once and once per 30 s retry (never per scrape), logs 'spool: cannot write'
                  with the ENOSPC reason, rate limited, and holds the scrapes in memory (queue_config.capacity
                  20000, none dropped); then the filler is deleted and the outage ends: no gap, and spooling
                  resumes at the next retry. The spool's records, read after the exit, say which scrapes waited
                  in memory only.
A kill or SIGTERM waits for a scrape and for the spool's files to grow after it, so no scrape is cut between the
target's answer and the append (a sample the sidecar never had is no spool loss). Last line: 'N passed, M failed'.
"""
import errno
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
import remote_write_front as rw  # noqa: E402
import spool_files as sf  # noqa: E402

L = t.LOOPBACK
METRIC = "spool_seq_total"
OUTAGE_S = float(os.environ.get("SPOOL_TEST_OUTAGE_S", "60"))
KILL_AT_S = min(20.0, OUTAGE_S / 3)  # into the outage (kill9_restart)
BACKLOG_S = min(15.0, OUTAGE_S)  # the outage before the stop of torn_tail and corrupt_record
LAG_LIMIT_S = 5.0  # two_endpoints: scrape interval 1 s + batch_send_deadline 1 s + slack
CATCH_UP_S = 60.0  # after recovery, until the receiver holds everything
QUEUE = {"batch_send_deadline": "1s", "min_backoff": "100ms", "max_backoff": "2s"}
SPOOL_METRICS = ("sigv4_sidecar_spool_bytes", "sigv4_sidecar_spool_segments",
                 "sigv4_sidecar_spool_corrupt_records_total", "sigv4_sidecar_spool_torn_tails_total",
                 "sigv4_sidecar_spool_dropped_records_total",
                 "sigv4_sidecar_remote_replayed_samples_total", "sigv4_sidecar_remote_samples_sent_total",
                 "prometheus_remote_storage_samples_pending", "prometheus_remote_storage_samples_dropped_total",
                 "prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_samples_retried_total")


def figure(text):
    print(f"  figure {text}", flush=True)


def wait_until(cond, seconds, step=0.05):
    """Polls cond() until it is true or `seconds` pass; returns its last value."""
    deadline = time.monotonic() + seconds
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


# --- the rig: receiver and verifier ----------------------------------------------------------------------------

class Rig:
    def __init__(self, binary, prometheus):
        self.binary, self.prometheus = binary, prometheus
        # The out-of-order window lets re-sent duplicates land (see the module docstring).
        _, self.rport = t.start_prometheus(
            prometheus, "receiver",
            "global: {scrape_interval: 15s}\nstorage: {tsdb: {out_of_order_time_window: 30m}}\n",
            ["--web.enable-remote-write-receiver"])
        _, self.vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)], forward_to=f"http://{L}:{self.rport}",
                                         extra_args=["--require-service", "aps", "--forward-path", "/api/v1/write"])

    def series_values(self, selector):
        """[(ts ms, int value)] of every series matching selector, by timestamp (stale markers are not returned)."""
        q = urllib.parse.urlencode({"query": f"{selector}[30m]"})
        try:
            r = t.http_request(L, self.rport, "GET", "/api/v1/query?" + q, [("Host", f"{L}:{self.rport}")], timeout=5)
            res = json.loads(r.body)["data"]["result"]
        except (OSError, ValueError, KeyError):
            return []
        out = [(int(round(float(ts) * 1000)), int(float(v))) for s in res for ts, v in s["values"]]
        return sorted(out)

    def values(self, case, extra=""):
        return [v for _, v in self.series_values(f'{METRIC}{{case="{case}"{extra}}}')]


def gaps(vals, allowed=()):
    """(missing values in 1..max that are not allowed, allowed ones present, out-of-order pairs)."""
    if not vals:
        return [], [], []
    allowed = set(allowed)
    present = set(vals)
    missing = sorted(v for v in range(1, max(vals) + 1) if v not in present and v not in allowed)
    back = [(a, b) for a, b in zip(vals, vals[1:]) if b <= a]
    return missing, sorted(allowed & present), back


def describe(vals, allowed=()):
    if not vals:
        return "the receiver holds nothing"
    missing, present, back = gaps(vals, allowed)
    return (f"{len(vals)} values {min(vals)}..{max(vals)}; missing {missing[:30]}{'...' if len(missing) > 30 else ''}"
            f"; expected missing but present {present}; out of order {back[:10]}")


def wait_complete(rig, case, past, allowed=(), extra="", seconds=CATCH_UP_S):
    """Polls the receiver until it holds a value > past and every value of 1..max except exactly `allowed`."""
    allowed = set(allowed)

    def done():
        vals = rig.values(case, extra)
        if not vals or max(vals) <= past:
            return None
        missing, present, back = gaps(vals, allowed)
        want_missing = {v for v in allowed if v < max(vals)}
        return vals if not missing and not present and not back and \
            want_missing == (set(range(1, max(vals) + 1)) - set(vals)) else None
    got = wait_until(done, seconds, step=0.5)
    return got if got else rig.values(case, extra)


def check_receiver(rig, case, past, allowed=(), extra="", what=""):
    vals = wait_complete(rig, case, past, allowed, extra)
    missing, present, back = gaps(vals, allowed)
    allowed_text = f" except exactly the {len(set(allowed))} of the damaged record ({sorted(set(allowed))})" \
        if allowed else ", none missing"
    t.check(vals and vals[0] == 1 and max(vals) > past and not missing and not present and not back,
            f"{case}{what}: the receiver holds every {METRIC} from 1 to {max(vals) if vals else '?'}{allowed_text}, "
            f"in order, past the {past} scraped when the fault ended", describe(vals, allowed))
    return vals


# --- the sidecar -----------------------------------------------------------------------------------------------

class Sidecar:
    """A sigv4-sidecar scraping `target` every second into `remotes` [(name, front)], spooling under storage."""

    def __init__(self, rig, case, target, remotes, relabel_by_remote=False, queue=None):
        self.rig, self.case, self.target = rig, case, target
        self.storage = os.path.join(t.work_dir(), f"spool-{case}")
        remote_write = []
        for name, front in remotes:
            rwc = {"url": f"http://{L}:{front.port}/workspaces/ws-{case}-{name}/api/v1/remote_write", "name": name,
                   "sigv4": {"region": "us-east-1"}, "queue_config": queue or QUEUE}
            if relabel_by_remote:
                rwc["write_relabel_configs"] = [{"target_label": "endpoint", "replacement": name}]
            remote_write.append(rwc)
        self.config = t.yaml_dump({
            "timeouts": {"shutdown_grace": "3s"},
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "external_labels": {"case": case}},
            "scrape_configs": [{"job_name": "seq", "static_configs": [{"targets": [f"{L}:{target.port}"]}]}],
            "remote_write": remote_write,
        })
        self.proxy = None
        self.starts = 0
        self.logs = []

    def start(self):
        self.starts += 1
        self.proxy = t.start_proxy(self.rig.binary, self.config, args=["--storage.path", self.storage],
                                   name=f"sidecar-{self.case}-{self.starts}", proxy_listener=False)
        return self.proxy

    def alive(self):
        return self.proxy is not None and self.proxy.process.alive()

    def metrics(self):
        try:
            return self.proxy.metrics()
        except (OSError, http.client.HTTPException):
            return {}

    def metric(self, name, metrics=None):
        """The sum of every series of `name` (any labels), or None when the sidecar exports no such metric."""
        m = self.metrics() if metrics is None else metrics
        vals = [v for (n, _), v in m.items() if n == name]
        return sum(vals) if vals else None

    def stop(self, sig, timeout=15.0):
        """Sends sig and waits for the exit; returns the exit code (the log stays readable)."""
        code = self.proxy.process.stop(timeout=timeout, sig=sig)
        self.logs.append(self.proxy.process.log_text())
        return code

    def log(self):
        return "".join(self.logs) + (self.proxy.process.log_text() if self.alive() else "")


class Watch:
    """Calls fn() every 0.5 s on a thread of its own until stop()."""

    def __init__(self, fn):
        self.fn, self.ev = fn, threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.ev.wait(0.5):
            try:
                self.fn()
            except Exception as e:  # noqa: BLE001 - a watcher never takes the case down
                print(f"  (watch: {e!r})", flush=True)

    def stop(self):
        self.ev.set()
        self.th.join(5)


class Readiness:
    """/-/ready (200 throughout) and the peaks of pending samples and spool bytes, polled while a case runs."""

    def __init__(self, sidecar):
        self.sc = sidecar
        self.not_ready = []
        self.peak_pending = 0.0
        self.peak_spool_bytes = None
        self.watch = Watch(self.poll)

    def poll(self):
        if not self.sc.alive():
            return
        try:
            r = self.sc.proxy.admin("/-/ready")
            if r.status != 200:
                self.not_ready.append((r.status, r.body[:80]))
        except (OSError, http.client.HTTPException) as e:
            self.not_ready.append(("error", str(e)))
            return
        m = self.sc.metrics()
        self.peak_pending = max(self.peak_pending, self.sc.metric("prometheus_remote_storage_samples_pending", m) or 0)
        b = self.sc.metric("sigv4_sidecar_spool_bytes", m)
        if b is not None:
            self.peak_spool_bytes = max(self.peak_spool_bytes or 0, b)

    def stop(self):
        self.watch.stop()


def wait_delivering(front, seconds=30):
    return wait_until(lambda: any(a.ok and a.samples for a in front.attempts()), seconds, step=0.1)


def stop_after_append(sc, sig, others=()):
    """Waits for the sidecar's next scrape and for its spool files to grow after it (the append), then sends sig
    to the sidecar and right after to each of `others` (Processes, SIGKILL). Returns (the scrape's value,
    whether the append was seen, the exit code)."""
    seen = {}

    def on_get(n):
        if "n" not in seen:
            seen["size"] = sf.total_bytes(sc.storage)
            seen["n"] = n
    sc.target.on_get = on_get
    wait_until(lambda: "n" in seen, 5)
    sc.target.on_get = None
    appended = bool("n" in seen and wait_until(lambda: sf.total_bytes(sc.storage) > seen["size"], 0.9, step=0.005))
    os.kill(sc.proxy.process.pid, sig)  # once: a second SIGTERM may mean "now"
    for p in others:
        os.kill(p.pid, signal.SIGKILL)
    try:
        sc.proxy.process.popen.wait(15)
    except subprocess.TimeoutExpired:
        pass  # stop() below ends it with SIGKILL; the exit code then says so
    code = sc.stop(sig)
    for p in others:
        p.stop(timeout=10, sig=signal.SIGKILL)
    return seen.get("n"), appended, code


def report_spool_metrics(sc, label):
    m = sc.metrics()
    parts = []
    for name in SPOOL_METRICS:
        v = sc.metric(name, m)
        parts.append(f"{name}={'absent' if v is None else f'{v:g}'}")
    figure(f"{label}: " + ", ".join(parts))
    return m


def report_duplicates(front, label):
    dup_seq, n_seq = front.duplicates(METRIC)
    dup_all, n_all = front.duplicates()
    figure(f"{label}: duplicates of re-sent batches: {dup_seq} of {n_seq} {METRIC} samples delivered, "
           f"{dup_all} of {n_all} samples in all (allowed; only gaps fail)")


def check_front(front, label):
    """Every POST decoded and signed; first deliveries in order per series."""
    atts = front.attempts()
    t.check(atts and not front.errors(), f"{label}: the front decoded all {len(atts)} requests", front.errors()[:3])
    t.check(all(a.signed for a in atts), f"{label}: every POST was signed (SigV4)")
    bad = front.order_violations()
    t.check(not bad, f"{label}: in order per series (no first delivery older than its series' newest)",
            [(dict(ls).get("__name__"), ts, newest) for ls, ts, newest in bad[:5]])


def check_common_exit(rig, sc, readiness=None):
    log = sc.log()
    if readiness is not None:
        t.check(not readiness.not_ready, f"{sc.case}: /-/ready answered 200 throughout", readiness.not_ready[:5])
    t.check(t.TEST_SECRET not in log and "Signature=" not in log,
            f"{sc.case}: the log holds neither the secret key nor a Signature=")
    st = t.verifier_stats(rig.vport)
    t.check_eq(st["rejected"], 0, f"{sc.case}: the verifier rejected no request")
    if sc.alive():
        t.check_eq(sc.stop(signal.SIGTERM), 0, f"{sc.case}: exit code after SIGTERM")


# --- damaged records -------------------------------------------------------------------------------------------

def record_values(rec, target):
    """(the METRIC values a spool record holds, how they were found): its payload decoded (spool_codec v1). A record
    that does not decode fails a check, and its timestamp (its newest sample) names the scrape instead."""
    samples, how = sf.payload_samples(rec.payload)
    if samples is not None:
        return {int(v) for ls, _, v in samples if rw.label_value(ls, "__name__") == METRIC and not math.isnan(v)}, \
            f"payload read as {how}"
    t.check(False, f"the test decodes the spool record {rec}", how)
    v = target.value_at(rec.timestamp_ms)
    return ({v} if v is not None else set()), f"payload not decoded ({how}); its timestamp names scrape {v}"


def spool_summary(storage):
    segs = sf.segments(storage)
    recs = sf.all_records(storage)
    pos = sf.positions(storage)
    return (f"{len(segs)} segment(s) {[os.path.relpath(p, storage) for p, _ in segs]}, {len(recs)} valid records, "
            f"types {sorted({r.type for r in recs})}, positions "
            f"{[(p['reader'], p['segment'], p['offset']) for p in pos]}")


# --- the cases -------------------------------------------------------------------------------------------------

def outage_case(rig, case, fault, recover, check):
    """One sidecar delivering through one front: `fault(front)`, OUTAGE_S, `recover(front)`, then `check(sidecar,
    front, requests that reached the front during the outage)`; the receiver must hold every value past what was
    scraped when the outage ended, then the front's checks, readiness throughout and the exit."""
    target, front = rw.CounterTarget(METRIC), rw.FaultFront(rig.vport, "a")
    sc = Sidecar(rig, case, target, [("a", front)])
    sc.start()
    ready = Readiness(sc)
    t.check(wait_delivering(front), f"{case}: delivering before the outage")
    fault(front)
    before = len(front.attempts())
    time.sleep(OUTAGE_S)  # the fault's schedule
    during = len(front.attempts()) - before
    past = target.count()
    recover(front)
    check(sc, front, during)
    check_receiver(rig, case, past)
    ready.stop()
    check_front(front, case)
    report_duplicates(front, case)
    figure(f"{case}: peak samples_pending {ready.peak_pending:g}, peak spool bytes {ready.peak_spool_bytes}")
    report_spool_metrics(sc, case)
    check_common_exit(rig, sc, ready)


def case_outage_503(rig):
    def check(sc, front, during):
        n503 = [a for a in front.attempts() if a.status == 503]
        t.check(len(n503) >= 5, f"outage_503: writes were retried through the {OUTAGE_S:.0f} s outage "
                                f"({len(n503)} answered 503)")

    outage_case(rig, "outage_503", lambda front: front.set_status(503, "upstream unavailable\n"),
                lambda front: front.set_pass(), check)


def case_refused(rig):
    def refuse(front):
        front.refuse()
        t.check_eq(rw.connect_probe(front.port), "refused",
                   "refused: a connect to the front's port is refused during the outage")

    def check(sc, front, during):
        t.check_eq(during, 0, "refused: no request reached the front during the outage")
        errs = sc.metric("sigv4_sidecar_remote_send_errors_total")
        t.check(errs is not None and errs > 0,
                f"refused: failed sends counted (sigv4_sidecar_remote_send_errors_total {errs})")

    outage_case(rig, "refused", refuse, lambda front: front.reopen(), check)


def start_agent(rig, name, target, front, storage, run):
    """Prometheus 2.42 in agent mode: the same scrape and queue_config as the sidecar's."""
    port = t.free_port()
    d = os.path.join(t.work_dir(), name)
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "agent.yml")
    with open(cfg, "w") as f:
        f.write(t.yaml_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "external_labels": {"case": name}},
            "scrape_configs": [{"job_name": "seq", "static_configs": [{"targets": [f"{L}:{target.port}"]}]}],
            "remote_write": [{"url": f"http://{L}:{front.port}/workspaces/ws-agent/api/v1/remote_write",
                              "queue_config": QUEUE}],
        }))
    proc = t.start_process([rig.prometheus, "--enable-feature=agent", f"--config.file={cfg}",
                            f"--storage.agent.path={storage}", f"--web.listen-address={L}:{port}", "--log.level=info"],
                           env=t.credential_env(), name=f"{name}-{run}")

    def ready():
        if not proc.alive():
            raise RuntimeError(f"{name} exited:\n{proc.log_tail()}")
        try:
            return t.http_request(L, port, "GET", "/-/ready", [("Host", f"{L}:{port}")], timeout=2).status == 200
        except OSError:
            return False
    if not wait_until(ready, 30, step=0.2):
        raise TimeoutError(f"{name} not ready:\n{proc.log_tail()}")
    return proc


def runs(values):
    """[1, 2, 3, 7, 8] -> '1-3, 7-8'."""
    out, start, prev = [], None, None
    for v in sorted(values):
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = v
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out)


def undelivered(target, front):
    """The values `target` served that `front` has not handed to the receiver, sorted."""
    return sorted(set(range(1, target.count() + 1)) - front.delivered_values(METRIC))


def lost_values(rig, case):
    vals = rig.values(case)
    return sorted(set(range(1, max(vals or [0]) + 1)) - set(vals)), max(vals or [0])


def case_kill9_restart(rig):
    target, front = rw.CounterTarget(METRIC), rw.FaultFront(rig.vport, "a")
    # Debian's Prometheus 2.42 sends remote_write unsigned even with `sigv4:` configured (no Authorization header
    # at all), so its front hands its writes straight to the receiver: the comparison is about loss, not signing.
    atarget = rw.CounterTarget(METRIC)
    afront = rw.FaultFront(rig.rport, "agent", forward_path="/api/v1/write")
    sc = Sidecar(rig, "kill9_restart", target, [("a", front)])
    agent_name, agent_storage = "kill9_restart_agent", os.path.join(t.work_dir(), "agent-wal")
    sc.start()
    agent = start_agent(rig, agent_name, atarget, afront, agent_storage, 1)
    t.check(wait_delivering(front), "kill9_restart: the sidecar delivers before the outage")
    t.check(wait_delivering(afront), "kill9_restart: Prometheus agent delivers before the outage")
    front.set_status(503, "upstream unavailable\n")
    afront.set_status(503, "upstream unavailable\n")
    outage_start = time.monotonic()
    time.sleep(KILL_AT_S)  # the fault's schedule
    n, appended, code = stop_after_append(sc, signal.SIGKILL, [agent])
    killed_at = time.monotonic() - outage_start
    t.check_eq(code, -signal.SIGKILL, "kill9_restart: the sidecar was killed by SIGKILL")
    backlog, abacklog = undelivered(target, front), undelivered(atarget, afront)
    figure(f"kill9_restart: kill -9 of both {killed_at:.1f} s into the outage, right after the sidecar's scrape {n} "
           f"(its append {'seen' if appended else 'not seen'} in the spool files); undelivered at the kill: "
           f"sidecar {len(backlog)} scrapes ({runs(backlog)}), agent {len(abacklog)} ({runs(abacklog)})")
    figure(f"kill9_restart: spool at the kill: {spool_summary(sc.storage)}")
    sc.start()
    agent = start_agent(rig, agent_name, atarget, afront, agent_storage, 2)
    t.check(sc.alive(), "kill9_restart: the sidecar starts again on the same --storage.path")
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_start)))  # the rest of the outage
    past, apast = target.count(), atarget.count()
    front.set_pass()
    afront.set_pass()
    check_receiver(rig, "kill9_restart", past)
    # Prometheus agent: what it delivers once its endpoint is back (wait for its newest scrape too, but never fail
    # on what it lost).
    wait_until(lambda: max(rig.values(agent_name) or [0]) > apast, 30, step=0.5)
    lost, last = lost_values(rig, "kill9_restart")
    alost, alast = lost_values(rig, agent_name)
    at_kill, aat_kill = set(lost) & set(backlog), set(alost) & set(abacklog)
    figure(f"kill9_restart: of the scrapes undelivered at the kill -9, lost: sigv4-sidecar {len(at_kill)} of "
           f"{len(backlog)}, Prometheus 2.42 agent {len(aat_kill)} of {len(abacklog)}"
           f"{' (' + runs(aat_kill) + ')' if aat_kill else ''}")
    figure(f"kill9_restart: all scrapes lost over the run: sigv4-sidecar {len(lost)} of {last}"
           f"{' (' + runs(lost) + ')' if lost else ''}, Prometheus 2.42 agent {len(alost)} of {alast}"
           f"{' (' + runs(alost) + ')' if alost else ''}")
    replayed = sc.metric("sigv4_sidecar_remote_replayed_samples_total")
    t.check(replayed is not None and replayed >= len(backlog),
            f"kill9_restart: the restarted sidecar replayed the backlog from the spool "
            f"(sigv4_sidecar_remote_replayed_samples_total {replayed} >= {len(backlog)} undelivered scrapes)")
    check_front(front, "kill9_restart")
    report_duplicates(front, "kill9_restart")
    report_duplicates(afront, "kill9_restart (Prometheus agent)")
    report_spool_metrics(sc, "kill9_restart")
    check_common_exit(rig, sc)
    agent.stop()


def damaged_restart(rig, case, sig, damage):
    """A backlog under a 503 outage, a stop by `sig` after an append, `damage(records, target, front, storage)` on the
    stopped spool (returns the damaged record and its values), a restart with the endpoint back. Returns
    (sidecar, the damaged record or None, the values the receiver may miss)."""
    target, front = rw.CounterTarget(METRIC), rw.FaultFront(rig.vport, "a")
    sc = Sidecar(rig, case, target, [("a", front)])
    sc.start()
    t.check(wait_delivering(front), f"{case}: delivering before the outage")
    front.set_status(503, "upstream unavailable\n")
    time.sleep(BACKLOG_S)  # the fault's schedule: a backlog builds up
    n, appended, code = stop_after_append(sc, sig)
    t.check_eq(code, 0 if sig == signal.SIGTERM else -signal.SIGKILL,
               f"{case}: the sidecar stopped by {signal.Signals(sig).name}")
    backlog = undelivered(target, front)
    figure(f"{case}: stopped right after scrape {n} (its append {'seen' if appended else 'not seen'} in the spool "
           f"files); undelivered backlog {len(backlog)} scrapes ({runs(backlog)})")
    figure(f"{case}: spool before the damage: {spool_summary(sc.storage)}")
    records = sf.all_records(sc.storage)
    rec, allowed = damage(records, target, front, sc.storage)
    t.check(rec is not None, f"{case}: a record to damage was found in the spool", spool_summary(sc.storage))
    if rec is None:
        return sc, None, set()
    front.set_pass()
    sc.start()
    t.check(sc.alive() and sc.proxy.admin("/-/ready").status == 200,
            f"{case}: the sidecar starts on the damaged spool and is ready")
    past = target.count()
    check_receiver(rig, case, past, allowed)
    check_front(front, case)
    report_duplicates(front, case)
    return sc, rec, allowed


# What the restart on a spool damaged at one record shows, per case: the log line about it (a needle, and what it
# says given the record's file and offset), the counter that counts it, the other counter and why it stays 0, and
# the record's name in the loss figure.
DAMAGE_SHOWN = {
    "torn_tail": ("torn tail cut", "the torn tail of {file} was cut at {begin}",
                  "sigv4_sidecar_spool_torn_tails_total", "sigv4_sidecar_spool_corrupt_records_total",
                  "a torn tail is no corruption", "the torn record"),
    "corrupt_record": ("corrupt data skipped", "the corrupt record of {file} at {begin} was skipped",
                       "sigv4_sidecar_spool_corrupt_records_total", "sigv4_sidecar_spool_torn_tails_total",
                       "the kill left no torn tail", "the corrupt record"),
}


def check_damage_shown(rig, case, sc, rec, allowed):
    """After damaged_restart: the first log line about the damage names the record's file and offset, its counter
    is 1 and the other 0 (DAMAGE_SHOWN[case]); then the loss figure, the spool metrics and the exit checks."""
    needle, says, counted, other, why, noun = DAMAGE_SHOWN[case]
    log = sc.log()
    lines = [line for line in log.splitlines() if needle in line]
    t.check(lines and os.path.basename(rec.path) in lines[0] and f"at offset {rec.begin}" in lines[0],
            f"{case}: the log says " + says.format(file=os.path.basename(rec.path), begin=rec.begin),
            lines[:2] or log[-800:])
    t.check_eq(sc.metric(counted), 1.0, f"{case}: {counted}")
    t.check_eq(sc.metric(other), 0.0, f"{case}: {other} ({why})")
    figure(f"{case}: {len(allowed)} {METRIC} value(s) lost with {noun}: {sorted(allowed)}")
    report_spool_metrics(sc, case)
    check_common_exit(rig, sc)


def case_torn_tail(rig):
    def damage(records, target, front, storage):
        if not records:
            return None, set()
        last = records[-1]  # the last record of the newest segment: where a crash tears a write
        vals, how = record_values(last, target)
        delivered = vals & front.delivered_values(METRIC)
        t.check(not delivered, f"torn_tail: the last record ({last}) was not delivered before the stop ({how}; "
                               f"{METRIC} {sorted(vals)})", sorted(delivered))
        size = sf.truncate_mid_record(last)
        figure(f"torn_tail: {os.path.basename(last.path)} cut to {size} bytes, in the middle of its last record "
               f"[{last.begin}, {last.end}) holding {METRIC} {sorted(vals)} ({how})")
        return last, vals - delivered

    sc, rec, allowed = damaged_restart(rig, "torn_tail", signal.SIGTERM, damage)
    if rec is None:
        return
    dropped = sc.metric("sigv4_sidecar_spool_dropped_records_total")
    t.check(dropped in (None, 0.0), f"torn_tail: no record dropped by the limits ({dropped})")
    check_damage_shown(rig, "torn_tail", sc, rec, allowed)


def case_corrupt_record(rig):
    def damage(records, target, front, storage):
        delivered = front.delivered_values(METRIC)
        backlog = []
        for r in records:
            vals, how = record_values(r, target)
            if vals and not vals & delivered:
                backlog.append((r, vals, how))
        if len(backlog) < 3:
            t.check(False, f"corrupt_record: at least 3 undelivered records holding {METRIC} in the spool "
                           f"({len(backlog)})", spool_summary(storage))
            return None, set()
        r, vals, how = backlog[len(backlog) // 2]
        pos = [p for p in sf.positions(storage) if p["ok"]]
        at = sf.corrupt_payload(r)
        figure(f"corrupt_record: 4 bytes flipped at {at} in record [{r.begin}, {r.end}) of "
               f"{os.path.basename(r.path)}, the {len(backlog) // 2 + 1}th of {len(backlog)} undelivered records, "
               f"holding {METRIC} {sorted(vals)} ({how}); committed positions "
               f"{[(p['reader'], p['segment'], p['offset']) for p in pos]}")
        later = [b for b in backlog if (b[0].segment, b[0].begin) > (r.segment, r.begin)]
        t.check(later, "corrupt_record: the damaged record has undelivered records after it")
        return r, vals

    sc, rec, allowed = damaged_restart(rig, "corrupt_record", signal.SIGKILL, damage)
    if rec is not None:
        check_damage_shown(rig, "corrupt_record", sc, rec, allowed)


def case_two_endpoints(rig):
    target = rw.CounterTarget(METRIC)
    up, down = rw.FaultFront(rig.vport, "up"), rw.FaultFront(rig.vport, "down")
    sc = Sidecar(rig, "two_endpoints", target, [("up", up), ("down", down)], relabel_by_remote=True)
    sc.start()
    ready = Readiness(sc)
    t.check(wait_delivering(up) and wait_delivering(down), "two_endpoints: both endpoints receive before the outage")
    lags = []

    def lag():
        newest = up.newest_delivered_ms(METRIC)
        if newest is not None:
            lags.append((time.time() * 1000.0 - newest) / 1000.0)
    down.set_status(503, "upstream unavailable\n")
    watch = Watch(lag)
    time.sleep(OUTAGE_S)  # the fault's schedule
    past = target.count()
    down.set_pass()
    vals_down = check_receiver(rig, "two_endpoints", past, extra=',endpoint="down"',
                               what=" (the endpoint that was down)")
    watch.stop()
    vals_up = check_receiver(rig, "two_endpoints", past, extra=',endpoint="up"', what=" (the endpoint that stayed up)")
    figure(f"two_endpoints: lag of the endpoint that stayed up (now - its newest delivered {METRIC}) over "
           f"{len(lags)} polls while the other was down and caught up: max {max(lags or [0]):.2f} s, "
           f"mean {sum(lags) / max(1, len(lags)):.2f} s")
    t.check(lags and max(lags) <= LAG_LIMIT_S, f"two_endpoints: the endpoint that stayed up received every sample on "
                                               f"time (lag <= {LAG_LIMIT_S:.0f} s throughout)",
            sorted(lags)[-5:])
    t.check(len(vals_up) >= len(vals_down) - 1, "two_endpoints: both endpoints hold the same scrapes",
            (len(vals_up), len(vals_down)))
    ready.stop()
    for f in (up, down):
        check_front(f, f"two_endpoints ({f.name})")
        report_duplicates(f, f"two_endpoints ({f.name})")
    report_spool_metrics(sc, "two_endpoints")
    check_common_exit(rig, sc, ready)


# --- a full disk under the spool --------------------------------------------------------------------------------

TMPFS_KIB = 256  # the disk under --storage.path: a tmpfs this small fills at once
PRE_FULL_S = min(5.0, OUTAGE_S)  # disk_full: the outage before the test fills the disk
# disk_full: how long the disk stays full once a spool write failed; past instance_spool::retry_after (30 s), so
# that one retry fails too and the next, after the space is freed, succeeds.
DISK_FULL_S = float(os.environ.get("SPOOL_TEST_DISK_FULL_S", "33"))
SPOOL_RETRY_S = 30.0  # instance_spool::retry_after
SPOOL_ERROR_LOG_S = 10.0  # instance_spool.cpp's error_log_limiter
# Room in memory for every scrape of the full period (6 samples a scrape), with the spool's backlog fed beside it.
FULL_QUEUE = dict(QUEUE, capacity=20000)


def mount_tmpfs(path, kib):
    """Mounts a tmpfs of `kib` KiB at path; None, or why not."""
    os.makedirs(path, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0700", "tmpfs", path],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"mount: {e!r} (uid {os.getuid()})"
    return None if r.returncode == 0 else \
        f"mount exited {r.returncode}: {(r.stderr or r.stdout).strip()} (uid {os.getuid()}; the case mounts as root)"


def unmount(path):
    r = subprocess.run(["umount", path], capture_output=True, text=True, timeout=20)
    detail = (r.stderr or r.stdout).strip()
    if r.returncode != 0:  # something still holds a file on it: detach it, and say so
        lazy = subprocess.run(["umount", "-l", path], capture_output=True, text=True, timeout=20)
        detail += f"; umount -l exited {lazy.returncode} {(lazy.stderr or lazy.stdout).strip()}"
    t.check(r.returncode == 0, f"disk_full: the tmpfs at {path} unmounted", detail)


def fill_disk(path):
    """Writes zeros to path until the file system says ENOSPC (or EDQUOT); returns the bytes written."""
    n, chunk = 0, b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    return n
                raise


def spool_write_errors(sc, kind, m=None):
    m = sc.metrics() if m is None else m
    return sum(v for (n, ls), v in m.items()
               if n == "sigv4_sidecar_spool_write_errors_total" and dict(ls).get("kind") == kind)


def spooled_values(storage, target):
    """The METRIC values of every record in the spool's segment files (the store keeps its only, active segment)."""
    out = set()
    for rec in sf.all_records(storage):
        vals, _ = record_values(rec, target)
        out |= vals
    return out


def case_disk_full(rig):
    case = "disk_full"
    target, front = rw.CounterTarget(METRIC), rw.FaultFront(rig.vport, "a")
    sc = Sidecar(rig, case, target, [("a", front)], queue=FULL_QUEUE)
    mnt = os.path.join(t.work_dir(), f"tmpfs-{case}")
    sc.storage = os.path.join(mnt, "spool")  # the filler goes beside it, on the same tmpfs
    why = mount_tmpfs(mnt, TMPFS_KIB)
    if not t.check(why is None, f"{case}: a {TMPFS_KIB} KiB tmpfs mounted at {mnt} for --storage.path", why):
        return
    ready = None
    try:
        ready = disk_full_run(rig, case, target, front, sc, mnt)
    finally:
        if ready is not None:
            ready.stop()
        if sc.alive():
            sc.stop(signal.SIGTERM)
        unmount(mnt)


def disk_full_run(rig, case, target, front, sc, mnt):
    filler = os.path.join(mnt, "filler")
    sc.start()
    ready = Readiness(sc)
    t.check(wait_delivering(front), f"{case}: delivering before the outage")
    front.set_status(503, "upstream unavailable\n")
    outage_at = time.monotonic()
    time.sleep(PRE_FULL_S)  # the fault's schedule: a backlog builds up in the spool
    filled = fill_disk(filler)
    vfs = os.statvfs(mnt)
    t.check_eq(vfs.f_bavail, 0, f"{case}: the tmpfs is full ({filled} bytes of filler written up to ENOSPC)")
    # The spool's own growth does the rest: its records still fit in the last page of its segment, until one
    # does not.
    seg_bytes_at_fill = sf.total_bytes(sc.storage)
    got = wait_until(lambda: spool_write_errors(sc, "disk_full") >= 1, 60, step=0.1)
    full_at = time.monotonic()
    t.check(got, f"{case}: a spool write failed with ENOSPC, counted as "
                 f"sigv4_sidecar_spool_write_errors_total{{kind=\"disk_full\"}}")
    if not got:
        return ready
    m = sc.metrics()
    appended_full = sc.metric("sigv4_sidecar_spool_appended_samples_total", m) or 0
    pending_full = sc.metric("prometheus_remote_storage_samples_pending", m) or 0
    n_full = target.count()
    spool_bytes_full = sf.total_bytes(sc.storage)
    figure(f"{case}: spooled before the disk was full: {appended_full:g} samples, spool {spool_bytes_full} bytes "
           f"({spool_bytes_full - seg_bytes_at_fill} of them after the filler), first failed write "
           f"{full_at - outage_at:.1f} s into the outage, at scrape {n_full}; samples pending then {pending_full:g}")

    time.sleep(DISK_FULL_S)  # the fault's schedule: the disk stays full, past one retry
    m = sc.metrics()
    errors_full = spool_write_errors(sc, "disk_full", m)
    other_errors = spool_write_errors(sc, "io_error", m) + spool_write_errors(sc, "too_large", m)
    appended_end = sc.metric("sigv4_sidecar_spool_appended_samples_total", m) or 0
    pending_end = sc.metric("prometheus_remote_storage_samples_pending", m) or 0
    dropped = sc.metric("prometheus_remote_storage_samples_dropped_total", m)
    n_end = target.count()
    held = pending_end - pending_full
    scrapes_full = n_end - n_full
    t.check(sc.alive(), f"{case}: the sidecar is alive after {DISK_FULL_S:.0f} s of a full disk",
            sc.proxy.process.log_tail() if sc.proxy else None)
    t.check_eq(appended_end, appended_full, f"{case}: nothing spooled while the disk was full "
                                            "(sigv4_sidecar_spool_appended_samples_total)")
    t.check(held >= scrapes_full, f"{case}: the {scrapes_full} scrapes taken while the disk was full wait in memory "
                                  f"(samples pending {pending_full:g} -> {pending_end:g})")
    t.check(dropped in (None, 0.0), f"{case}: no sample dropped from memory (queue_config.capacity "
                                    f"{FULL_QUEUE['capacity']}; prometheus_remote_storage_samples_dropped_total "
                                    f"{dropped})")
    # One failed write, and one more for each retry_after while the disk stays full: never one a scrape.
    most = 1 + int(DISK_FULL_S // SPOOL_RETRY_S) + 1
    t.check(1 <= errors_full <= most, f"{case}: {errors_full:g} disk_full errors counted over {scrapes_full} scrapes "
                                      f"of a full disk (retried every {SPOOL_RETRY_S:.0f} s, not every scrape: "
                                      f"at most {most})")
    t.check_eq(other_errors, 0.0, f"{case}: no io_error or too_large spool errors")
    figure(f"{case}: disk full for {DISK_FULL_S:.0f} s: {scrapes_full} scrapes, {held:g} samples held in memory "
           f"({held / max(1, scrapes_full):.1f} a scrape), {errors_full:g} disk_full errors")

    os.remove(filler)
    freed_at = time.monotonic()
    past = target.count()
    front.set_pass()
    vals = check_receiver(rig, case, past)
    catch_up = time.monotonic() - freed_at
    figure(f"{case}: catch-up after the space was freed and the outage ended: {catch_up:.1f} s "
           f"({len(vals)} values at the receiver, past the {past} scraped)")
    # Spooling starts again at the next retry (retry_after after the last failed one).
    resumed = wait_until(lambda: (sc.metric("sigv4_sidecar_spool_appended_samples_total") or 0) > appended_end,
                         max(0.0, SPOOL_RETRY_S + 5 - (time.monotonic() - freed_at)), step=0.2)
    resumed_after = time.monotonic() - freed_at
    t.check(resumed, f"{case}: spooling resumed within {SPOOL_RETRY_S:.0f} s of the space being freed "
                     f"(after {resumed_after:.1f} s)")
    errors_after = spool_write_errors(sc, "disk_full")
    t.check_eq(errors_after, errors_full, f"{case}: no disk_full error once the space was freed")

    log = sc.log()
    lines = [line for line in log.splitlines() if "spool: cannot write" in line]
    span = time.monotonic() - full_at
    t.check(1 <= len(lines) <= min(errors_after, 1 + span // SPOOL_ERROR_LOG_S),
            f"{case}: {len(lines)} log line(s) 'spool: cannot write' for {errors_after:g} failed writes over "
            f"{span:.0f} s (rate limited)", lines[:5])
    t.check(lines and all("No space left on device" in line or "disk full" in line for line in lines),
            f"{case}: the log lines give the reason (ENOSPC: No space left on device)", lines[:2])
    if lines:
        figure(f"{case}: first log line: {lines[0][:400]}")

    check_front(front, case)
    report_duplicates(front, case)
    figure(f"{case}: peak samples_pending {ready.peak_pending:g}, peak spool bytes {ready.peak_spool_bytes}")
    report_spool_metrics(sc, case)
    ready.stop()
    check_common_exit(rig, sc, ready)
    # Which scrapes went through the spool and which waited in memory: the spool's records, read after the exit.
    spooled = spooled_values(sc.storage, target)
    memory = set(range(1, past + 1)) - spooled
    figure(f"{case}: scrapes 1..{past}: spooled {len(spooled & set(range(1, past + 1)))} ({runs(spooled)}), "
           f"held in memory only {len(memory)} ({runs(memory)})")
    t.check(set(range(n_full + 1, n_end)) <= memory,
            f"{case}: the scrapes {n_full + 1}..{n_end - 1} of the full disk are not in the spool (they waited "
            f"in memory)", runs(set(range(n_full + 1, n_end)) & spooled))
    got = set(vals)
    t.check(memory <= got and (spooled & set(range(1, past + 1))) <= got,
            f"{case}: the receiver holds both what was spooled before the disk filled and what waited in memory",
            (runs(memory - got), runs(spooled - got)))
    return ready


CASES = {"outage_503": case_outage_503, "refused": case_refused, "kill9_restart": case_kill9_restart,
         "torn_tail": case_torn_tail, "corrupt_record": case_corrupt_record, "two_endpoints": case_two_endpoints,
         "disk_full": case_disk_full}


def main():
    started = time.monotonic()
    if len(sys.argv) < 3 or sys.argv[1] not in CASES:
        t.check(False, f"usage: {sys.argv[0]} {{{'|'.join(CASES)}}} SIDECAR [PROMETHEUS]")
        return
    case = sys.argv[1]
    binary = os.path.abspath(sys.argv[2])
    prometheus = sys.argv[3] if len(sys.argv) > 3 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    if not os.path.exists(prometheus):
        t.check(False, f"{prometheus} present; install Debian's 'prometheus' package")
        return
    t.section(f"{case}: outage {OUTAGE_S:g} s (SPOOL_TEST_OUTAGE_S)")
    rig = Rig(binary, prometheus)
    CASES[case](rig)
    figure(f"{case}: wall time {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    # A SIGTERM (a CI runner's or someone's pkill) unwinds instead of killing Python outright, so that atexit still
    # stops the receiver, the verifier and Prometheus agent instead of leaving them running.
    def terminated(*_):
        t.check(False, "the test ran to its end (it got SIGTERM)")  # a failure keeps the logs
        sys.exit(143)
    signal.signal(signal.SIGTERM, terminated)
    t.run_main(main)
