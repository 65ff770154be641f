#!/usr/bin/python3
"""Faults around the proxy (issue 11): every client gets an answer with a reason, nothing goes out unsigned.

  chaos_test.py CASE PATH/TO/sigv4-sidecar
  CASE: relay | creds_flap | clock | reload

One case per run (ctest registers each as chaos.CASE). All on 127.0.0.1; the upstream is tests/support/verifier.py,
which recomputes every signature with botocore and counts what it rejects (an unsigned request is a rejection).

  relay       client -> sidecar -> chaos relay (tests/support/chaos_relay.py) -> verifier. The relay gives each
              upstream connection a random plan (seeded): pass, reset after k bytes either way, stall either way
              after k bytes, or cut the response after k bytes with a FIN. 8 clients send GETs of 0-96 KiB
              bodies (/_test/big, checked byte for byte) and POSTs of 0-48 KiB (echoed hash checked). Each
              answer must be a whole correct 200, a 502/504 whose body names the upstream and the reason, or a
              200 the client can tell was cut (the status line was already sent when the upstream broke). No
              client may hang, none may get a complete-looking wrong body. Then the relay passes again: every
              request 200.
  creds_flap  credentials from the fake IMDS (IMDSv2, 20 s credentials, so refreshes happen all the time), a
              second route assuming a role through the fake STS; for 20 s IMDS and STS go down and up at random
              (refused, closed without an answer, STS Throttling), under load on both routes. Each answer is a
              200 the verifier accepted or a 503 whose body says why (credentials); the verifier rejects
              nothing; IMDS and STS are not hammered; everything is 200 again within 10 s of the flapping's end.
  clock       the sidecar under libfaketime (Debian `faketime`; monotonic time untouched, the wall clock steps
              as NTP would), credentials from the fake IMDS expiring 10 minutes ahead: the clock jumps 1 h
              ahead (past the expiry and outside the signature's 15-minute window), then back, then 1 h behind,
              then back. Each answer is a 200, a 403 relayed from the upstream (the signature's date is off)
              or a 503 naming the credentials; nothing unsigned; IMDS is not hammered, but asked again at once
              when the step makes the credentials expire (the refresher's timer was set before it); 200 again
              within 10 s of each return to the right time.
  reload      SIGHUP every 0.2 s for 6 s (alternating two configs: a changed route header) under 4 clients:
              every request 200 and verified, every reload logged, no warning or error.
              Runs under the tsan preset too: reload's config swap against the sessions reading it.
Last line: 'N passed, M failed'.
"""
import hashlib
from collections import Counter
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import chaos_relay  # noqa: E402
import fake_aws  # noqa: E402
import testlib as t  # noqa: E402

L = t.LOOPBACK
SIGV4 = {"region": "us-east-1", "service": "execute-api"}
SECRET_MARKERS = (t.TEST_SECRET,)


def big_pattern(n):
    return bytes(i % 251 for i in range(n))


PATTERN = big_pattern(96 * 1024)


def one_request(port, method, target, body=b"", timeout=15.0):
    """One request on its own connection (Connection: close). Returns (Response or None, error text)."""
    head = (f"{method} {target} HTTP/1.1\r\nHost: sidecar.test\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    try:
        data = t.raw_request(L, port, head + body, timeout=timeout)
    except OSError as e:
        return None, f"{type(e).__name__}: {e}"
    if not data:
        return None, "connection closed with no answer"
    try:
        return t.parse_response(data), None
    except ValueError as e:
        return None, f"unparseable: {e}"


def classify(r, err, want_body=None, want_sha=None):
    """ok | reason (5xx with a reason) | cut (a 200 the client can tell is incomplete) | bad:<why>."""
    if r is None:
        return f"bad:{err}"
    text = r.body.decode("utf-8", "replace")
    if r.status in (502, 504):
        return "reason" if r.complete and text.startswith("upstream ") else f"bad:{r.status} {text[:80]!r}"
    if r.status != 200:
        return f"bad:status {r.status} {text[:80]!r}"
    if not r.complete:
        return "cut"
    if want_body is not None and r.body != want_body:
        return f"bad:wrong body ({len(r.body)} bytes, want {len(want_body)})"
    if want_sha is not None:
        try:
            got = r.json()
        except ValueError:
            return f"bad:not the echo {text[:80]!r}"
        if got.get("body_sha256") != want_sha:
            return "bad:echo hash differs"
    return "ok"


def run_clients(n_clients, seconds, work):
    """Runs work(rng) in n_clients threads for `seconds`; returns the list of its return values."""
    out, lock = [], threading.Lock()
    stop = time.monotonic() + seconds

    def loop(i):
        rng = random.Random(1000 + i)
        while time.monotonic() < stop:
            v = work(rng)
            with lock:
                out.append(v)
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(n_clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def check_log_clean(proxy, secrets=SECRET_MARKERS):
    log = proxy.process.log_text()
    t.check(not any(s in log for s in secrets) and "Signature=" not in log,
            "the log holds no secret and no signature")


# ---------------------------------------------------------------------------------------------------------------
def case_relay(binary):
    verifier, vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)])
    relay = chaos_relay.Relay((L, vport), chaos_relay.passing)
    # One idle connection kept per upstream: 8 clients churn through new upstream connections, each a new plan.
    cfg = {"timeouts": {"upstream_connect": "1s", "upstream_response_header": "1s", "client_body": "10s"},
           "upstream_pool": {"max_idle_per_upstream": 1},
           "routes": [{"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{relay.port}",
                       "sigv4": SIGV4}]}
    proxy = t.start_proxy(binary, cfg, name="sidecar-chaos-relay")

    def work(rng):
        if rng.random() < 0.5:
            n = rng.choice([0, 1, 100, 4096, 16384, 65536, 98304])
            r, err = one_request(proxy.port, "GET", f"/_test/big?bytes={n}")
            return classify(r, err, want_body=PATTERN[:n] if n <= len(PATTERN) else big_pattern(n))
        body = rng.randbytes(rng.choice([0, 10, 1000, 10000, 49152]))
        r, err = one_request(proxy.port, "POST", "/echo", body)
        return classify(r, err, want_sha=hashlib.sha256(body).hexdigest())

    t.section("baseline through a passing relay")
    base = Counter(run_clients(4, 2, work))
    t.check(set(base) == {"ok"}, f"every request 200 and whole ({sum(base.values())})", base)

    t.section("chaos: half the upstream connections reset, stall or cut at a random byte")
    relay.policy = chaos_relay.random_policy(seed=11, fault_share=0.5)
    start = time.monotonic()
    outcomes = Counter(run_clients(8, 20, work))
    took = time.monotonic() - start
    bad = {k: v for k, v in outcomes.items() if k.startswith("bad:")}
    total = sum(outcomes.values())
    print(f"  {total} requests in {took:.1f} s: {outcomes}; relay plans {relay.counts}", flush=True)
    t.check(not bad, f"every client got a whole 200, a 502/504 with its reason or a visibly cut 200 ({total})",
            bad)
    t.check(outcomes.get("ok", 0) > total // 3, "most requests still succeeded (retries on fresh connections)",
            outcomes)
    t.check(outcomes.get("reason", 0) > 0, "some requests read a 502/504 with a reason", outcomes)
    t.check(took < 20 + 15, f"no client hung (the run took {took:.1f} s for 20 s of load)")
    m = proxy.metrics()
    errors = t.metric_sum(m, "sigv4_sidecar_upstream_errors_total")
    t.check(errors > 0, f"sigv4_sidecar_upstream_errors_total counted the faults ({errors:g})")
    log = proxy.process.log_text()
    t.check("request failed" in log and "reason" in log, "the log says why requests failed")

    t.section("the upstream closes right after its response head: nothing relayed yet, so a 502 with the reason")
    relay.policy = lambda: ("truncate_head", 0)
    relay.close_all()
    heads = [one_request(proxy.port, "GET", "/_test/big?bytes=65536") for _ in range(5)]
    t.check(all(r is not None and r.status == 502 and b"before any of it was relayed" in r.body for r, _ in heads),
            "5 of 5 clients read a 502 saying the body was cut before any of it was relayed",
            [(r.status, r.body[:100]) if r is not None else err for r, err in heads])

    t.section("the relay passes again: the proxy recovers at once")
    relay.policy = chaos_relay.passing
    # A pooled connection keeps the plan it was given (a cut at byte k may still be ahead): the network heals as
    # the relay closes what is open, and the sidecar retries what it sends on a closed pooled connection.
    relay.close_all()
    after = Counter(run_clients(4, 3, work))
    t.check(set(after) == {"ok"}, f"every request 200 and whole again ({sum(after.values())})", after)
    st = t.verifier_stats(vport)
    reasons = dict(st.get("rejections_by_reason", {}))
    # A request the relay cut (reset_up, stall_up) reaches the verifier incomplete: "bad framing", or, cut inside
    # its head, a head without the Authorization line (Python's header parser stops at the EOF). The relay saw
    # every head the sidecar sent whole: each must be signed.
    cut_up = st["rejected"]
    t.check(set(reasons) <= {"bad framing", "missing authorization", "missing or garbled authorization"},
            "the verifier rejected only requests the relay cut", st)
    t.check(cut_up <= relay.counts.get("reset_up", 0) + relay.counts.get("stall_up", 0),
            f"{cut_up} cut requests, no more than the relay's reset_up and stall_up plans")
    t.check(relay.heads >= sum(outcomes.values()) and not relay.unsigned,
            f"every one of the {relay.heads} request heads the relay saw was signed", relay.unsigned[:5])
    t.check_eq(proxy.admin("/-/ready").status, 200, "/-/ready 200")
    check_log_clean(proxy)
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")
    relay.stop()
    verifier.stop()


# ---------------------------------------------------------------------------------------------------------------
def creds_outcome(r, err, expired_403=False):
    """ok | 503 (naming the credentials) | 403 (the upstream's, for an expired signature date; only when
    expired_403) | bad:<why>."""
    if r is None:
        return f"bad:{err}"
    text = r.body.decode("utf-8", "replace")
    if r.status == 200:
        return "ok"
    if r.status == 503 and "credential" in text.lower():
        return "503"
    if expired_403 and r.status == 403 and "expired" in text.lower():
        return "403"
    return f"bad:{r.status} {text[:120]!r}"


def count_requests(aws, fake):
    return aws.state(fake)["counters"]["total"]


def case_creds_flap(binary):
    fake_proc, aws = fake_aws.start(["--fakes", "imds,sts", "--imds-require-token", "--imds-expires-in", "6",
                                     "--set", "sts.credential_lifetime=6"])
    gens = [fake_aws.fake_credentials("imds", n) for n in range(1, 400)]
    sts_gens = [fake_aws.fake_credentials("sts", n) for n in range(1, 400)]
    verifier, vport = t.start_verifier(gens + sts_gens)
    up = f"http://{L}:{vport}"
    cfg = {"routes": [{"name": "role", "match": {"path_prefix": "/role/"}, "upstream": f"{up}/",
                       "sigv4": dict(SIGV4, role_arn="arn:aws:iam::123456789012:role/route-role")},
                      {"name": "root", "match": {"path_prefix": "/"}, "upstream": up, "sigv4": SIGV4}]}
    proxy = t.start_proxy(binary, cfg, env=fake_aws.imds_env(aws), name="sidecar-creds-flap")

    def work(rng):
        target = "/role/x" if rng.random() < 0.5 else "/x"
        r, err = one_request(proxy.port, "GET", target, timeout=15)
        time.sleep(0.02)
        return creds_outcome(r, err)

    t.section("steady: both routes signed")
    base = Counter(run_clients(2, 1, work))
    t.check(set(base) == {"ok"}, f"every request 200 ({sum(base.values())})", base)

    t.section("IMDS and STS flap for 20 s under load")
    stop = threading.Event()
    actions = []

    def flapper():
        rng = random.Random(7)
        while not stop.is_set():
            fake = rng.choice(["imds", "sts"])
            what = rng.choice(["refuse", "close", "throttle", "rotate", "up"])
            try:
                if what in ("refuse", "close"):
                    aws.down(fake, how=what)
                elif what == "throttle":
                    aws.up(fake)
                    aws.fail(fake, on="any", count=3, **({"code": "Throttling"} if fake == "sts" else
                                                        {"status": 503, "body": "busy"}))
                elif what == "rotate":
                    aws.up("imds")
                    aws.rotate("imds", expires_in=6)
                else:
                    aws.up(fake)
                    aws.clear_failures(fake)
                actions.append((fake, what))
            except fake_aws.ControlCallError as e:
                actions.append((fake, f"control error {e}"))
            stop.wait(rng.uniform(0.2, 1.2))

    imds_before, sts_before = count_requests(aws, "imds"), count_requests(aws, "sts")
    flap = threading.Thread(target=flapper)
    flap.start()
    outcomes = Counter(run_clients(4, 20, work))
    stop.set()
    flap.join()
    imds_n = count_requests(aws, "imds") - imds_before
    sts_n = count_requests(aws, "sts") - sts_before
    print(f"  {sum(outcomes.values())} requests: {outcomes}; {len(actions)} flaps; IMDS saw {imds_n} requests, "
          f"STS {sts_n}", flush=True)
    bad = {k: v for k, v in outcomes.items() if k.startswith("bad:")}
    t.check(not bad, "each answer was a 200 or a 503 naming the credentials", bad)
    t.check(outcomes.get("ok", 0) > 0, "requests kept succeeding with still-valid credentials", outcomes)
    t.check(imds_n < 20 * 10 and sts_n < 20 * 10, f"IMDS ({imds_n}) and STS ({sts_n}) not hammered (< 10/s)")

    t.section("recovery once both are up")
    aws.up("imds")
    aws.up("sts")
    aws.clear_failures("imds")
    aws.clear_failures("sts")
    aws.rotate("imds", expires_in=600)
    deadline = time.monotonic() + 10
    ok_both = False
    while time.monotonic() < deadline and not ok_both:
        a = creds_outcome(*one_request(proxy.port, "GET", "/x"))
        b = creds_outcome(*one_request(proxy.port, "GET", "/role/x"))
        ok_both = a == "ok" and b == "ok"
        if not ok_both:
            time.sleep(0.2)
    t.check(ok_both, "both routes 200 again within 10 s")
    st = t.verifier_stats(vport)
    t.check(st["rejected"] == 0, "the verifier rejected nothing: nothing unsigned, no dead keys", st)
    t.check(proxy.process.alive(), "the proxy is alive")
    check_log_clean(proxy, SECRET_MARKERS + tuple(g[1] for g in gens[:5]))
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")
    verifier.stop()
    fake_proc.stop()


# ---------------------------------------------------------------------------------------------------------------
def libfaketime():
    for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/"
              "libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"):
        if os.path.exists(p):
            return p
    return None


def faketime_env(lib, aws, name):
    """A clock file at +0 and the sidecar environment (imds_env) that runs it on libfaketime's wall clock."""
    clock_file = os.path.join(t.work_dir(), name)
    set_fake_clock(clock_file, "+0")
    env = fake_aws.imds_env(aws)
    env.update({"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": clock_file, "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"})
    if os.environ.get("SIGV4_SANITIZE"):
        env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + " verify_asan_link_order=0").strip()
    return clock_file, env


def set_fake_clock(clock_file, spec):
    tmp = clock_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(spec + "\n")
    os.replace(tmp, clock_file)


def case_clock(binary):
    lib = libfaketime()
    t.check(lib is not None, "libfaketime is installed (Debian package faketime)")
    if lib is None:
        return
    fake_proc, aws = fake_aws.start(["--fakes", "imds,sts", "--imds-require-token", "--imds-expires-in", "600"])
    gens = [fake_aws.fake_credentials("imds", n) for n in range(1, 50)]
    verifier, vport = t.start_verifier(gens)
    clock_file, env = faketime_env(lib, aws, "faketime.rc")
    cfg = {"log_level": "info",
           "routes": [{"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{vport}",
                       "sigv4": SIGV4}]}
    proxy = t.start_proxy(binary, cfg, env=env, name="sidecar-clock")

    def outcome(r, err):
        return creds_outcome(r, err, expired_403=True)

    def set_clock(spec):
        set_fake_clock(clock_file, spec)

    def load(seconds):
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out.append(outcome(*one_request(proxy.port, "GET", "/x")))
            time.sleep(0.05)
        return Counter(out)

    def recover(label):
        start = time.monotonic()
        while time.monotonic() - start < 10:
            if outcome(*one_request(proxy.port, "GET", "/x")) == "ok":
                took = time.monotonic() - start
                t.check(True, f"{label}: 200 again after {took:.1f} s")
                return
            time.sleep(0.1)
        t.check(False, f"{label}: 200 again within 10 s")

    t.section("right time")
    base = load(1)
    t.check(set(base) == {"ok"}, f"every request 200 ({sum(base.values())})", base)
    for jump in ("+1h", "-1h"):
        t.section(f"the wall clock jumps {jump}")
        before = count_requests(aws, "imds")
        set_clock(jump)
        during = load(6)
        imds_n = count_requests(aws, "imds") - before
        print(f"  at {jump}: {during}; IMDS saw {imds_n} requests in 6 s", flush=True)
        bad = {k: v for k, v in during.items() if k.startswith("bad:")}
        t.check(not bad, f"at {jump} each answer was a 200, a relayed 403 or a 503 naming the credentials", bad)
        t.check(during.get("ok", 0) < sum(during.values()),
                f"at {jump} the upstream or the sidecar noticed the clock (not every request 200)", during)
        t.check(imds_n < 6 * 5, f"IMDS not hammered at {jump} ({imds_n} requests in 6 s)")
        if jump.startswith("+"):
            # Past the expiry by the stepped clock: the first request that finds them expired makes the
            # refresher fetch at once (not at its timer, set by the clock before the step).
            t.check(imds_n >= 1, f"the sidecar fetched credentials again at once ({imds_n} IMDS requests)")
            t.check("credentials expired by this host's clock: refreshing now" in proxy.process.log_text(),
                    "the log says the credentials expired by this host's clock")
        set_clock("+0")
        recover(f"back from {jump}")
    st = t.verifier_stats(vport)
    t.check(st["verified"] > 0, "the verifier verified requests", st)
    reasons = st.get("rejections_by_reason", {})
    t.check(all("expired" in k.lower() or "skew" in k.lower() or "date" in k.lower() for k in reasons),
            "the verifier's only rejections were for the signature's date (never unsigned)", reasons)
    t.check(proxy.process.alive(), "the proxy is alive")
    check_log_clean(proxy, SECRET_MARKERS + tuple(g[1] for g in gens[:5]))
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")
    clock_scraper(binary, lib, aws, vport, gens)
    verifier.stop()
    fake_proc.stop()


def clock_scraper(binary, lib, aws, vport, gens):
    """The scraper alone (no proxy traffic) across the same forward step: its remote_write sender finds the
    credentials expired by the stepped clock and has the refresher fetch at once, as the proxy does."""
    t.section("the scraper's remote_write across a +1 h step")
    clock_file, env = faketime_env(lib, aws, "faketime-scraper.rc")
    admin = t.free_port()
    cfg = {"log_level": "info", "admin_listen": f"{L}:{admin}",
           "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
           "scrape_configs": [{"job_name": "self", "static_configs": [{"targets": [f"{L}:{admin}"]}]}],
           "remote_write": [{"url": f"http://{L}:{vport}/api/v1/remote_write", "sigv4": SIGV4,
                             "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                                              "max_backoff": "1s"}}]}
    sc = t.start_proxy(binary, cfg, env=env, name="sidecar-clock-scraper", proxy_listener=False)

    def verified():
        return t.verifier_stats(vport)["verified"]

    def wait_verified(label, seconds=15):
        start, deadline = verified(), time.monotonic() + seconds
        while time.monotonic() < deadline:
            if verified() > start:
                t.check(True, f"{label}: the verifier accepted a signed remote_write")
                return
            time.sleep(0.2)
        t.check(False, f"{label}: a signed remote_write within {seconds} s", sc.process.log_tail())

    def credential_errors():
        return t.metric_sum(sc.metrics(), "sigv4_sidecar_remote_send_errors_total", kind="credentials")

    wait_verified("right time")
    before_imds, before_err = count_requests(aws, "imds"), credential_errors()
    set_fake_clock(clock_file, "+1h")
    msg = "credentials expired by this host's clock: refreshing now"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and msg not in sc.process.log_text():
        time.sleep(0.2)
    time.sleep(1)
    imds_n = count_requests(aws, "imds") - before_imds
    t.check(msg in sc.process.log_text(), "the scraper's log says the credentials expired by this host's clock",
            sc.process.log_tail())
    t.check(imds_n >= 1, f"the refresher fetched credentials again at once ({imds_n} IMDS requests)")
    t.check(credential_errors() > before_err, "the sends held back are counted as credentials errors")
    set_fake_clock(clock_file, "+0")
    wait_verified("back from +1h")
    t.check(sc.process.alive(), "the scraper's sidecar is alive")
    check_log_clean(sc, SECRET_MARKERS + tuple(g[1] for g in gens[:5]))
    t.check(sc.stop() == 0, "the scraper's sidecar exits 0 on SIGTERM")


# ---------------------------------------------------------------------------------------------------------------
def case_reload(binary):
    verifier, vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)])

    def config(tag):
        return {"routes": [{"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{vport}",
                            "sigv4": SIGV4, "headers": {"X-Config": tag}}]}
    proxy = t.start_proxy(binary, config("a"), name="sidecar-reload")
    stop = threading.Event()
    results, lock = [], threading.Lock()

    def client():
        while not stop.is_set():
            try:
                r = proxy.request("GET", "/x", timeout=10)
                v = r.status == 200 and t.echo_header(r.json(), "x-config") in (["a"], ["b"])
                with lock:
                    results.append("ok" if v else f"bad:{r.status}")
            except OSError as e:
                with lock:
                    results.append(f"bad:{type(e).__name__}")

    t.section("SIGHUP every 0.2 s for 6 s under 4 clients")
    threads = [threading.Thread(target=client) for _ in range(4)]
    for th in threads:
        th.start()
    reloads = 0
    end = time.monotonic() + 6
    while time.monotonic() < end:
        reloads += 1
        proxy.write_config(config("b" if reloads % 2 else "a"))
        proxy.signal(signal.SIGHUP)
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join()
    counts = Counter(results)
    t.check(set(counts) == {"ok"}, f"every request 200 with one of the two configs' headers ({len(results)})",
            counts)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proxy.process.log_text().count("config reloaded") < reloads:
        time.sleep(0.05)
    logged = proxy.process.log_text().count("config reloaded")
    # Two SIGHUPs close together may be folded into one reload; what matters is that none failed.
    t.check(logged >= reloads // 2, f"{logged} reloads logged for {reloads} SIGHUPs")
    log = proxy.process.log_text()
    t.check("level=warn" not in log and "level=error" not in log and "rejected" not in log,
            "no warning or error in the log")
    r = proxy.request("GET", "/x")
    want = "b" if reloads % 2 else "a"
    t.check(r.status == 200 and t.echo_header(r.json(), "x-config") == [want], f"the last config ({want}) is in force")
    st = t.verifier_stats(vport)
    t.check(st["rejected"] == 0, "the verifier rejected nothing", st)
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")
    verifier.stop()


CASES = {"relay": case_relay, "creds_flap": case_creds_flap, "clock": case_clock, "reload": case_reload}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        t.check(False, f"usage: {sys.argv[0]} {{{'|'.join(CASES)}}} SIDECAR")
        return
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]))


if __name__ == "__main__":
    t.run_main(main)
