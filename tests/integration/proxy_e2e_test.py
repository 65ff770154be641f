#!/usr/bin/python3
"""End-to-end: requests through sigv4-sidecar to tests/support/verifier.py, which checks every signature the way
AWS does (botocore's pieces) and echoes what it received.

  proxy_e2e_test.py PATH/TO/sigv4-sidecar

Covers: awkward paths and queries (raw target forwarded byte for byte), methods and bodies (binary, empty,
chunked uploads, Expect: 100-continue), HEAD, session tokens, UNSIGNED-PAYLOAD, path_prefix rewriting, added and
stripped headers, sign_host, the drop-in flags, header hygiene (hop-by-hop and client signing headers removed),
tampered replays of proxied requests (rejected by the verifier), response streaming (chunked and 5 MB), keep-alive
and the upstream pool (metrics), retry after the upstream closed an idle connection, no credentials (503),
SIGHUP reload (good and broken config) and SIGTERM draining an in-flight request.
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import http.client
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
from verifier import big_pattern  # noqa: E402

L = t.LOOPBACK
REGION, SERVICE = "us-east-1", "execute-api"
SIGV4 = {"region": REGION, "service": SERVICE}
TIMEOUTS = {"client_header": "5s", "client_body": "5s", "client_idle": "30s", "upstream_connect": "2s",
            "upstream_response_header": "10s", "upstream_idle": "30s", "shutdown_grace": "5s"}

# Headers a client may send that must never reach the upstream (the proxy signs afresh, and hop-by-hop
# headers are per connection). Connection names X-Hop-Named, which makes it hop-by-hop too.
HOSTILE_CLIENT_HEADERS = [
    ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20000101/us-east-1/execute-api/aws4_request, "
                      "SignedHeaders=host, Signature=" + "0" * 64),
    ("X-Amz-Date", "20000101T000000Z"),
    ("X-Amz-Security-Token", "client-token-must-not-travel"),
    ("X-Amz-Content-Sha256", "0" * 64),
    ("Connection", "keep-alive, X-Hop-Named"),
    ("X-Hop-Named", "per-connection"),
    ("Keep-Alive", "timeout=5, max=100"),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
    ("Proxy-Connection", "keep-alive"),
    ("TE", "trailers"),
    ("Trailer", "X-Checksum"),
]
REMOVED = ["authorization-from-client", "x-amz-security-token", "x-amz-content-sha256", "connection", "x-hop-named",
           "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
           "expect"]


def echo_of(resp, message):
    """The verifier's JSON echo of a response that must be 200; None (after a FAIL) otherwise."""
    if not t.check_eq(resp.status, 200, f"{message}: 200 (verified)"):
        print(f"        body: {resp.body[:700]!r}")
        return None
    try:
        return resp.json()
    except ValueError:
        t.check(False, f"{message}: JSON echo", resp.body[:300])
        return None


def verified(resp, message, target, method="GET", body=b"", host=None, akid=t.TEST_AKID, removed=(),
             kept=None, region=REGION, service=SERVICE):
    """resp is the verifier's 200 echo of exactly `method target` with `body`, signed by akid for region/service
    and with Host `host`; headers in `removed` are absent; kept {name: [values]} present with those values."""
    echo = echo_of(resp, message)
    if echo is None:
        return None
    t.check(echo["method"] == method and echo["target"] == target, f"{message}: upstream got {method} {target!r}",
            f"got {echo['method']} {echo['target']!r}")
    t.check(echo["body_length"] == len(body) and echo["body_sha256"] == t.sha256_hex(body),
            f"{message}: body of {len(body)} bytes intact", f"got {echo['body_length']} bytes")
    t.check(echo["access_key_id"] == akid and echo["region"] == region and echo["service"] == service,
            f"{message}: signed by {akid} for {region}/{service}",
            f"{echo['access_key_id']} {echo['region']}/{echo['service']}")
    if host is not None:
        t.check_eq(t.echo_header(echo, "Host"), [host], f"{message}: Host is the upstream's")
    names = t.header_names(echo)
    for name in removed:
        if name == "authorization-from-client":
            auths = t.echo_header(echo, "Authorization")
            t.check(len(auths) == 1 and "AKIDCLIENT" not in auths[0], f"{message}: client Authorization replaced",
                    auths)
        elif name == "x-amz-date":
            t.check(t.echo_header(echo, "X-Amz-Date") != ["20000101T000000Z"], f"{message}: client X-Amz-Date replaced")
        else:
            t.check(name not in names, f"{message}: {name} not forwarded", t.echo_header(echo, name))
    for name, values in (kept or {}).items():
        t.check_eq(t.echo_header(echo, name), values, f"{message}: {name} forwarded as {values}")
    return echo


def signed_headers(echo):
    auth = t.echo_header(echo, "Authorization")[0]
    return auth.split("SignedHeaders=")[1].split(",")[0].split(";")


class KeepAlive:
    """One client connection for many requests (http.client; Host set explicitly)."""

    def __init__(self, port, timeout=10):
        self.conn = http.client.HTTPConnection(L, port, timeout=timeout)

    def request(self, method, target, headers=(), body=b""):
        c = self.conn
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", "sidecar.test")
        for n, v in headers:
            c.putheader(n, v)
        if body or method in ("POST", "PUT", "PATCH"):
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body or None)
        r = c.getresponse()
        data = r.read()
        return t.Response(f"HTTP/{r.version / 10:.1f}", r.status, r.reason, r.getheaders(), data)

    def close(self):
        self.conn.close()


def main():
    binary = os.path.abspath(sys.argv[1])
    creds = [(t.TEST_AKID, t.TEST_SECRET), (t.TOKEN_AKID, t.TOKEN_SECRET, t.SESSION_TOKEN)]
    verifier, vport = t.start_verifier(creds)
    idle_verifier, iport = t.start_verifier(creds, extra_args=["--idle-timeout", "1"])
    up = f"http://{L}:{vport}"
    upstream_host = f"{L}:{vport}"
    config = {
        "log_level": "debug",
        "timeouts": TIMEOUTS,
        "limits": {"max_request_body": "8MiB", "max_header_bytes": "16KiB", "max_connections": 100},
        "routes": [
            {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": f"{up}/stage/v1", "sigv4": SIGV4},
            {"name": "custom", "match": {"path_prefix": "/custom/"}, "upstream": f"{up}/", "sigv4": SIGV4,
             "headers": {"X-Custom-Team": "blue", "X-Amz-Meta-Origin": "sidecar"},
             "strip_headers": ["X-Internal-Secret", "Cookie"]},
            {"name": "signhost", "match": {"path_prefix": "/signhost/"}, "upstream": f"{up}/",
             "sign_host": "abc123.execute-api.us-east-1.amazonaws.com"},
            {"name": "unsigned", "match": {"path_prefix": "/unsigned/"}, "upstream": f"{up}/",
             "sigv4": dict(SIGV4, unsigned_payload=True)},
            {"name": "idle", "match": {"path_prefix": "/idle/"}, "upstream": f"http://{L}:{iport}/", "sigv4": SIGV4},
            {"name": "root", "match": {"path_prefix": "/"}, "upstream": up, "sigv4": SIGV4},
        ],
    }
    proxy = t.start_proxy(binary, config, name="sidecar-main")

    # ---------------------------------------------------------------------------------------------------
    t.section("admin endpoints")
    r = proxy.admin("/-/healthy")
    t.check_eq(r.status, 200, "/-/healthy 200")
    r = proxy.admin("/-/ready")
    t.check(r.status == 200 and b"ready" in r.body, "/-/ready 200 with credentials", r)
    r = proxy.admin("/metrics")
    t.check(r.status == 200 and "text/plain" in (r.header("Content-Type") or "") and b"# TYPE" in r.body,
            "/metrics is Prometheus text", r)

    # ---------------------------------------------------------------------------------------------------
    t.section("awkward paths and queries are forwarded byte for byte and verify")
    targets = [
        "/",
        "/plain/path",
        "/a%2Fb/c%2fd",                                  # encoded slashes, upper and lower case
        "/p:q@r/x!$&'()*+,;=y",                          # sub-delims, ':' and '@' in a segment
        "/%E2%9C%93/caf%C3%A9/%F0%9F%98%80",             # unicode, percent-encoded UTF-8
        "/sp%20ace/tilde~_-.",                           # unreserved characters stay as they are
        "/search?q=a+b&r=1%2B2&s=%20",                   # a raw '+', an encoded '+', an encoded space
        "/q?a=1&a=2&a=&b&&c=3&=empty-key",               # repeated, empty, valueless keys, an empty pair
        "/prom/v1/series?match[]=up&match[]=process_start_time_seconds",  # Prometheus' match[]
        "/q?u=%E2%9C%93&l=%e2%9c%93&k=%7E&slash=%2F&colon=a:b&at=x@y",
        "/q?z=1&Z=2&a=%3D%26&b==",                       # case order, '=' and '&' encoded, '=' in a value
        "/trailing/slash/?x",
        "/a//b/./c/../d",                                # empty and dot segments (kept on the wire)
        "/?only=query",
    ]
    for target in targets:
        r = proxy.request("GET", target, [("Accept", "*/*"), ("User-Agent", "e2e/1")])
        verified(r, f"GET {target}", target, host=upstream_host,
                 kept={"User-Agent": ["e2e/1"], "Accept": ["*/*"]})

    t.section("client signing headers and hop-by-hop headers are removed")
    r = proxy.request("GET", "/hygiene?x=1", HOSTILE_CLIENT_HEADERS + [("X-Client-Keep", "yes")])
    verified(r, "GET with client Authorization, X-Amz-*, hop-by-hop headers", "/hygiene?x=1", host=upstream_host,
             removed=REMOVED + ["x-amz-date"], kept={"X-Client-Keep": ["yes"]})
    r = proxy.request("GET", "/hygiene2", [("Connection", "close, X-Drop-A, x-drop-b"), ("X-Drop-A", "1"),
                                           ("X-Drop-B", "2"), ("X-Stay", "3")])
    verified(r, "headers named by Connection are dropped", "/hygiene2", removed=["x-drop-a", "x-drop-b", "connection"],
             kept={"X-Stay": ["3"]})
    r = proxy.request("GET", "/dup-headers", [("X-Multi", "one"), ("X-Multi", "two"), ("X-Amz-Meta-List", "a"),
                                              ("X-Amz-Meta-List", "b")])
    echo = verified(r, "repeated headers (one signed) keep their order", "/dup-headers",
                    kept={"X-Multi": ["one", "two"], "X-Amz-Meta-List": ["a", "b"]})
    if echo:
        t.check("x-amz-meta-list" in signed_headers(echo), "x-amz-* client headers are signed", signed_headers(echo))

    # ---------------------------------------------------------------------------------------------------
    t.section("methods and bodies")
    binary_body = bytes(range(256)) * 400
    r = proxy.request("POST", "/upload?part=1", [("Content-Type", "application/octet-stream")], binary_body)
    echo = verified(r, "POST 102400-byte binary body", "/upload?part=1", "POST", binary_body,
                    kept={"Content-Type": ["application/octet-stream"], "Content-Length": [str(len(binary_body))]})
    if echo:
        t.check("content-type" in signed_headers(echo), "content-type is signed", signed_headers(echo))
    r = proxy.request("POST", "/empty", [("Content-Length", "0")])
    verified(r, "POST with a 0-byte body", "/empty", "POST", b"")
    r = proxy.request("PUT", "/object/key%2Bplus", [("Content-Type", "text/plain; charset=utf-8")], "put body ✓")
    verified(r, "PUT with a text body", "/object/key%2Bplus", "PUT", "put body ✓".encode())
    r = proxy.request("DELETE", "/object/key?versionId=3")
    verified(r, "DELETE", "/object/key?versionId=3", "DELETE")
    r = proxy.request("PATCH", "/object/key", [("Content-Type", "application/json")], b'{"a":1}')
    verified(r, "PATCH with JSON", "/object/key", "PATCH", b'{"a":1}')
    r = proxy.request("OPTIONS", "/object/key")
    verified(r, "OPTIONS", "/object/key", "OPTIONS")

    before = t.verifier_stats(vport)
    ka = KeepAlive(proxy.port)
    r = ka.request("HEAD", "/head/object")
    t.check(r.status == 200 and r.body == b"", "HEAD: 200, no body", r)
    t.check(r.header("Content-Length") not in (None, "0"), "HEAD: the upstream's Content-Length is relayed",
            r.headers)
    r = ka.request("GET", "/after-head")
    verified(r, "GET on the same connection after HEAD", "/after-head")
    ka.close()
    after = t.verifier_stats(vport)
    t.check(after["verified"] - before["verified"] == 2 and after["rejected"] == before["rejected"],
            "HEAD was verified upstream", (before, after))

    t.section("chunked uploads are de-chunked and sent with Content-Length")
    pieces = [b"x", bytes(range(256)) * 4, b"\r\n0\r\n\r\n" * 3, big_pattern(65536), b"tail"]
    body = b"".join(pieces)
    raw = (b"POST /chunked-upload?n=5 HTTP/1.1\r\nHost: sidecar.test\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
    raw += b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    r = t.parse_response(proxy.raw(raw))
    verified(r, "chunked upload of 5 chunks", "/chunked-upload?n=5", "POST", body,
             removed=["transfer-encoding"], kept={"Content-Length": [str(len(body))]})
    raw = (b"POST /chunked-trailer HTTP/1.1\r\nHost: sidecar.test\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    r = t.parse_response(proxy.raw(raw))
    verified(r, "chunked upload with a chunk extension and a trailer", "/chunked-trailer", "POST", b"hello world",
             removed=["transfer-encoding", "x-trailer"])

    # Expect: 100-continue: the proxy answers 100 itself, reads the body, and does not forward Expect.
    s = socket.create_connection((L, proxy.port), timeout=5)
    s.sendall(b"PUT /expect HTTP/1.1\r\nHost: sidecar.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n"
              b"Connection: close\r\n\r\n")
    first = s.recv(4096)
    t.check(first.startswith(b"HTTP/1.1 100"), "Expect: 100-continue gets 100 Continue before the body", first)
    s.sendall(b"hello world")
    data = first
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    r = t.parse_response(data)
    verified(r, "PUT after 100 Continue", "/expect", "PUT", b"hello world", removed=["expect"])

    # ---------------------------------------------------------------------------------------------------
    t.section("routes: path_prefix rewriting, added and stripped headers, sign_host, UNSIGNED-PAYLOAD")
    for target, expected in [("/api/items?x=1", "/stage/v1/items?x=1"), ("/api/", "/stage/v1/"),
                             ("/api/a%2Fb/c?match[]=up", "/stage/v1/a%2Fb/c?match[]=up"),
                             ("/apix/not-the-api", "/apix/not-the-api")]:
        r = proxy.request("GET", target)
        verified(r, f"GET {target} -> {expected}", expected)
    r = proxy.request("GET", "/custom/h?q=1", [("X-Internal-Secret", "s3cr3t"), ("Cookie", "session=1"),
                                               ("X-Custom-Team", "client-value"), ("X-Other", "o")])
    echo = verified(r, "route headers set, strip_headers removed", "/h?q=1",
                    removed=["x-internal-secret", "cookie"],
                    kept={"X-Custom-Team": ["blue"], "X-Amz-Meta-Origin": ["sidecar"], "X-Other": ["o"]})
    if echo:
        t.check("x-amz-meta-origin" in signed_headers(echo), "an added x-amz-* header is signed", signed_headers(echo))
    r = proxy.request("GET", "/signhost/x?y=z")
    verified(r, "sign_host is sent and signed as Host (region/service inferred from it)", "/x?y=z",
             host="abc123.execute-api.us-east-1.amazonaws.com")
    r = proxy.request("POST", "/unsigned/put", [("Content-Type", "application/octet-stream")], binary_body)
    echo = verified(r, "unsigned_payload route", "/put", "POST", binary_body,
                    kept={"X-Amz-Content-Sha256": ["UNSIGNED-PAYLOAD"]})
    if echo:
        t.check(echo["canonical_request"].endswith("\nUNSIGNED-PAYLOAD"), "canonical request ends in UNSIGNED-PAYLOAD")
        t.check("x-amz-content-sha256" in signed_headers(echo), "x-amz-content-sha256 is signed")

    # ---------------------------------------------------------------------------------------------------
    t.section("drop-in flags: --unsigned-payload --custom-headers --strip --sign-host")
    flagged = t.start_proxy(binary, args=[
        "--host", upstream_host, "--upstream-url-scheme", "http", "--name", SERVICE, "--region", REGION,
        "--unsigned-payload", "--custom-headers", "X-Flag-One=1,X-Amz-Meta-Flag=two", "--strip", "X-Drop-Me",
        "--sign-host", "xyz789.execute-api.us-east-1.amazonaws.com"], name="sidecar-flags")
    r = flagged.request("POST", "/flags/a%2Fb?x=1&x=", [("X-Drop-Me", "1"), ("X-Keep", "k")], b"flag body")
    echo = verified(r, "flags route", "/flags/a%2Fb?x=1&x=", "POST", b"flag body",
                    host="xyz789.execute-api.us-east-1.amazonaws.com", removed=["x-drop-me"],
                    kept={"X-Flag-One": ["1"], "X-Amz-Meta-Flag": ["two"], "X-Keep": ["k"],
                          "X-Amz-Content-Sha256": ["UNSIGNED-PAYLOAD"]})
    flagged.stop()

    t.section("session token (AWS_SESSION_TOKEN)")
    tokened = t.start_proxy(binary, args=["--host", upstream_host, "--upstream-url-scheme", "http", "--name", SERVICE,
                                          "--region", REGION],
                            env=t.credential_env(t.TOKEN_AKID, t.TOKEN_SECRET, t.SESSION_TOKEN), name="sidecar-token")
    r = tokened.request("GET", "/token?x=1", [("X-Amz-Security-Token", "client-token-must-not-travel")])
    echo = verified(r, "GET signed with a session token", "/token?x=1", akid=t.TOKEN_AKID,
                    kept={"X-Amz-Security-Token": [t.SESSION_TOKEN]})
    if echo:
        t.check("x-amz-security-token" in signed_headers(echo), "x-amz-security-token is signed")
    r = tokened.request("POST", "/token/post", [("Content-Type", "text/plain")], b"with token")
    verified(r, "POST signed with a session token", "/token/post", "POST", b"with token", akid=t.TOKEN_AKID)
    t.check(t.SESSION_TOKEN not in tokened.process.log_text() and t.TOKEN_SECRET not in tokened.process.log_text(),
            "the token and the secret are not logged")
    tokened.stop()

    t.section("sigv4.profile: a route signs with a profile's keys, the others with the environment's")
    creds_file = os.path.join(t.work_dir(), "profile-credentials")
    with open(creds_file, "w") as f:
        f.write(f"[other]\naws_access_key_id = {t.TOKEN_AKID}\naws_secret_access_key = {t.TOKEN_SECRET}\n"
                f"aws_session_token = {t.SESSION_TOKEN}\n")
    env = t.credential_env()
    env["AWS_SHARED_CREDENTIALS_FILE"] = creds_file
    env["AWS_CONFIG_FILE"] = os.path.join(t.work_dir(), "no-such-config")
    profiled = t.start_proxy(binary, {
        "routes": [{"name": "other", "match": {"path_prefix": "/other/"}, "upstream": f"{up}/",
                    "sigv4": dict(SIGV4, profile="other")},
                   {"name": "root", "match": {"path_prefix": "/"}, "upstream": up, "sigv4": SIGV4}]},
        env=env, name="sidecar-profile")
    r = profiled.request("GET", "/other/x")
    verified(r, "the profile route signs with the profile's keys", "/x", akid=t.TOKEN_AKID)
    r = profiled.request("GET", "/y")
    verified(r, "the other route signs with the environment's keys", "/y", akid=t.TEST_AKID)
    t.check(profiled.admin("/-/ready").status == 200, "ready: both identities have credentials")
    profiled.stop()

    # ---------------------------------------------------------------------------------------------------
    t.section("tampered replays of a proxied request are rejected by the verifier")
    r = proxy.request("POST", "/replay/x?y=1", [("Content-Type", "text/plain")], b"original body")
    echo = verified(r, "the request to replay", "/replay/x?y=1", "POST", b"original body")
    if echo:
        sent = [(n, v) for n, v in echo["headers"] if n.lower() not in ("content-length", "connection")]

        def replay(message, method="POST", target="/replay/x?y=1", headers=sent, body=b"original body", status=403):
            res = t.http_request(L, vport, method, target, headers, body)
            t.check_eq(res.status, status, f"replay {message}: {status}")
        replay("unchanged (control)", status=200)
        replay("with another body", body=b"original bodY")
        replay("with an extra body byte", body=b"original body!")
        replay("to another path", target="/replay/y?y=1")
        replay("with another query", target="/replay/x?y=2")
        replay("with an added query parameter", target="/replay/x?y=1&z=1")
        replay("as PUT", method="PUT")
        replay("with another Content-Type", headers=t.replace_header(sent, "Content-Type", "text/html"))
        date = t.echo_header(echo, "X-Amz-Date")[0]
        later = date[:-3] + f"{(int(date[-3:-1]) + 1) % 60:02d}Z"
        replay("with another X-Amz-Date", headers=t.replace_header(sent, "X-Amz-Date", later))
        replay("with another Host", headers=t.replace_header(sent, "Host", f"localhost:{vport}"))

    # ---------------------------------------------------------------------------------------------------
    t.section("responses are streamed: chunked stays chunked, big bodies arrive whole")
    s = socket.create_connection((L, proxy.port), timeout=10)
    start = time.monotonic()
    s.sendall(b"GET /_test/chunked?chunks=25&size=200 HTTP/1.1\r\nHost: sidecar.test\r\nConnection: close\r\n\r\n")
    data, arrivals = b"", []  # (seconds, bytes so far)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        arrivals.append((time.monotonic() - start, len(data)))
    total = time.monotonic() - start
    header_end = data.find(b"\r\n\r\n") + 4
    early = max([n for when, n in arrivals if when < total - 0.2] + [header_end]) - header_end
    s.close()
    r = t.parse_response(data)
    t.check_eq(r.status, 200, "/_test/chunked: 200")
    t.check_eq((r.header("Transfer-Encoding") or "").lower(), "chunked", "/_test/chunked: still chunked")
    after_header = data[data.find(b"\r\n\r\n") + 4:]
    t.check(r.complete and r.body == big_pattern(5000), "/_test/chunked: 25 chunks, all 5000 bytes in order",
            f"complete={r.complete}, {len(r.body)} bytes; raw after the header: {after_header[:80]!r}")
    t.check(early >= 1500, "/_test/chunked: most chunks reach the client while the upstream is still sending "
            "(25 chunks of 200 bytes, 20 ms apart: streamed, not buffered)",
            f"only {early} body bytes arrived before the last 0.2 s of {total:.3f}s; "
            f"arrivals (s, bytes): {[(round(w, 3), n) for w, n in arrivals][:10]}")
    ka = KeepAlive(proxy.port)
    r = ka.request("GET", "/_test/chunked?chunks=3&size=100")
    t.check(r.status == 200 and r.body == big_pattern(300), "chunked response on a keep-alive connection intact",
            f"{r.status}, {len(r.body)} bytes")
    try:
        r = ka.request("GET", "/after-chunked")
        verified(r, "next request on the same connection after a chunked response", "/after-chunked")
    except (OSError, http.client.HTTPException) as e:
        t.check(False, "next request on the same connection after a chunked response", repr(e))
    ka.close()
    r = proxy.request("GET", "/_test/big?bytes=5000000", timeout=30)
    t.check(r.status == 200 and len(r.body) == 5000000 and r.body == big_pattern(5000000),
            "/_test/big?bytes=5000000: all 5,000,000 bytes, right content", f"{r.status}, {len(r.body)} bytes")
    t.check_eq(r.header("Content-Length"), "5000000", "/_test/big: Content-Length relayed")
    r = proxy.request("GET", "/_test/status?code=418")
    t.check(r.status == 418 and r.body == b"status 418\n", "upstream status (418) and body relayed", r)
    r = proxy.request("GET", "/_test/status?code=204")
    t.check(r.status == 204 and r.body == b"", "upstream 204 relayed", r)

    # ---------------------------------------------------------------------------------------------------
    t.section("keep-alive: 200 requests on one client connection, pooled upstream connections")
    m0 = proxy.metrics()
    v0 = t.verifier_stats(vport)
    ka = KeepAlive(proxy.port)
    ok, wrong = 0, []
    for i in range(200):
        try:
            r = ka.request("GET", f"/ka/{i}?i={i}")
            if r.status == 200 and r.json()["target"] == f"/ka/{i}?i={i}":
                ok += 1
            else:
                wrong.append((i, r.status, r.body[:200]))
        except (OSError, http.client.HTTPException) as e:
            wrong.append((i, repr(e)))
            ka.close()
            ka = KeepAlive(proxy.port)
    ka.close()
    t.check_eq(ok, 200, "200 sequential keep-alive requests verified")
    if wrong:
        print(f"        first problems: {wrong[:3]}")
    v1 = t.verifier_stats(vport)
    t.check(v1["verified"] - v0["verified"] == 200 and v1["rejected"] == v0["rejected"],
            "the verifier verified exactly 200 more, rejected none", (v0, v1))
    # A request is counted when its exchange ends, just after its last byte went out: the client may have read
    # the 200th answer a moment before it is counted (seen under ASan), so wait for the count, then check it.
    deadline = time.monotonic() + 5
    while True:
        m1 = proxy.metrics()
        counted = (t.metric_sum(m1, "sigv4_sidecar_requests_total", route="root", code="200")
                   - t.metric_sum(m0, "sigv4_sidecar_requests_total", route="root", code="200"))
        if counted >= 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    t.check_eq(counted, 200.0, "sigv4_sidecar_requests_total{route=\"root\",code=\"200\"} grew by 200")
    open_conns = t.metric_sum(m1, "sigv4_sidecar_upstream_connections", upstream=up, state="open")
    t.check(1 <= open_conns <= 2, f"upstream connections open to {up}: {open_conns:g} (pooled, not one per request)",
            [(k, v) for k, v in m1.items() if k[0] == "sigv4_sidecar_upstream_connections"])

    t.section("busy polling: counted in /metrics, and an idle proxy does not spin")
    gaps = (t.metric_sum(m1, "sigv4_sidecar_busy_poll_wakeups_total")
            - t.metric_sum(m0, "sigv4_sidecar_busy_poll_wakeups_total"))
    t.check(gaps >= 200, f"sigv4_sidecar_busy_poll_wakeups_total counts the workers' idle gaps ({gaps:g} for 200 "
            "requests)", [(k, v) for k, v in m1.items() if k[0].startswith("sigv4_sidecar_busy_poll")])
    t.check(("sigv4_sidecar_busy_poll_seconds_total", frozenset({("worker", "0")})) in m1,
            "sigv4_sidecar_busy_poll_seconds_total{worker=\"0\"} is exported", sorted(k for k in m1 if "busy" in k[0]))
    cpu0 = t.cpu_seconds(proxy.process.pid)
    time.sleep(2.0)
    idle_cpu = t.cpu_seconds(proxy.process.pid) - cpu0
    t.check(idle_cpu < 0.1, f"idle for 2 s after traffic, the proxy used {idle_cpu * 1000:.0f} ms of CPU "
            "(polling is bounded: idle workers sleep)", idle_cpu)

    t.section("pool: the upstream closes idle connections, the next request still succeeds")
    for i in range(3):
        r = proxy.request("GET", f"/idle/round{i}")
        verified(r, f"idle route round {i}", f"/round{i}")
        time.sleep(1.6)  # the idle verifier closes connections idle for 1 s
    r = proxy.request("GET", "/idle/after")
    verified(r, "request after the upstream closed the pooled connection", "/after")
    st = t.verifier_stats(iport)
    t.check(st["verified"] == 4 and st["rejected"] == 0, "the idle verifier verified all 4", st)

    # ---------------------------------------------------------------------------------------------------
    t.section("no credentials: 503, nothing sent, not ready")
    nocreds = t.start_proxy(binary, args=["--host", upstream_host, "--upstream-url-scheme", "http", "--name", SERVICE,
                                          "--region", REGION], env=t.credential_env(akid=None), name="sidecar-nocreds")
    before = t.verifier_stats(vport)
    r = nocreds.request("GET", "/no/creds")
    t.check_eq(r.status, 503, "GET without credentials: 503")
    t.check(b"credential" in r.body.lower(), "503 body mentions credentials", r.body)
    r = nocreds.request("POST", "/no/creds", [("Content-Type", "text/plain")], b"body")
    t.check_eq(r.status, 503, "POST without credentials: 503")
    after = t.verifier_stats(vport)
    t.check_eq(after["requests"] - before["requests"], 0, "the verifier saw no request")
    r = nocreds.admin("/-/ready")
    t.check(r.status == 503 and (b"credential" in r.body.lower() or b"AWS_ACCESS_KEY_ID" in r.body),
            "/-/ready 503 says why (credentials)", (r, r.body))
    t.check_eq(nocreds.admin("/-/healthy").status, 200, "/-/healthy still 200")
    nocreds.stop()

    # ---------------------------------------------------------------------------------------------------
    t.section("SIGHUP reloads the config; a broken config keeps the old one")
    reload_cfg = {"timeouts": TIMEOUTS,
                  "routes": [{"name": "r", "match": {"path_prefix": "/r/"}, "upstream": f"{up}/one", "sigv4": SIGV4}]}
    rp = t.start_proxy(binary, reload_cfg, name="sidecar-reload")
    reload_cfg["listen"] = f"{L}:{rp.port}"
    reload_cfg["admin_listen"] = f"{L}:{rp.admin_port}"
    verified(rp.request("GET", "/r/x"), "before reload", "/one/x")
    reload_cfg["routes"][0]["upstream"] = f"{up}/two"
    reload_cfg["routes"].append({"name": "new", "match": {"path_prefix": "/new/"}, "upstream": f"{up}/added",
                                 "sigv4": SIGV4})
    rp.write_config(reload_cfg)
    rp.signal(signal.SIGHUP)
    deadline, target = time.monotonic() + 5, None
    while time.monotonic() < deadline:
        r = rp.request("GET", "/r/x")
        target = r.json().get("target") if r.status == 200 else r.status
        if target == "/two/x":
            break
        time.sleep(0.1)
    t.check_eq(target, "/two/x", "after SIGHUP the changed route is used")
    verified(rp.request("GET", "/new/y"), "after SIGHUP the added route works", "/added/y")
    for label, text in [("a route without an upstream", t.yaml_dump(dict(reload_cfg, routes=[{"name": "bad"}]))),
                        ("invalid YAML", "routes: [\n  - {name: 'x', upstream: \n"),
                        ("an unknown key", t.yaml_dump(dict(reload_cfg, no_such_key=1)))]:
        rp.write_config(text)
        rp.signal(signal.SIGHUP)
        time.sleep(0.4)
        t.check(rp.process.alive(), f"SIGHUP with {label}: still running")
        verified(rp.request("GET", "/r/x"), f"SIGHUP with {label}: old config still serving", "/two/x")
    t.check("reload rejected" in rp.process.log_text(), "the rejected reloads are logged",
            rp.process.log_tail(5))
    rp.stop()

    # ---------------------------------------------------------------------------------------------------
    t.section("SIGTERM: the in-flight request completes, then exit 0")
    sp = t.start_proxy(binary, {"timeouts": TIMEOUTS, "routes": [
        {"name": "root", "match": {"path_prefix": "/"}, "upstream": up, "sigv4": SIGV4}]}, name="sidecar-term")
    result = {}

    def slow():
        try:
            result["resp"] = sp.request("GET", "/_test/slow?ms=1500", timeout=10)
        except Exception as e:  # noqa: BLE001
            result["error"] = e
    th = threading.Thread(target=slow)
    start = time.monotonic()
    th.start()
    time.sleep(0.4)
    sp.signal(signal.SIGTERM)
    time.sleep(0.2)
    r = sp.admin("/-/ready")
    t.check_eq(r.status, 503, "/-/ready is 503 while draining")
    try:
        with socket.create_connection((L, sp.port), timeout=1) as c:
            c.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
            c.settimeout(2)
            late = c.recv(100)
        t.check(late == b"" or late.startswith(b"HTTP/1.1 503"), "a new connection while draining is not served",
                late)
    except OSError as e:
        t.check(True, f"a new connection while draining is refused ({type(e).__name__})")
    th.join(10)
    resp = result.get("resp")
    t.check(resp is not None and resp.status == 200 and resp.json()["target"] == "/_test/slow?ms=1500",
            "the slow request in flight at SIGTERM completed with 200", result)
    try:
        code = sp.process.popen.wait(8)
    except Exception:  # noqa: BLE001
        code = None
    elapsed = time.monotonic() - start
    t.check_eq(code, 0, "the proxy exited 0 after draining")
    t.check(1.4 <= elapsed <= 6.5, f"exit after the request finished and within the grace period ({elapsed:.2f}s)")
    sp.stop()

    t.check(proxy.process.alive(), "the main proxy is still running")
    t.check(verifier.alive() and idle_verifier.alive(), "the verifiers are still running")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: proxy_e2e_test.py PATH/TO/sigv4-sidecar")
    t.run_main(main)
