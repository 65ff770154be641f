#!/usr/bin/python3
"""Self-test of tests/support/verifier.py: it must accept what botocore signs and reject every tampered copy.

Starts the verifier over HTTP, HTTPS (test CA) and IPv6 loopback; sends requests signed by Debian's botocore
(awkward queries, %2F and unicode paths, binary and chunked bodies, session token, UNSIGNED-PAYLOAD), then
tampered copies (body, path, signed header, query, secret, date, token, key id, authorization), exercises each
/_test hook and checks /_verifier/stats. Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import datetime
import http.client
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
from verifier import SIGNATURE_MISMATCH_TEXT, big_pattern  # noqa: E402

AKID, SECRET = "AKIDVERIFIERSELF01", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN_AKID, TOKEN_SECRET = "ASIAVERIFIERSELF02", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with+plus=="
REGION, SERVICE = "us-west-2", "execute-api"
CREDENTIALS = [(AKID, SECRET), (TOKEN_AKID, TOKEN_SECRET, TOKEN)]

expected = {"verified": 0, "rejected": 0}
sent_signatures = []


def sign(method, url, headers=(), body=b"", **kw):
    kw.setdefault("access_key", AKID)
    kw.setdefault("secret_key", SECRET)
    kw.setdefault("region", REGION)
    kw.setdefault("service", SERVICE)
    s = t.botocore_sign(method, url, headers, body, **kw)
    sent_signatures.append(s.authorization.rsplit("Signature=", 1)[1])
    return s


def send(port, s, target=None, headers=None, body=None, method=None, ctx=None, server_hostname=None, timeout=10):
    return t.http_request("127.0.0.1", port, method or s.method, target if target is not None else s.target,
                          headers if headers is not None else s.headers, s.body if body is None else body,
                          timeout=timeout, ssl_context=ctx, server_hostname=server_hostname)


def accepted(resp, s, message, body=None):
    """The echo of a verified request matches what was sent and what botocore canonicalised."""
    expected["verified"] += 1
    if not t.check_eq(resp.status, 200, f"{message}: 200"):
        print(f"        body: {resp.body[:600]!r}")
        return None
    echo = resp.json()
    body = s.body if body is None else body
    t.check(echo["method"] == s.method and echo["target"] == s.target, f"{message}: echo method and raw target",
            f"{echo['method']} {echo['target']!r} vs {s.method} {s.target!r}")
    t.check(echo["body_sha256"] == t.sha256_hex(body) and echo["body_length"] == len(body),
            f"{message}: echo body hash and length")
    t.check(echo["access_key_id"] == s.authorization.split("Credential=")[1].split("/")[0]
            and echo["region"] == REGION and echo["service"] == SERVICE, f"{message}: echo key id, region, service")
    t.check_eq(echo["canonical_request"], s.canonical_request, f"{message}: verifier's canonical == botocore's")
    return echo


def rejected(resp, message, status=403, text=None, reason=None, port=None):
    """A 403 (or `status`) with AWS's JSON; optionally the message text and the stats reason."""
    expected["rejected"] += 1
    ok = t.check_eq(resp.status, status, f"{message}: {status}")
    try:
        body = resp.json()
    except ValueError:
        body = {}
    t.check(resp.header("Content-Type") == "application/json" and "message" in body,
            f"{message}: JSON body with a message", resp.body[:300])
    if text is not None:
        t.check(text in body.get("message", ""), f"{message}: says {text[:60]!r}", body.get("message", "")[:300])
    if reason is not None and port is not None:
        t.check(t.verifier_stats(port)["last_rejection"].endswith(": " + reason), f"{message}: stats reason {reason!r}",
                t.verifier_stats(port)["last_rejection"])
    return ok


def positives(port):
    t.section("botocore-signed requests are accepted (HTTP)")
    base = f"http://127.0.0.1:{port}"
    s = sign("GET", base + "/api/v1/query?b=2&a=1&a=0&empty=&flag&sp%20ace=x%2Fy")
    accepted(send(port, s), s, "GET with awkward query")

    s = sign("GET", base + "/prod/a%2Fb/c%2f%2Fd")
    accepted(send(port, s), s, "path with %2F (not decoded, encoded twice)")

    s = sign("GET", base + "/caf%C3%A9/%E2%82%AC/%F0%9F%98%80?q=%E2%82%AC%20x&%C3%BC=1")
    accepted(send(port, s), s, "unicode percent-encoded path and query")

    s = sign("GET", base + "/a/./b/../c//d/")
    accepted(send(port, s), s, "dot segments and empty segments")

    s = sign("GET", base + "//double//leading")
    accepted(send(port, s), s, "leading '//' kept raw")

    binary = bytes(range(256)) * 40 + b"\r\n\x00tail"
    s = sign("POST", base + "/api/v1/write", [("Content-Type", "application/x-protobuf"),
                                              ("Content-Encoding", "snappy"),
                                              ("X-Prometheus-Remote-Write-Version", "0.1.0")], binary)
    accepted(send(port, s), s, "POST binary body")

    s = sign("POST", base + "/chunked", [("Content-Type", "application/octet-stream")], b"x" * 5000 + binary)
    raw = s.raw_bytes(close=True).replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n", 1)
    raw = raw[:raw.index(b"\r\n\r\n") + 4]
    for i in range(0, len(s.body), 3000):
        piece = s.body[i:i + 3000]
        raw += b"%x;ext=1\r\n%s\r\n" % (len(piece), piece)
    raw += b"0\r\nX-Trailer: t\r\n\r\n"
    resp = t.parse_response(t.raw_request("127.0.0.1", port, raw))
    accepted(resp, s, "POST with a chunked request body")

    s = sign("PUT", base + "/token/case?x=1", [("Content-Type", "application/json")], b'{"a":1}',
             access_key=TOKEN_AKID, secret_key=TOKEN_SECRET, token=TOKEN)
    t.check(any(n == "X-Amz-Security-Token" for n, _ in s.headers), "botocore sent X-Amz-Security-Token")
    accepted(send(port, s), s, "session token")

    s = sign("GET", base + "/repeated", [("X-Custom", "first"), ("X-Custom", " second  value "),
                                         ("X-Other", "\tv  w\t")])
    echo = accepted(send(port, s, headers=s.headers + [("X-Unsigned", "anything")]), s,
                    "repeated signed headers, an extra unsigned header")
    if echo:
        t.check_eq([" ".join(v.split()) for n, v in echo["headers"] if n.lower() == "x-custom"],
                   ["first", "second value"], "echo keeps repeated headers in order")
        t.check(["X-Unsigned", "anything"] in echo["headers"], "echo lists unsigned headers too")

    s = sign("GET", base + "/trim", [("X-Custom", "a b c")])
    accepted(send(port, s, headers=t.replace_header(s.headers, "X-Custom", "  a   b \t c  ")), s,
             "signed header re-spaced (trimall) still verifies")

    one = sign("GET", base + "/pipelined/1")
    two = sign("POST", base + "/pipelined/2", body=b"second")
    raw = t.raw_request("127.0.0.1", port, one.raw_bytes(close=False) +
                        two.raw_bytes(extra_headers=[("Expect", "100-continue")]))
    responses, rest = t.parse_responses(raw)
    expected["verified"] += 2
    t.check([r.status for r in responses] == [200, 100, 200] and rest == b""
            and [r.json()["target"] for r in responses if r.status == 200] == ["/pipelined/1", "/pipelined/2"],
            "two pipelined requests on one keep-alive connection (Expect: 100-continue on the second)",
            [r.status for r in responses])

    s = sign("HEAD", base + "/head")
    resp = send(port, s)
    expected["verified"] += 1
    t.check(resp.status == 200 and resp.body == b"", "HEAD: 200 without body")


def negatives(port):
    t.section("tampered copies are rejected (HTTP)")
    base = f"http://127.0.0.1:{port}"
    body = b'{"metric":"up","value":1}'
    s = sign("POST", base + "/prod/items?x=1", [("Content-Type", "application/json"), ("X-Custom", "blue")], body)
    accepted(send(port, s), s, "baseline for the tampered copies")

    rejected(send(port, s, body=body.replace(b"1", b"2")), "body changed (same length)",
             text=SIGNATURE_MISMATCH_TEXT, reason="signature mismatch", port=port)
    rejected(send(port, s, body=body + b" "), "body changed (longer)", reason="signature mismatch", port=port)
    rejected(send(port, s, target="/prod/items2?x=1"), "path changed", reason="signature mismatch", port=port)
    rejected(send(port, s, target="/prod/items%2F?x=1"), "path changed by an encoded slash",
             reason="signature mismatch", port=port)
    rejected(send(port, s, headers=t.replace_header(s.headers, "X-Custom", "red")), "signed header value changed",
             reason="signature mismatch", port=port)
    rejected(send(port, s, headers=t.replace_header(s.headers, "X-Custom", None)), "signed header removed",
             reason="signed header absent", port=port)
    rejected(send(port, s, target="/prod/items?x=1&extra=1"), "query param added", reason="signature mismatch",
             port=port)
    rejected(send(port, s, target="/prod/items?x=2"), "query value changed", reason="signature mismatch", port=port)
    rejected(send(port, s, method="PUT"), "method changed", reason="signature mismatch", port=port)
    rejected(send(port, s, headers=t.replace_header(s.headers, "Host", "127.0.0.1:1")), "host changed",
             reason="signature mismatch", port=port)

    wrong = sign("POST", base + "/prod/items?x=1", [("Content-Type", "application/json")], body,
                 secret_key=SECRET[:-1] + "X")
    resp = send(port, wrong)
    rejected(resp, "wrong secret", text="The Canonical String for this request should have been",
             reason="signature mismatch", port=port)
    msg = resp.json().get("message", "")
    t.check(f"should have been\n'{wrong.canonical_request}'\n" in msg,
            "wrong secret: the message shows botocore's canonical request exactly", msg[:400])
    scope = f"{wrong.amz_date[:8]}/{REGION}/{SERVICE}/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{wrong.amz_date}\n{scope}\n{t.sha256_hex(wrong.canonical_request.encode())}"
    t.check(f"The String-to-Sign should have been\n'{sts}'\n" in msg, "wrong secret: the message shows the string to sign")

    old = sign("GET", base + "/old", when=datetime.datetime.utcnow() - datetime.timedelta(minutes=20))
    rejected(send(port, old), "date 20 minutes old", text="Signature expired", reason="signature expired", port=port)
    future = sign("GET", base + "/future", when=datetime.datetime.utcnow() + datetime.timedelta(minutes=20))
    rejected(send(port, future), "date 20 minutes ahead", text="Signature not yet current",
             reason="signature not yet current", port=port)

    tok = sign("GET", base + "/token", access_key=TOKEN_AKID, secret_key=TOKEN_SECRET, token=TOKEN)
    rejected(send(port, tok, headers=t.replace_header(tok.headers, "X-Amz-Security-Token", None)), "missing token",
             text="security token included in the request is invalid", reason="missing session token", port=port)
    rejected(send(port, tok, headers=t.replace_header(tok.headers, "X-Amz-Security-Token", TOKEN + "x")),
             "wrong token", reason="wrong session token", port=port)
    unsigned_tok = sign("GET", base + "/token", access_key=TOKEN_AKID, secret_key=TOKEN_SECRET)
    resp = send(port, unsigned_tok, headers=unsigned_tok.headers + [("X-Amz-Security-Token", TOKEN)])
    accepted(resp, unsigned_tok, "token sent but not signed (--omit-session-token style)")

    unknown = sign("GET", base + "/who", access_key="AKIDUNKNOWN0000000")
    rejected(send(port, unknown), "unknown key id", text="security token included in the request is invalid",
             reason="unknown access key id", port=port)

    rejected(send(port, s, headers=t.replace_header(s.headers, "Authorization", None)), "no Authorization",
             text="Missing Authentication Token", reason="missing authorization", port=port)
    rejected(send(port, s, headers=t.replace_header(s.headers, "Authorization", "AWS4-HMAC-SHA256 garbage")),
             "garbled Authorization", text="Missing Authentication Token",
             reason="missing or garbled authorization", port=port)
    rejected(send(port, s, headers=t.replace_header(s.headers, "X-Amz-Date", None)), "no X-Amz-Date",
             reason="missing x-amz-date", port=port)
    nohost = s.authorization.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    rejected(send(port, s, headers=t.replace_header(s.headers, "Authorization", nohost)), "host not signed",
             reason="host not signed", port=port)
    flipped = s.authorization[:-1] + ("0" if s.authorization[-1] != "0" else "1")
    rejected(send(port, s, headers=t.replace_header(s.headers, "Authorization", flipped)), "one signature digit",
             reason="signature mismatch", port=port)


def hooks(port):
    t.section("test hooks (after verification)")
    base = f"http://127.0.0.1:{port}"

    s = sign("GET", base + "/_test/status?code=503")
    rejected(send(port, s, headers=t.replace_header(s.headers, "Authorization", None)), "hook without a signature")

    s = sign("GET", base + "/_test/slow?ms=300")
    start = time.monotonic()
    resp = send(port, s)
    elapsed = time.monotonic() - start
    accepted(resp, s, "slow")
    t.check(elapsed >= 0.3, f"slow: took {elapsed:.2f}s >= 0.3s")

    s = sign("GET", base + "/_test/status?code=503")
    resp = send(port, s)
    expected["verified"] += 1
    t.check(resp.status == 503 and resp.body == b"status 503\n", "status?code=503", resp)
    s = sign("GET", base + "/_test/status?code=204")
    resp = send(port, s)
    expected["verified"] += 1
    t.check(resp.status == 204 and resp.body == b"", "status?code=204")

    s = sign("GET", base + "/_test/chunked?chunks=5&size=100")
    start = time.monotonic()
    raw = t.raw_request("127.0.0.1", port, s.raw_bytes())
    expected["verified"] += 1
    resp = t.parse_response(raw)
    t.check(resp.status == 200 and resp.header("Transfer-Encoding") == "chunked" and resp.complete,
            "chunked: 200, Transfer-Encoding: chunked, complete", resp)
    t.check(resp.body == big_pattern(500) and raw.count(b"\r\n64\r\n") + raw.count(b"\r\n\r\n64\r\n") >= 5,
            "chunked: 5 chunks of 100 pattern bytes")
    t.check(time.monotonic() - start >= 0.08, "chunked: chunks paced")

    n = 3_000_017
    s = sign("GET", base + f"/_test/big?bytes={n}")
    resp = send(port, s, timeout=30)
    expected["verified"] += 1
    t.check(resp.status == 200 and resp.header("Content-Length") == str(n), "big: 200 with Content-Length")
    t.check(resp.body == big_pattern(n), f"big: {n} pattern bytes")

    s = sign("GET", base + "/_test/reset")
    expected["verified"] += 1
    t.check_raises((OSError, http.client.HTTPException), lambda: send(port, s), "reset: client sees a connection error")
    raw = b""
    try:
        raw = t.raw_request("127.0.0.1", port, sign("GET", base + "/_test/reset").raw_bytes(), timeout=3)
    except ConnectionResetError:
        raw = b"<reset before any byte>"
    expected["verified"] += 1
    t.check(not raw.startswith(b"HTTP/1.1 200 OK\r\n") or b"\r\n\r\n" not in raw,
            "reset: never a complete header block", raw[:200])

    s = sign("GET", base + "/_test/hang")
    expected["verified"] += 1
    start = time.monotonic()
    t.check_raises((socket.timeout, TimeoutError), lambda: send(port, s, timeout=1), "hang: 1 s client timeout fires")
    t.check(0.9 <= time.monotonic() - start < 3, "hang: after about 1 s")

    s = sign("GET", base + "/_test/nope")
    resp = send(port, s)
    expected["verified"] += 1
    t.check_eq(resp.status, 404, "unknown hook: 404")


def tls(port, certs):
    t.section("HTTPS with the test CA")
    ctx = t.client_ssl_context(certs.ca)
    s = sign("GET", f"https://localhost:{port}/secure?a=1")
    accepted(send(port, s, ctx=ctx, server_hostname="localhost"), s, "HTTPS, certificate checked for localhost")
    s = sign("GET", f"https://127.0.0.1:{port}/secure")
    accepted(send(port, s, ctx=ctx), s, "HTTPS, certificate checked for IP 127.0.0.1")

    body = b"unsigned payload body"
    s = sign("POST", f"https://localhost:{port}/upload", [("Content-Type", "text/plain")], body, unsigned_payload=True)
    t.check(("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD") in s.headers and s.canonical_request.endswith(
        "\nUNSIGNED-PAYLOAD"), "botocore signed UNSIGNED-PAYLOAD")
    accepted(send(port, s, ctx=ctx, server_hostname="localhost"), s, "UNSIGNED-PAYLOAD")
    accepted(send(port, s, body=b"another body", ctx=ctx, server_hostname="localhost"), s,
             "UNSIGNED-PAYLOAD: the body is not covered", body=b"another body")
    resp = send(port, s, headers=t.replace_header(s.headers, "X-Amz-Content-SHA256", None), ctx=ctx,
                server_hostname="localhost")
    expected["rejected"] += 1
    t.check_eq(resp.status, 403, "UNSIGNED-PAYLOAD header removed: 403")

    stats = t.verifier_stats(port, ssl_context=ctx, server_hostname="localhost")
    t.check(stats["verified"] == 4 and stats["rejected"] == 1, "HTTPS stats", stats)

    t.check_raises(ssl.SSLCertVerificationError,
                   lambda: t.http_request("127.0.0.1", port, "GET", "/_verifier/stats",
                                          ssl_context=t.client_ssl_context(certs.ca), server_hostname="wrong.example"),
                   "server.pem is not valid for wrong.example")
    t.check_raises(ssl.SSLCertVerificationError,
                   lambda: t.http_request("127.0.0.1", port, "GET", "/_verifier/stats",
                                          ssl_context=ssl.create_default_context(), server_hostname="localhost"),
                   "the test CA is not trusted by default")
    resp = t.http_request("127.0.0.1", port, "GET", "/_verifier/stats", ssl_context=ctx)
    t.check_eq(resp.status, 200, "verifier still serves after failed handshakes")

    wrong_proc, wrong_port = t.start_verifier(CREDENTIALS, tls=(certs.wrong, certs.wrong_key))
    with wrong_proc:
        t.check_raises(ssl.SSLCertVerificationError,
                       lambda: t.http_request("127.0.0.1", wrong_port, "GET", "/_verifier/stats", ssl_context=ctx,
                                              server_hostname="localhost"),
                       "wrong.pem is rejected for localhost")
        resp = t.http_request("127.0.0.1", wrong_port, "GET", "/_verifier/stats", ssl_context=ctx,
                              server_hostname="wrong.example")
        t.check_eq(resp.status, 200, "wrong.pem is valid for wrong.example (same CA)")


def ipv6():
    t.section("IPv6 loopback")
    proc, port = t.start_verifier(CREDENTIALS, host="::1")
    with proc:
        s = sign("GET", f"http://[::1]:{port}/v6?z=1")
        resp = t.http_request("::1", port, s.method, s.target, s.headers)
        t.check_eq(resp.status, 200, "signed GET over [::1]")
        t.check_eq(resp.json().get("canonical_request"), s.canonical_request, "[::1]: canonical == botocore's")


def forwarding(port):
    t.section("--forward-to")
    front, front_port = t.start_verifier(CREDENTIALS, forward_to=f"http://127.0.0.1:{port}")
    with front:
        s = sign("GET", f"http://127.0.0.1:{front_port}/_verifier/stats")
        resp = t.http_request("127.0.0.1", front_port, s.method, s.target, s.headers)
        t.check(resp.status == 200 and "verified" in resp.json(), "verified request relayed to the upstream",
                resp.body[:200])
        s = sign("GET", f"http://127.0.0.1:{front_port}/plain", [("X-Keep", "1")])
        resp = t.http_request("127.0.0.1", front_port, s.method, s.target, s.headers)
        # the upstream is a verifier too: the forwarded copy has no Authorization, so it answers 403
        t.check(resp.status == 403 and "Missing Authentication Token" in resp.body.decode(),
                "upstream status and body relayed (Authorization not forwarded)", resp.body[:200])
        expected["rejected"] += 1
        s = sign("GET", f"http://127.0.0.1:{front_port}/x")
        resp = t.http_request("127.0.0.1", front_port, s.method, s.target,
                              t.replace_header(s.headers, "Authorization", None))
        t.check_eq(resp.status, 403, "front rejects before forwarding")


def main():
    t0 = time.monotonic()
    tmp = t.work_dir()
    certs = t.make_certs(os.path.join(tmp, "certs"))
    http_proc, port = t.start_verifier(CREDENTIALS, log_path=os.path.join(tmp, "verifier-http.log"))
    https_proc, tls_port = t.start_verifier(CREDENTIALS, tls=certs, log_path=os.path.join(tmp, "verifier-https.log"))
    t.reset_verifier_stats(port)

    positives(port)
    negatives(port)
    hooks(port)

    t.section("stats")
    stats = t.verifier_stats(port)
    t.check_eq((stats["verified"], stats["rejected"], stats["requests"]),
               (expected["verified"], expected["rejected"], expected["verified"] + expected["rejected"]),
               "/_verifier/stats counts (verified, rejected, requests)")
    t.reset_verifier_stats(port)
    t.check_eq(t.verifier_stats(port)["requests"], 0, "POST /_verifier/reset_stats zeroes the counts")

    tls(tls_port, certs)
    ipv6()
    forwarding(port)

    t.section("logs")
    time.sleep(0.2)
    logs = http_proc.log_text() + https_proc.log_text()
    lines = [l for l in logs.splitlines() if " -> " in l]
    t.check(len(lines) >= expected["verified"] + expected["rejected"] - 10, f"one log line per request ({len(lines)})")
    leaked = [x for x in [SECRET, TOKEN_SECRET, TOKEN] + sent_signatures if x in logs]
    t.check(not leaked, "logs contain no secret, token or signature", leaked[:3])
    t.check(http_proc.alive() and https_proc.alive(), "verifiers survived everything")
    http_proc.stop()
    https_proc.stop()
    t.check(time.monotonic() - t0 < 60, f"finished in {time.monotonic() - t0:.1f}s (< 60 s)")


if __name__ == "__main__":
    t.run_main(main)
