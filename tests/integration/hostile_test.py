#!/usr/bin/python3
"""Hostile clients and broken upstreams against sigv4-sidecar, over raw sockets.

  hostile_test.py PATH/TO/sigv4-sidecar

Each case sends bytes a well-behaved client would not (request smuggling with Content-Length and
Transfer-Encoding, bad chunk framing, header syntax and CR/LF/NUL injection, oversize lines, headers and bodies,
absolute-form requests to hosts that are not allowed, CONNECT, missing Host, slowloris, slow bodies, pipelining,
HTTP/0.9 and HTTP/2 prefaces, invalid methods) or talks to an upstream that resets, hangs or refuses, and checks:
the status (or that the connection closes), that the upstream verifiers received nothing when nothing should
have been sent, and that the proxy then still serves a normal signed request. At the end the proxy must be alive
with a sane RSS. Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK
SIGV4 = {"region": "us-east-1", "service": "execute-api"}
CLIENT_HEADER_S, CLIENT_BODY_S, CLIENT_IDLE_S, UPSTREAM_HEADER_S = 2.0, 2.0, 3.0, 2.0
MAX_BODY, MAX_HEADER = 64 * 1024, 8 * 1024
ALLOWED = "abc123.execute-api.us-east-1.amazonaws.com"

state = {}


def exchange(parts, delay=0.0, timeout=3.0, shutdown_write=False, wait_close=True):
    """Connects, sends parts (bytes, or a list of pieces `delay` seconds apart; stops sending once the proxy
    answers or closes), then reads until the proxy closes, `timeout` passes with nothing new, or (wait_close
    False) one complete response has arrived. Returns (data, closed, elapsed, answered): closed is True when
    the proxy closed (FIN or RST); answered is the time the first response byte (or the close) arrived."""
    if isinstance(parts, bytes):
        parts = [parts]
    start = time.monotonic()
    s = socket.create_connection((L, state["port"]), timeout=timeout)
    data, closed, answered = b"", False, None
    try:
        for i, piece in enumerate(parts):
            try:
                s.sendall(piece)
            except OSError:
                break
            if delay and i + 1 < len(parts):
                readable, _, _ = select.select([s], [], [], delay)
                if readable:
                    break
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if answered is None:
                answered = time.monotonic() - start
            if not chunk:
                closed = True
                break
            data += chunk
            if not wait_close:
                try:
                    if t.parse_response(data).complete:
                        break
                except ValueError:
                    pass
    finally:
        s.close()
    elapsed = time.monotonic() - start
    return data, closed, elapsed, answered if answered is not None else elapsed


def stats():
    return t.verifier_stats(state["vport"]), t.verifier_stats(state["fport"])


def still_serving(label):
    r = state["proxy"].request("GET", f"/alive?after={label}")
    ok = r.status == 200 and r.json().get("target") == f"/alive?after={label}"
    t.check(ok, f"[{label}] the proxy still serves a signed request", r)


def case(label, parts, expect, *, close=False, upstream_zero=True, delay=0.0, timeout=3.0, max_seconds=None,
         body_has=None, shutdown_write=False):
    """One hostile exchange. expect: a status, a set of statuses, or None (no response at all is expected:
    the connection must just close). close: the connection must be closed by the proxy afterwards."""
    t.section(label)
    before = stats()
    log_lines = [len(v.log_text().splitlines()) for v in state["verifiers"]]
    data, closed, elapsed, answered = exchange(parts, delay, timeout, shutdown_write,
                                               wait_close=close or expect is None)
    resp = None
    if data:
        try:
            resp = t.parse_response(data)
        except ValueError:
            resp = None
    expected = {expect} if isinstance(expect, int) else expect
    if expected is None:
        t.check(not data and closed, f"[{label}] no response, connection closed", data[:200])
    else:
        status = resp.status if resp is not None else ("unparseable" if data else None)
        t.check(status in expected, f"[{label}] status {status} in {sorted(expected, key=str)}",
                f"got {data[:300]!r} (closed={closed})")
        if resp is not None and resp.status >= 400:
            t.check_eq(resp.header("Server"), "sigv4-sidecar", f"[{label}] the answer is the proxy's own")
        if body_has and resp is not None:
            t.check(any(w in resp.body.decode("utf-8", "replace").lower() for w in body_has),
                    f"[{label}] the answer says why", resp.body[:300])
    if close:
        t.check(closed, f"[{label}] the proxy closed the connection", f"after {elapsed:.2f}s")
    if max_seconds is not None:
        t.check(answered <= max_seconds, f"[{label}] answered within {max_seconds}s ({answered:.2f}s)")
    if upstream_zero:
        after = stats()
        new_lines = [v.log_text().splitlines()[n:] for v, n in zip(state["verifiers"], log_lines)]
        t.check(after[0]["requests"] == before[0]["requests"] and after[1]["requests"] == before[1]["requests"]
                and not any(new_lines), f"[{label}] no upstream received anything",
                f"route verifier {before[0]['requests']}->{after[0]['requests']}, "
                f"forward verifier {before[1]['requests']}->{after[1]['requests']}; verifier logs: {new_lines}")
    still_serving(label.split(":")[0].replace(" ", "-")[:40])
    return resp


def req(head, body=b""):
    """head: request line and header lines joined by CRLF (no final blank line)."""
    return head.encode("latin-1") + b"\r\n\r\n" + body


def main():
    binary = os.path.abspath(sys.argv[1])
    creds = [(t.TEST_AKID, t.TEST_SECRET)]
    verifier, vport = t.start_verifier(creds)
    fverifier, fport = t.start_verifier(creds)
    dead_port = t.free_port()  # nothing listens here
    config = {
        "timeouts": {"client_header": f"{CLIENT_HEADER_S:g}s", "client_body": f"{CLIENT_BODY_S:g}s",
                     "client_idle": f"{CLIENT_IDLE_S:g}s", "upstream_connect": "2s",
                     "upstream_response_header": f"{UPSTREAM_HEADER_S:g}s", "upstream_idle": "30s",
                     "shutdown_grace": "2s"},
        "limits": {"max_request_body": "64KiB", "max_header_bytes": "8KiB", "max_connections": 100},
        "routes": [
            {"name": "refused", "match": {"path_prefix": "/refused/"}, "upstream": f"http://{L}:{dead_port}/",
             "sigv4": SIGV4},
            {"name": "root", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{vport}", "sigv4": SIGV4},
        ],
        "forward_proxy": {"allow": ["*.execute-api.us-east-1.amazonaws.com"], "upstream_scheme": "http",
                          "connect_to": f"{L}:{fport}"},
    }
    try:
        proxy = t.start_proxy(binary, config, name="sidecar-hostile")
        forward_ok = True
    except RuntimeError as e:
        # Without connect_to an allowed host would be looked up in DNS: absolute-form cases need it.
        t.check(False, "the config parser accepts forward_proxy.connect_to", str(e)[-400:])
        del config["forward_proxy"]["connect_to"]
        proxy = t.start_proxy(binary, config, name="sidecar-hostile")
        forward_ok = False
    state.update(proxy=proxy, port=proxy.port, vport=vport, fport=fport, verifiers=[verifier, fverifier])
    rss_start = proxy.rss_kib()
    still_serving("start")

    # --- request smuggling and body framing --------------------------------------------------------------
    case("CL then TE", req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked",
                           b"0\r\n\r\nG"), 400, close=True)
    case("TE then CL", req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6",
                           b"0\r\n\r\nG"), 400, close=True)
    case("two different Content-Lengths",
         req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6", b"hello!"), 400, close=True)
    case("Content-Length list 5, 6", req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6", b"hello!"), 400,
         close=True)
    case("negative Content-Length", req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1", b"x"), 400, close=True)
    case("garbage Content-Length", req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc", b"abc"), 400,
         close=True)
    case("Content-Length with a plus sign", req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5", b"hello"),
         400, close=True)
    case("Content-Length overflowing 64 bits",
         req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999", b"x"), {400, 413},
         close=True)
    case("Transfer-Encoding without chunked last",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip", b"abc"), 400, close=True)
    case("Transfer-Encoding: chunked, identity",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity", b"0\r\n\r\n"), 400, close=True)
    case("obfuscated Transfer-Encoding: xchunked",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked", b"0\r\n\r\n"), 400, close=True)
    case("non-hex chunk size",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"zz\r\nhello\r\n0\r\n\r\n"), 400,
         close=True)
    case("chunk size overflowing 64 bits",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"fffffffffffffffffffff\r\nhello\r\n"),
         {400, 413}, close=True)
    case("chunk longer than its size",
         req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"3\r\nhello\r\n0\r\n\r\n"), 400,
         close=True)
    case("chunk extension abuse (1 MB of extensions on one chunk)",
         [req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"5")] + [b";a=b" * 16384] * 16 +
         [b"\r\nhello\r\n0\r\n\r\n"], {400, 413, 431}, close=True)
    t.section("chunk extensions are not buffered without bound")
    rss0 = proxy.rss_kib()
    s = socket.create_connection((L, proxy.port), timeout=5)
    try:
        s.sendall(req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"5"))
        for _ in range(256):  # 32 MB of ";a=b", never ending the chunk-size line
            s.sendall(b";a=b" * 32768)
    except OSError:
        pass  # the proxy refused and closed: good
    time.sleep(0.2)
    rss1 = proxy.rss_kib()
    s.close()
    t.check(rss1 - rss0 < 16 * 1024, f"32 MB of chunk extensions: RSS {rss0} -> {rss1} KiB (grows < 16 MiB; "
            f"max_request_body is 64 KiB)")
    still_serving("chunk-ext-rss")
    case("smuggled request inside a body stays body",
         req("POST /carrier HTTP/1.1\r\nHost: x\r\nContent-Length: 37",
             b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n") +
         req("GET /second HTTP/1.1\r\nHost: x\r\nConnection: close"), 200, upstream_zero=False)
    log_before = verifier.log_text()
    t.check("/smuggled" not in log_before, "[smuggled request inside a body] /smuggled never reached the upstream")

    # --- header syntax and injection -------------------------------------------------------------------------
    case("header line without a colon", req("GET / HTTP/1.1\r\nHost: x\r\nNoColonHere"), 400, close=True)
    case("header name with a space", req("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v"), 400, close=True)
    case("whitespace before the colon", req("GET / HTTP/1.1\r\nHost: x\r\nX-A : v"), 400, close=True)
    case("bare LF inside a header value (header injection)",
         b"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\nX-Injected: two\r\n\r\n", 400, close=True)
    case("bare CR inside a header value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\rX-B: two\r\n\r\n", 400,
         close=True)
    r = case("obs-fold continuation line (rejected, or unfolded to one line)",
             b"GET /fold HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\nConnection: close\r\n\r\n", {400, 200},
             upstream_zero=False)
    if r is not None and r.status == 200:
        t.check_eq(t.echo_header(r.json(), "X-A"), ["one two"], "[obs-fold] forwarded as one line, folded by SP")
    case("NUL in a header value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\x00two\r\n\r\n", 400, close=True)
    case("control character in a header name", b"GET / HTTP/1.1\r\nHost: x\r\nX-\x01A: v\r\n\r\n", 400, close=True)
    case("NUL in the request target", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, close=True)
    case("space inside the request target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, close=True)
    case("overlong request line (20 KB target)", req("GET /" + "a" * 20000 + " HTTP/1.1\r\nHost: x"), {414, 431},
         close=True)
    case("huge header (> max_header_bytes)", req("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b" * 10000), 431,
         close=True)
    case("60 header lines totalling 12 KB (> max_header_bytes 8 KiB)",
         req("GET / HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(f"X-H{i:03d}: " + "v" * 190 for i in range(60))), 431,
         close=True)
    case("too many headers (1000, > max_header_bytes)",
         req("GET / HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(f"X-H{i:04d}: v" for i in range(1000))), 431,
         close=True)
    r = case("80 small headers under the limit are fine",
             req("GET /many-headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                 "\r\n".join(f"X-H{i:03d}: v{i}" for i in range(80))), 200, upstream_zero=False)
    if r is not None and r.status == 200:
        t.check(sum(1 for n, _ in r.json()["headers"] if n.lower().startswith("x-h")) == 80,
                "[80 small headers] all 80 forwarded")
    case("two Host headers", req("GET / HTTP/1.1\r\nHost: x\r\nHost: y"), 400, close=True)
    case("HTTP/1.1 without Host", req("GET / HTTP/1.1\r\nX-A: v"), 400, close=True)

    # --- body limits -------------------------------------------------------------------------------------------
    case("Content-Length past max_request_body (body not sent)",
         req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000"), 413, close=True, max_seconds=1.5)
    case("Content-Length past the limit with Expect: 100-continue",
         req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue"), 413, close=True,
         max_seconds=1.5)
    chunk = b"4000\r\n" + b"c" * 0x4000 + b"\r\n"
    case("chunked body growing past max_request_body",
         [req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked")] + [chunk] * 6 + [b"0\r\n\r\n"], 413,
         close=True, delay=0.01)
    r = case("a body just under the limit is fine",
             req(f"POST /under-limit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {MAX_BODY}",
                 b"u" * MAX_BODY), 200, upstream_zero=False)
    if r is not None and r.status == 200:
        t.check_eq(r.json()["body_length"], MAX_BODY, "[body just under the limit] forwarded whole")

    # --- routing: absolute-form, CONNECT, odd targets ----------------------------------------------------------
    if forward_ok:
        case("absolute-form to a host not allowed", req("GET http://evil.example.com/metrics HTTP/1.1\r\n"
                                                        "Host: evil.example.com"), 403, close=False,
             body_has=["not", "allow"])
        case("absolute-form to an allowed suffix plus .evil.com",
             req(f"GET http://{ALLOWED}.evil.com/metrics HTTP/1.1\r\nHost: {ALLOWED}.evil.com"), 403)
        case("absolute-form with the allowed host as userinfo",
             req(f"GET http://{ALLOWED}@evil.example.com/metrics HTTP/1.1\r\nHost: evil.example.com"), {400, 403})
        case("absolute-form https to a host not allowed",
             req("GET https://evil.example.com/ HTTP/1.1\r\nHost: evil.example.com"), 403)
        case("absolute-form to the bare suffix execute-api.us-east-1.amazonaws.com",
             req("GET http://execute-api.us-east-1.amazonaws.com/ HTTP/1.1\r\n"
                 "Host: execute-api.us-east-1.amazonaws.com"), 403)
        r = case("absolute-form to an allowed host is signed and sent (control)",
                 req(f"GET http://{ALLOWED}/_test/metrics?x=1 HTTP/1.1\r\nHost: {ALLOWED}\r\nConnection: close"),
                 200, upstream_zero=False)
        if r is not None and r.status == 200:
            st = t.verifier_stats(fport)
            t.check(st["verified"] == 1 and st["rejected"] == 0, "[absolute-form allowed] the forward verifier "
                    "verified it", st)
            t.check(b"verifier_scrape_signed" in r.body, "[absolute-form allowed] metrics text came back", r.body)
    case("CONNECT", req(f"CONNECT {ALLOWED}:443 HTTP/1.1\r\nHost: {ALLOWED}:443"), 405, body_has=["connect"])
    case("asterisk-form OPTIONS *", req("OPTIONS * HTTP/1.1\r\nHost: x"), {400, 404})
    case("target without a leading slash", req("GET foo HTTP/1.1\r\nHost: x"), {400, 404})

    # --- protocol ----------------------------------------------------------------------------------------------
    case("HTTP/0.9 request", b"GET /\r\n", 400, close=True, shutdown_write=True)
    case("invalid method token", req("G@T / HTTP/1.1\r\nHost: x"), 400, close=True)
    case("HTTP/2 connection preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}, close=True)
    case("unknown HTTP version 1.7", req("GET / HTTP/1.7\r\nHost: x"), {400, 505}, close=True)
    case("lower-case http/1.1", req("GET / http/1.1\r\nHost: x"), 400, close=True)
    t.section("pipelined requests")
    data, closed, _, _ = exchange(req("GET /pipe/1 HTTP/1.1\r\nHost: x") + req("GET /pipe/2 HTTP/1.1\r\nHost: x") +
                               req("GET /pipe/3 HTTP/1.1\r\nHost: x\r\nConnection: close"))
    resps, rest = t.parse_responses(data)
    targets = []
    for r in resps:
        try:
            targets.append(r.json()["target"] if r.status == 200 else r.status)
        except ValueError:
            targets.append(r.status)
    t.check_eq(targets, ["/pipe/1", "/pipe/2", "/pipe/3"], "[pipelined] three GETs in one write, three answers "
                                                            "in order")
    t.check(rest == b"" and closed, "[pipelined] nothing else, then closed", rest[:100])
    still_serving("pipelined")

    # --- slow and vanishing clients ----------------------------------------------------------------------------
    case("client connects and sends nothing", [], {408, None}, close=True, max_seconds=CLIENT_HEADER_S + 1.5,
         timeout=8)
    t.section("idle keep-alive connection")
    s = socket.create_connection((L, proxy.port), timeout=CLIENT_IDLE_S + 5)
    s.sendall(req("GET /then-idle HTTP/1.1\r\nHost: x"))
    start, data, closed = time.monotonic(), b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    except OSError:
        closed = True
    s.close()
    elapsed = time.monotonic() - start
    t.check(data.startswith(b"HTTP/1.1 200"), "[idle keep-alive] the request was answered", data[:100])
    t.check(closed and elapsed <= CLIENT_IDLE_S + 1.5,
            f"[idle keep-alive] closed after client_idle ({CLIENT_IDLE_S:g}s)", f"closed={closed} after {elapsed:.2f}s")
    slow_header = [b"GET /slowloris HTTP/1.1\r\nHost: x\r\n"] + [b"X-Slow-%d: v\r\n" % i for i in range(40)]
    # A client that started a request is told why it is dropped: the timeout cancels the read, it does not close
    # the socket before the 408 is written.
    case("slowloris header", slow_header, {408}, close=True, delay=0.25, timeout=8,
         max_seconds=CLIENT_HEADER_S + 1.5)
    case("slow body", [req("POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100"), b"0123456789"],
         {408}, close=True, delay=0.1, timeout=8, max_seconds=CLIENT_BODY_S + 1.5)
    t.section("client disconnects mid-body")
    before = stats()
    for _ in range(3):
        s = socket.create_connection((L, proxy.port), timeout=5)
        s.sendall(req("POST /vanish HTTP/1.1\r\nHost: x\r\nContent-Length: 100000", b"v" * 5000))
        s.close()
    time.sleep(0.3)
    after = stats()
    t.check_eq(after[0]["requests"] - before[0]["requests"], 0, "[disconnect mid-body] nothing sent upstream")
    still_serving("disconnect-mid-body")

    # --- broken upstreams --------------------------------------------------------------------------------------
    case("upstream resets mid-response", req("GET /_test/reset HTTP/1.1\r\nHost: x"), 502, upstream_zero=False,
         body_has=["reset", "upstream", "closed"])
    case("upstream never answers", req("GET /_test/hang HTTP/1.1\r\nHost: x"), 504, upstream_zero=False,
         timeout=UPSTREAM_HEADER_S + 5, max_seconds=UPSTREAM_HEADER_S + 1.5, body_has=["within", "timed out",
                                                                                      "timeout"])
    case("upstream refuses connections", req("GET /refused/x HTTP/1.1\r\nHost: x"), 502, body_has=["refused"])

    # --- afterwards ----------------------------------------------------------------------------------------------
    t.section("the proxy after all that")
    t.check(proxy.process.alive(), "the proxy process is alive")
    rss = proxy.rss_kib()
    # Growth, not the absolute figure: under ASan the process starts near 200 MB (shadow memory, quarantine).
    t.check(rss is not None and rss_start is not None and rss - rss_start < 128 * 1024,
            f"RSS is sane: {rss} KiB, grew by less than 128 MiB (started at {rss_start} KiB)")
    m = proxy.metrics()
    t.check(t.metric_sum(m, "sigv4_sidecar_client_errors_total") >= 20,
            "sigv4_sidecar_client_errors_total counted the refused requests",
            [(k, v) for k, v in m.items() if k[0] == "sigv4_sidecar_client_errors_total"])
    open_clients = t.metric_sum(m, "sigv4_sidecar_client_connections")
    t.check(open_clients <= 2, f"no client connections leaked ({open_clients:g} open)")
    still_serving("end")
    t.check(proxy.stop() == 0, "the proxy exits 0 on SIGTERM")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: hostile_test.py PATH/TO/sigv4-sidecar")
    t.run_main(main)
