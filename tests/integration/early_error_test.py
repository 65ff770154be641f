#!/usr/bin/python3
"""Early errors a client can read (issue 11): clients that write their whole request before they read.

  early_error_test.py PATH/TO/sigv4-sidecar

A client that sends a 2 MiB body to a proxy with max_request_body 1 MiB and reads only after writing everything
(urllib, most remote-write clients) must read the 413, not a reset: the proxy answers early, shuts its write side
and reads and discards what is still arriving (timeouts.lingering_close) before it closes. Each case runs many
times in a row on loopback: 413 (body too large), 431 (header too large) and 400 (both framings) followed by a
2 MiB body, 503 over max_connections with a 2 MiB body behind it, and urllib's POST. The metric
sigv4_sidecar_client_lingering_closes_total{where} counts them. With lingering_close 0 the same clients lose the
answer some of the time: that count is printed (not asserted, it depends on the kernel's timing) to show what
the linger buys. Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import os
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK
MAX_BODY = 1 << 20
BIG = b"b" * (2 << 20)
# The clients below run one after another, but each lingering close holds its connection (and its slot under
# max_connections) until the proxy has read the 2 MiB the client wrote: on a slow machine several overlap. The
# early-error cases run under a limit that 100 sequential clients cannot reach; the 503 case has its own proxy.
MAX_CONNECTIONS = 8
ROOMY_CONNECTIONS = 256
ROUNDS = int(os.environ.get("EARLY_ERROR_ROUNDS", "100"))


def write_all_then_read(port, data, timeout=10.0):
    """Writes all of data, then reads until the proxy closes. Returns (status or None, error text or None)."""
    s = socket.create_connection((L, port), timeout=timeout)
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError as e:  # BrokenPipeError, ConnectionResetError: the answer was lost
        return None, f"{type(e).__name__} after reading {len(got)} bytes"
    finally:
        s.close()
    try:
        return t.parse_response(got).status, None
    except ValueError:
        return None, f"unparseable answer {got[:120]!r}"


def repeat(port, data, rounds):
    """Runs write_all_then_read `rounds` times. Returns ({status: count}, [errors])."""
    statuses, errors = {}, []
    for _ in range(rounds):
        status, err = write_all_then_read(port, data)
        if err:
            errors.append(err)
        else:
            statuses[status] = statuses.get(status, 0) + 1
    return statuses, errors


def expect_all(label, port, data, want, rounds=ROUNDS):
    t.section(label)
    start = time.monotonic()
    statuses, errors = repeat(port, data, rounds)
    elapsed = time.monotonic() - start
    t.check(statuses == {want: rounds} and not errors,
            f"[{label}] {rounds} of {rounds} clients read the {want} ({elapsed:.1f} s)",
            f"statuses {statuses}, errors {errors[:5]} ({len(errors)} in all)")


def post_too_large(port):
    return (b"POST /api/v1/write HTTP/1.1\r\nHost: sidecar.test\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BIG)) + BIG


def config(vport, linger, max_connections=ROOMY_CONNECTIONS):
    return {
        "timeouts": {"client_header": "5s", "client_body": "5s", "client_idle": "60s", "lingering_close": linger,
                     "shutdown_grace": "2s"},
        "limits": {"max_request_body": f"{MAX_BODY}", "max_header_bytes": "8KiB",
                   "max_connections": max_connections},
        "routes": [{"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{vport}",
                    "sigv4": {"region": "us-east-1", "service": "execute-api"}}],
    }


def main():
    binary = os.path.abspath(sys.argv[1])
    verifier, vport = t.start_verifier([(t.TEST_AKID, t.TEST_SECRET)])
    proxy = t.start_proxy(binary, config(vport, "5s"), name="sidecar-early-error")
    port = proxy.port

    expect_all("413: a 2 MiB body over max_request_body 1 MiB, written whole before reading", port,
               post_too_large(port), 413)
    expect_all("413: the same with chunked framing", port,
               b"POST /api/v1/write HTTP/1.1\r\nHost: sidecar.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"".join(b"10000\r\n" + BIG[:0x10000] + b"\r\n" for _ in range(32)) + b"0\r\n\r\n", 413,
               rounds=ROUNDS // 2)
    expect_all("431: a 16 KiB header (max 8 KiB) and a 2 MiB body", port,
               b"POST / HTTP/1.1\r\nHost: sidecar.test\r\nX-Big: " + b"h" * 16384 +
               b"\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG, 431, rounds=ROUNDS // 2)
    expect_all("400: Content-Length and Transfer-Encoding both, then 2 MiB", port,
               b"POST / HTTP/1.1\r\nHost: sidecar.test\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
               + BIG, 400, rounds=ROUNDS // 2)

    t.section("urllib: POST 2 MiB, the 413 comes back as an HTTPError, not a URLError")
    outcomes = []
    for _ in range(20):
        rq = urllib.request.Request(f"http://{L}:{port}/api/v1/write", data=BIG, method="POST",
                                    headers={"Content-Type": "application/x-protobuf"})
        try:
            with urllib.request.urlopen(rq, timeout=10) as r:
                outcomes.append(r.status)
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            outcomes.append(e.code if "max_request_body" in body else f"{e.code} without a reason: {body[:80]}")
        except (urllib.error.URLError, OSError) as e:
            outcomes.append(f"{type(e).__name__}: {e}")
    t.check(outcomes == [413] * 20, "[urllib] 20 of 20 got the 413 with its reason",
            [o for o in outcomes if o != 413][:5])

    t.section("the proxy still serves a body under the limit on a kept-alive connection")
    r = proxy.request("POST", "/under", body=b"u" * (MAX_BODY - 1))
    t.check(r.status == 200 and r.json().get("body_length") == MAX_BODY - 1, "[under the limit] 200, body whole", r)

    t.section("metrics")
    m = proxy.metrics()
    session = t.metric_sum(m, "sigv4_sidecar_client_lingering_closes_total", where="session")
    want_session = ROUNDS + 3 * (ROUNDS // 2) + 20
    t.check(session >= want_session, f"lingering_closes_total{{where=session}} = {session:g} (>= {want_session})")
    t.check(t.metric_sum(m, "sigv4_sidecar_client_errors_total", kind="body_too_large") >= ROUNDS,
            "client_errors_total{kind=body_too_large} counted the 413s")
    st = t.verifier_stats(vport)
    t.check(st["rejected"] == 0, "the upstream rejected nothing", st)
    t.check(t.metric_sum(m, "sigv4_sidecar_client_errors_total", kind="too_many_connections") == 0,
            f"no client was refused under max_connections {ROOMY_CONNECTIONS}")
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")

    proxy = t.start_proxy(binary, config(vport, "5s", MAX_CONNECTIONS), name="sidecar-limit")
    port = proxy.port
    t.section("503 over max_connections, with a 2 MiB body behind the request")
    held = []
    for _ in range(MAX_CONNECTIONS):
        s = socket.create_connection((L, port), timeout=10)
        s.sendall(b"GET /hold HTTP/1.1\r\nHost: sidecar.test\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:  # answered: the connection is open and counted, then idles (client_idle 60s)
            data += s.recv(65536)
        held.append(s)
    statuses, errors = repeat(port, post_too_large(port), ROUNDS // 2)
    t.check(statuses == {503: ROUNDS // 2} and not errors,
            f"[max_connections] {ROUNDS // 2} of {ROUNDS // 2} refused clients read the 503",
            f"statuses {statuses}, errors {errors[:5]}")
    for s in held:
        s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and t.metric_sum(proxy.metrics(), "sigv4_sidecar_client_connections") > 0:
        time.sleep(0.05)
    r = proxy.request("GET", "/after-refusals")
    t.check(r.status == 200, "[max_connections] served again once the held connections closed", r)

    # A refusal lingers while fewer than max(max_connections, 64) refusals are lingering (a flood holds at most
    # twice the limit in descriptors, and a small limit still 64). These 50 clients come one after another, so
    # fewer than 64 overlap however slow the machine: every refusal lingered. (With the bound at 8, a loaded CI
    # machine overlapped more, and a client closed at once lost its 503.)
    m = proxy.metrics()
    refusals = t.metric_sum(m, "sigv4_sidecar_client_errors_total", kind="too_many_connections")
    refused = t.metric_sum(m, "sigv4_sidecar_client_lingering_closes_total", where="refused")
    t.check(refusals == ROUNDS // 2, f"client_errors_total{{kind=too_many_connections}} = {refusals:g} "
            f"(== {ROUNDS // 2})")
    t.check(refused == refusals,
            f"lingering_closes_total{{where=refused}} = {refused:g} (of {refusals:g} refusals: all of them)")
    t.check(proxy.stop() == 0, "the proxy with max_connections 8 exits 0 on SIGTERM")

    t.section("for comparison: lingering_close 0 (closes at once, as before issue 11)")
    proxy0 = t.start_proxy(binary, config(vport, "0s"), name="sidecar-no-linger")
    statuses, errors = repeat(proxy0.port, post_too_large(proxy0.port), ROUNDS)
    print(f"  without the linger, {len(errors)} of {ROUNDS} clients lost the 413 ({statuses}; e.g. "
          f"{errors[:2]})", flush=True)
    t.check(proxy0.process.alive(), "the proxy without the linger is alive too")
    proxy0.stop()
    verifier.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: early_error_test.py PATH/TO/sigv4-sidecar")
    t.run_main(main)
