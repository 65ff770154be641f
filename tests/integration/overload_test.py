#!/usr/bin/python3
"""Overload (issue 11): a flood of connections over max_connections, and slowloris beside normal clients.

  overload_test.py PATH/TO/sigv4-sidecar

1. Flood: max_connections connections are held open (each answered once, then idle), then FLOOD (9,000) more
   connect at once and each sends a request: every one must read a 503 saying why, within seconds, the proxy's
   RSS must stay bounded, a held connection must still be served during the flood, and
   client_errors_total{kind=too_many_connections} must count exactly the refusals. The test raises its own
   open-file limit; the sidecar raises its soft limit to the hard one itself (proxy/fd_limit.hpp).
2. Slowloris: 1,000 connections drip a header byte a second; normal clients, each on a new connection, must
   all be served meanwhile with a p99 under a second; the slow ones get a 408 at client_header.
3. A hard open-file limit of 1024 (prlimit): the sidecar warns and lowers max_connections to what fits, so
   that a flood still reads 503s instead of finding accepts failing with EMFILE.
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK
MAX_CONNECTIONS = 1024
FLOOD = int(os.environ.get("OVERLOAD_FLOOD", "9000"))
SLOWLORIS = int(os.environ.get("OVERLOAD_SLOWLORIS", "1000"))
CLIENT_HEADER_S = 8
REQUEST = b"GET /flood HTTP/1.1\r\nHost: sidecar.test\r\n\r\n"


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def hold(port, n):
    """n keep-alive connections, each answered once (so that the proxy counts it), left idle."""
    held = []
    for _ in range(n):
        s = socket.create_connection((L, port), timeout=10)
        s.sendall(b"GET /hold HTTP/1.1\r\nHost: sidecar.test\r\n\r\n")
        data = b""
        while True:
            data += s.recv(65536)
            try:
                if t.parse_response(data).complete:
                    break
            except ValueError:
                pass
        held.append(s)
    return held


def flood(port, n, proxy, deadline_s=60.0):
    """n non-blocking connections at once, each sends REQUEST and reads until the proxy closes. Returns
    (statuses {status: count}, errors [...], answer times [s], peak RSS KiB seen meanwhile)."""
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    conns = {}
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((L, port))
        conns[s] = {"buf": b"", "sent": False, "t": None}
        sel.register(s, selectors.EVENT_WRITE)
    statuses, errors, times, peak = {}, [], [], 0
    open_n = n
    last_rss = 0.0
    while open_n and time.monotonic() - start < deadline_s:
        for key, ev in sel.select(timeout=0.5):
            s, c = key.fileobj, conns[key.fileobj]
            try:
                if not c["sent"]:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.send(REQUEST)
                    c["sent"] = True
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                chunk = s.recv(65536)
                if chunk:
                    c["buf"] += chunk
                    continue
                try:
                    r = t.parse_response(c["buf"])
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status == 503 and b"too many connections" not in r.body:
                        errors.append(f"503 without its reason: {r.body[:80]!r}")
                except ValueError:
                    errors.append(f"unparseable {c['buf'][:80]!r}")
                times.append(time.monotonic() - start)
            except OSError as e:
                errors.append(f"{type(e).__name__}: {e}")
            sel.unregister(s)
            s.close()
            open_n -= 1
        if time.monotonic() - last_rss > 0.2:
            peak, last_rss = max(peak, proxy.rss_kib() or 0), time.monotonic()
    for s in list(sel.get_map().values()):
        errors.append("no answer within the deadline")
        s.fileobj.close()
    sel.close()
    return statuses, errors, sorted(times), peak


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    binary = os.path.abspath(sys.argv[1])
    # The sidecar starts with Debian's default soft limit (1024) and must raise it itself.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    verifier, vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)])
    config = {
        "timeouts": {"client_header": f"{CLIENT_HEADER_S}s", "client_body": "5s", "client_idle": "120s",
                     "shutdown_grace": "2s"},
        "limits": {"max_connections": MAX_CONNECTIONS},
        "routes": [{"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{vport}",
                    "sigv4": {"region": "us-east-1", "service": "execute-api"}}],
    }
    proxy = t.start_proxy(binary, config, name="sidecar-overload")
    port = proxy.port
    nofile = raise_nofile(MAX_CONNECTIONS + FLOOD + SLOWLORIS + 512)
    t.check(nofile >= MAX_CONNECTIONS + FLOOD + 256, f"the test's open-file limit is {nofile}")
    limits = open(f"/proc/{proxy.process.pid}/limits").read()
    soft = next(int(line.split()[3]) for line in limits.splitlines() if line.startswith("Max open files"))
    t.check(soft >= 3 * MAX_CONNECTIONS, f"the sidecar raised its open-file soft limit ({soft})")

    t.section(f"flood: {MAX_CONNECTIONS} connections held, then {FLOOD} more at once")
    rss_idle = proxy.rss_kib()
    held = hold(port, MAX_CONNECTIONS)
    rss0 = proxy.rss_kib()
    # A connection waiting for its next request holds no read buffer (session.cpp): its socket, coroutine and
    # timer only. With a 16 KiB buffer each it was 11.1 KiB resident per connection, now 6.1 (same machine).
    per_conn = (rss0 - rss_idle) / MAX_CONNECTIONS
    per_conn_bound = 64 if os.environ.get("SIGV4_SANITIZE") else 10  # redzones and quarantine under a sanitizer
    print(f"  RSS {rss_idle} KiB before, {rss0} KiB with {MAX_CONNECTIONS} idle keep-alive connections: "
          f"{per_conn:.1f} KiB each", flush=True)
    t.check(per_conn < per_conn_bound, f"[idle] an idle keep-alive connection costs {per_conn:.1f} KiB resident "
            f"(< {per_conn_bound})")
    before = t.metric_sum(proxy.metrics(), "sigv4_sidecar_client_errors_total", kind="too_many_connections")
    statuses, errors, times, peak = flood(port, FLOOD, proxy)
    print(f"  {FLOOD} refused in {times[-1] if times else float('nan'):.2f} s: answer p50 {pct(times, .5):.3f} s, "
          f"p99 {pct(times, .99):.3f} s; RSS {rss0} -> peak {peak} KiB", flush=True)
    t.check(statuses == {503: FLOOD} and not errors, f"[flood] {FLOOD} of {FLOOD} read a 503 with its reason",
            f"statuses {statuses}, {len(errors)} errors, e.g. {errors[:3]}")
    t.check(times and times[-1] < 30, f"[flood] all answered within 30 s ({times[-1] if times else 0:.2f} s)")
    # Under a sanitizer (SIGV4_SANITIZE set by ctest) freed memory sits in quarantine: a looser bound.
    bound = 256 if os.environ.get("SIGV4_SANITIZE") else 64
    t.check(peak - rss0 < bound * 1024, f"[flood] RSS grew by {peak - rss0} KiB (< {bound} MiB)")
    s = held[0]
    s.sendall(b"GET /held-during-flood HTTP/1.1\r\nHost: sidecar.test\r\n\r\n")
    data = b""
    while True:
        data += s.recv(65536)
        try:
            if t.parse_response(data).complete:
                break
        except ValueError:
            pass
    t.check(t.parse_response(data).status == 200, "[flood] a held connection is still served", data[:120])
    after = t.metric_sum(proxy.metrics(), "sigv4_sidecar_client_errors_total", kind="too_many_connections")
    t.check_eq(after - before, FLOOD, "[flood] client_errors_total{kind=too_many_connections} counted each refusal")
    for s in held:
        s.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and t.metric_sum(proxy.metrics(), "sigv4_sidecar_client_connections") > 0:
        time.sleep(0.05)
    t.check_eq(t.metric_sum(proxy.metrics(), "sigv4_sidecar_client_connections"), 0,
               "[flood] every connection closed afterwards")

    t.section(f"slowloris: {SLOWLORIS} connections dripping a header, normal clients beside them")
    slow = []
    for i in range(SLOWLORIS):
        s = socket.create_connection((L, port), timeout=10)
        s.sendall(b"GET /slowloris HTTP/1.1\r\nHost: sidecar.test\r\n")
        slow.append(s)
    lat, bad, start, n = [], [], time.monotonic(), 0
    next_drip = time.monotonic()
    while time.monotonic() - start < CLIENT_HEADER_S - 2:
        if time.monotonic() >= next_drip:
            for s in slow:
                try:
                    s.send(b"X-Slow-%d: v\r\n" % n)
                except OSError:
                    pass
            next_drip += 1.0
        t0 = time.monotonic()
        r = proxy.request("GET", f"/normal/{n}", headers=[("Connection", "close")], timeout=10)
        lat.append(time.monotonic() - t0)
        if r.status != 200:
            bad.append(r.status)
        n += 1
    lat.sort()
    print(f"  {n} normal requests beside {SLOWLORIS} slowloris: p50 {pct(lat, .5) * 1000:.1f} ms, "
          f"p99 {pct(lat, .99) * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms", flush=True)
    t.check(n >= 50 and not bad, f"[slowloris] {n} of {n} normal requests served", bad[:5])
    t.check(pct(lat, .99) < 1.0, f"[slowloris] normal p99 {pct(lat, .99) * 1000:.0f} ms < 1 s")
    got408, other = 0, []
    for s in slow:
        s.settimeout(CLIENT_HEADER_S + 5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            other.append(type(e).__name__)
        s.close()
        if data.startswith(b"HTTP/1.1 408"):
            got408 += 1
        elif data:
            other.append(data[:40])
    t.check(got408 == SLOWLORIS, f"[slowloris] {got408} of {SLOWLORIS} got the 408 at client_header", other[:3])
    r = proxy.request("GET", "/after")
    t.check(r.status == 200, "the proxy serves normally afterwards", r)
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")

    t.section("a hard open-file limit of 1024: max_connections is lowered to fit, the flood still gets 503s")
    wrapper = os.path.join(t.work_dir(), "sidecar-nofile-1024")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec prlimit --nofile=1024:1024 {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    capped = t.start_proxy(wrapper, config, name="sidecar-nofile-1024")
    line = next((ln for ln in capped.process.log_text().splitlines() if "max_connections_effective=" in ln), "")
    t.check("open-file limit is too low" in line, "[1024 fds] the sidecar warns that the limit is too low", line)
    cap = int(line.split("max_connections_effective=")[1].split()[0]) if line else 0
    t.check(0 < cap < MAX_CONNECTIONS, f"[1024 fds] effective max_connections {cap} (configured {MAX_CONNECTIONS})")
    held = hold(capped.port, cap)
    statuses, errors, times, _ = flood(capped.port, 2000, capped)
    t.check(statuses == {503: 2000} and not errors, f"[1024 fds] 2000 of 2000 over the lowered limit read a 503",
            f"statuses {statuses}, {len(errors)} errors, e.g. {errors[:3]}")
    t.check("accept failed" not in capped.process.log_text(), "[1024 fds] no accept failed with EMFILE")
    for s in held:
        s.close()
    t.check(capped.stop() == 0, "[1024 fds] the proxy exits 0 on SIGTERM")
    verifier.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: overload_test.py PATH/TO/sigv4-sidecar")
    t.run_main(main)
