#!/usr/bin/python3
"""An independent SigV4-verifying HTTP(S) upstream: the stand-in for AWS in loopback tests.

  verifier.py --listen 127.0.0.1:PORT --credentials AKID:SECRET[:TOKEN] [--credentials ...]
              [--tls-cert CERT --tls-key KEY] [--forward-to http://127.0.0.1:PORT] [--port-file FILE]
              [--max-skew SECONDS] [--idle-timeout SECONDS] [--max-body BYTES] [--require-service NAME]
              [--forward-path PATH]

Every request must carry `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
The signature is recomputed the way an AWS (non-S3) front end does it, with botocore's SigV4Auth pieces
(Debian's python3-botocore):

- method; the RAW request target as received (never decoded; `//` is not collapsed as http.server does), its
  path handed to botocore, which removes dot segments and empty segments and percent-encodes it again
  (`%2F` -> `%252F`);
- the query split on '&', each pair on the first '=', key and value percent-decoded (`unquote`, so '+' stays
  '+'), then re-encoded canonically by botocore (`request.params` mode). Empty pairs (`a=1&&b=2`) are dropped;
- ONLY the headers listed in SignedHeaders, with the values received (repeated headers kept, in order); a
  listed header that is absent is a rejection;
- the SHA-256 of the body (Content-Length or chunked), or `UNSIGNED-PAYLOAD` when `X-Amz-Content-Sha256`
  says so; an `X-Amz-Content-Sha256` that is neither is a rejection unless it equals the body's hash;
- region, service and date from the credential scope; `X-Amz-Date` required, signed, matching the scope's
  date and within --max-skew (default 900 s) of now; `host` must be signed; a credential with a session token
  requires `X-Amz-Security-Token` equal to it (signed or not), one without rejects any token.

Rejections are 403 with AWS's JSON wording (the SignatureDoesNotMatch message includes the canonical request
and the string to sign the verifier expected). On success: forwarded to --forward-to (status, headers and body
relayed back), or answered 200 with a JSON echo:
  {"method", "target", "headers": [[name, value], ...], "body_sha256", "body_length", "access_key_id",
   "region", "service", "canonical_request"}

Test hooks (only after the signature verified; selected by path prefix):
  /_test/slow?ms=N                 sleep N ms, then the 200 echo
  /_test/status?code=N             answer status N (200..599) with a small text body
  /_test/chunked?chunks=N&size=M   chunked response: N chunks of M bytes of pattern, 20 ms apart
  /_test/big?bytes=N               Content-Length response of N bytes: big_pattern(N) (byte i = i % 251)
  /_test/reset                     status line and half the headers, then RST (SO_LINGER 0)
  /_test/hang                      never answer; hold the connection until the client closes it
  /_test/metrics                   a small Prometheus text exposition (a scrape target behind SigV4)
Unsigned endpoints: `GET /_verifier/stats` -> {"verified", "rejected", "requests", "last_rejection",
"rejections_by_reason"}; `POST /_verifier/reset_stats` zeroes them. Stats requests are not counted.

One log line per request on stderr (peer, method, target, result). Never the secret, the token or the
signature (X-Amz-Signature / X-Amz-Security-Token query values are redacted).
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's botocore, not a pip one
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest, HTTPHeaders  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.utils import normalize_url_path  # noqa: E402

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SIGNATURE_MISMATCH_TEXT = ("The request signature we calculated does not match the signature you provided. "
                           "Check your AWS Secret Access Key and signing method. Consult the service "
                           "documentation for details.")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade"}
PATTERN_PERIOD = 251
_PATTERN_PIECE = bytes(range(PATTERN_PERIOD)) * 261  # 65,511 bytes, a whole number of periods


def big_pattern(n):
    """The deterministic body of /_test/big?bytes=n (and of /_test/chunked): byte i is i % 251."""
    return (bytes(range(PATTERN_PERIOD)) * (n // PATTERN_PERIOD + 1))[:n]


def wire_text(s):
    """A header/target string decoded by http.server as ISO-8859-1, re-read as the UTF-8 the client sent
    (when it is valid UTF-8; otherwise left as is)."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def canonical_path(raw_path):
    """botocore's path canonicalisation for non-S3 services: remove dot and empty segments, encode again."""
    auth = botocore.auth.SigV4Auth(None, "x", "x")
    try:
        return auth._normalize_url_path(raw_path.encode("latin-1").decode("utf-8"))
    except (UnicodeEncodeError, UnicodeDecodeError):  # raw non-UTF-8 bytes: encode them byte for byte
        return urllib.parse.quote(normalize_url_path(raw_path), safe="/~", encoding="latin-1")


def query_params(raw_query):
    """The raw query as AWS's server side parses it: [(key, value), ...] percent-decoded (not '+' -> ' ')."""
    params = []
    for piece in raw_query.encode("latin-1", "replace").split(b"&"):
        if not piece:
            continue
        key, _, value = piece.partition(b"=")
        params.append((urllib.parse.unquote_to_bytes(key).decode("utf-8", "replace"),
                       urllib.parse.unquote_to_bytes(value).decode("utf-8", "replace")))
    return params


def compute_signature(method, raw_target, signed_headers, headers, payload_hash, secret, amz_date, region,
                      service):
    """Recomputes a SigV4 signature from received pieces with botocore's SigV4Auth.

    signed_headers: lower-case names (SignedHeaders split on ';'); headers: [(name, value), ...] as received
    (only the signed ones are used). Returns (canonical_request, string_to_sign, signature_hex).
    Raises KeyError(name) when a signed header is absent.
    """
    auth = botocore.auth.SigV4Auth(Credentials("unused", secret), service, region)
    request = AWSRequest(method=method, url="https://verifier.invalid/")
    request.context["timestamp"] = amz_date
    path, _, query = raw_target.partition("?")
    header_map = HTTPHeaders()
    for name in dict.fromkeys(signed_headers):
        values = [v for n, v in headers if n.lower() == name]
        if not values:
            raise KeyError(name)
        for value in values:
            header_map[name] = value  # HTTPHeaders appends: repeated headers stay repeated
    # botocore's SigV4Auth.canonical_request, line for line, fed with the received pieces
    canonical = "\n".join([
        method.upper(),
        canonical_path(path),
        auth._canonical_query_string_params(query_params(query)),
        auth.canonical_headers(header_map) + "\n",
        auth.signed_headers(header_map),
        payload_hash,
    ])
    string_to_sign = auth.string_to_sign(request, canonical)
    return canonical, string_to_sign, auth.signature(string_to_sign, request)


_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    """Parses an AWS4-HMAC-SHA256 Authorization header -> dict(akid, date, region, service, signed_headers,
    signature), or None when it is not one."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        return None
    fields = {}
    for part in m.group(1).split(","):
        key, sep, val = part.strip().partition("=")
        if not sep or key in fields:
            return None
        fields[key] = val.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope[:4]):
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]) or not fields["SignedHeaders"]:
        return None
    return {"akid": scope[0], "date": scope[1], "region": scope[2], "service": scope[3],
            "signed_headers": fields["SignedHeaders"].lower().split(";"), "signature": fields["Signature"]}


class Rejection(Exception):
    """A request the verifier refuses: HTTP status, AWS error type, JSON message, short reason for stats."""

    def __init__(self, status, error_type, message, reason):
        super().__init__(reason)
        self.status, self.error_type, self.message, self.reason = status, error_type, message, reason


class BadFraming(Exception):
    """The request body cannot be read (bad Content-Length or chunked framing); answered 400, then closed."""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.verified = self.rejected = self.requests = 0
        self.last_rejection = ""
        self.by_reason = {}

    def snapshot(self):
        with self.lock:
            return {"verified": self.verified, "rejected": self.rejected, "requests": self.requests,
                    "last_rejection": self.last_rejection, "rejections_by_reason": dict(self.by_reason)}


_REDACT_RE = re.compile(r"(?i)(x-amz-signature|x-amz-security-token)=[^&]*")


def redact(target):
    return _REDACT_RE.sub(lambda m: m.group(1) + "=REDACTED", target)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigv4-verifier/1"

    def version_string(self):
        return self.server_version

    # --- plumbing -------------------------------------------------------------------------------------
    def parse_request(self):
        ok = super().parse_request()
        if ok:  # http.server rewrites a leading '//' in self.path; keep the target exactly as received
            words = self.requestline.split()
            self.raw_target = words[1] if len(words) >= 2 else self.path
        return ok

    def __getattr__(self, name):  # every method (GET, PUT, PATCH, FOO...) goes to one handler
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def log_message(self, fmt, *args):  # http.server's own messages (malformed requests, timeouts)
        self.server.log(f"{self.client_address[0]}:{self.client_address[1]} {fmt % args}")

    def log_request(self, code="-", size="-"):  # one line per request is written by handle_any instead
        pass

    def log_result(self, result):
        self.server.log(f"{self.client_address[0]}:{self.client_address[1]} {self.command} "
                        f"{wire_text(redact(self.raw_target))!r} -> {result}")

    def send_body(self, status, body, content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        self.send_body(status, json.dumps(obj).encode(), "application/json", headers)

    def read_body(self):
        limit = self.server.max_body
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.read_chunked(limit)
        lengths = self.headers.get_all("Content-Length") or []
        values = {v.strip() for l in lengths for v in l.split(",")}
        if not values:
            return b""
        if len(values) != 1 or not re.fullmatch(r"[0-9]+", next(iter(values))):
            raise BadFraming(f"bad Content-Length {lengths!r}")
        n = int(next(iter(values)))
        if n > limit:
            raise BadFraming(f"body of {n} bytes exceeds --max-body")
        body = self.rfile.read(n)
        if len(body) != n:
            raise BadFraming(f"body ended after {len(body)} of {n} bytes")
        return body

    def read_chunked(self, limit):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BadFraming("truncated chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or not re.fullmatch(rb"[0-9a-fA-F]+", size_text):
                raise BadFraming(f"bad chunk size {line!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise BadFraming("chunked body exceeds --max-body")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(2) not in (b"\r\n", b"\n"):
                raise BadFraming("truncated chunk")
            chunks.append(data)
        while True:  # trailers, up to the empty line
            line = self.rfile.readline(8192)
            if not line.endswith(b"\n"):
                raise BadFraming("truncated trailers")
            if line in (b"\r\n", b"\n"):
                break
        return b"".join(chunks)

    # --- the request ----------------------------------------------------------------------------------
    def handle_any(self):
        server = self.server
        path, _, query = self.raw_target.partition("?")
        stats_request = path in ("/_verifier/stats", "/_verifier/reset_stats")
        if not stats_request:
            with server.stats.lock:
                server.stats.requests += 1
        try:
            body = self.read_body()
        except (BadFraming, ValueError) as e:
            self.close_connection = True
            self.reject(Rejection(400, "BadRequest", f"Bad request framing: {e}", "bad framing"))
            return
        if path == "/_verifier/stats" and self.command == "GET":
            return self.send_json(200, server.stats.snapshot())
        if path == "/_verifier/reset_stats" and self.command == "POST":
            with server.stats.lock:
                server.stats.reset()
            return self.send_json(200, {"reset": True})
        if stats_request:
            return self.send_json(405, {"message": "GET /_verifier/stats or POST /_verifier/reset_stats"})
        try:
            info = self.verify(body)
        except Rejection as r:
            return self.reject(r)
        with server.stats.lock:
            server.stats.verified += 1
        self.log_result(f"verified {info['access_key_id']} {info['region']}/{info['service']}")

        params = dict(urllib.parse.parse_qsl(query))
        if path.startswith("/_test/"):
            hook = path[len("/_test/"):].split("/")[0]
            method = getattr(type(self), "hook_" + hook, None)
            if method is None:
                return self.send_json(404, {"message": f"no test hook {hook!r}"})
            try:
                params = {k: int(v) for k, v in params.items()}
            except ValueError:
                return self.send_json(400, {"message": "test hook parameters are integers"})
            return method(self, params, info, body)
        if server.forward_to:
            return self.forward(body)
        return self.echo(info, body)

    def reject(self, r):
        with self.server.stats.lock:
            self.server.stats.rejected += 1
            self.server.stats.last_rejection = f"{self.command} {redact(self.raw_target)}: {r.reason}"
            self.server.stats.by_reason[r.reason] = self.server.stats.by_reason.get(r.reason, 0) + 1
        self.log_result(f"{r.status} rejected: {r.reason}")
        self.send_json(r.status, {"message": r.message},
                       headers=[("x-amzn-ErrorType", r.error_type), ("x-amzn-RequestId", os.urandom(16).hex())])

    def verify(self, body):
        """Checks the request's signature; returns the echo fields or raises Rejection."""
        values = self.headers.get_all("Authorization") or []
        value = values[0] if values else None
        auth = parse_authorization(value) if len(values) == 1 else None
        if auth is None:
            raise Rejection(403, "MissingAuthenticationTokenException", "Missing Authentication Token",
                            "missing or garbled authorization" if value else "missing authorization")
        creds = self.server.credentials.get(auth["akid"])
        if creds is None:
            raise Rejection(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.", "unknown access key id")
        secret, token = creds
        headers = [(name, wire_text(v)) for name, v in self.headers.items()]

        got_token = self.headers.get_all("X-Amz-Security-Token") or []
        if token is not None and (len(got_token) != 1 or not hmac.compare_digest(
                got_token[0].strip().encode("latin-1", "replace"), token.encode("latin-1", "replace"))):
            raise Rejection(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.",
                            "missing session token" if not got_token else "wrong session token")
        if token is None and got_token:
            raise Rejection(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.", "unexpected session token")

        if "host" not in auth["signed_headers"]:
            raise Rejection(403, "IncompleteSignatureException",
                            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                            "host not signed")
        amz_date = (self.headers.get("X-Amz-Date") or "").strip()
        if not amz_date:
            raise Rejection(403, "IncompleteSignatureException",
                            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                            "missing x-amz-date")
        if "x-amz-date" not in auth["signed_headers"]:
            raise Rejection(403, "IncompleteSignatureException", "'X-Amz-Date' must be a 'SignedHeader'.",
                            "x-amz-date not signed")
        try:
            when = datetime.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise Rejection(403, "IncompleteSignatureException", f"Bad X-Amz-Date: {amz_date!r}",
                            "bad x-amz-date") from None
        want = self.server.require_service
        if want and auth["service"] != want:
            raise Rejection(403, "InvalidSignatureException",
                            f"Credential should be scoped to correct service: '{want}'. ", "wrong service")
        if auth["date"] != amz_date[:8]:
            raise Rejection(403, "InvalidSignatureException",
                            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                            f"from HTTP: '{auth['date']}' != '{amz_date[:8]}', from '{amz_date}'.",
                            "scope date mismatch")
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        skew = datetime.timedelta(seconds=self.server.max_skew)
        fmt = lambda t: t.strftime(AMZ_DATE_FORMAT)  # noqa: E731
        if when < now - skew:
            raise Rejection(403, "InvalidSignatureException",
                            f"Signature expired: {amz_date} is now earlier than {fmt(now - skew)} "
                            f"({fmt(now)} - {self.server.max_skew // 60} min.)", "signature expired")
        if when > now + skew:
            raise Rejection(403, "InvalidSignatureException",
                            f"Signature not yet current: {amz_date} is still later than {fmt(now + skew)} "
                            f"({fmt(now)} + {self.server.max_skew // 60} min.)", "signature not yet current")

        body_hash = hashlib.sha256(body).hexdigest()
        declared = (self.headers.get("X-Amz-Content-Sha256") or "").strip()
        if declared == UNSIGNED_PAYLOAD:
            payload_hash = UNSIGNED_PAYLOAD
        elif declared and declared != body_hash:
            raise Rejection(400, "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                            "x-amz-content-sha256 mismatch")
        else:
            payload_hash = body_hash

        try:
            canonical, sts, expected = compute_signature(
                self.command, self.raw_target, auth["signed_headers"], headers, payload_hash, secret, amz_date,
                auth["region"], auth["service"])
        except KeyError as e:
            raise Rejection(403, "InvalidSignatureException",
                            f"{SIGNATURE_MISMATCH_TEXT} (signed header {e.args[0]!r} is not in the request)",
                            "signed header absent") from None
        if not hmac.compare_digest(expected, auth["signature"]):
            raise Rejection(403, "InvalidSignatureException",
                            f"{SIGNATURE_MISMATCH_TEXT}\n\nThe Canonical String for this request should have "
                            f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n",
                            "signature mismatch")
        return {"method": self.command, "target": self.raw_target, "headers": [list(h) for h in headers],
                "body_sha256": body_hash, "body_length": len(body), "access_key_id": auth["akid"],
                "region": auth["region"], "service": auth["service"], "canonical_request": canonical}

    # --- answers --------------------------------------------------------------------------------------
    def echo(self, info, body):
        self.send_json(200, info)

    def forward(self, body):
        base = self.server.forward_to
        conn_class = http.client.HTTPSConnection if base.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(base.hostname, base.port, timeout=30)
        try:
            target = self.raw_target
            if self.server.forward_path:  # an AMP workspace path onto a plain receiver's /api/v1/write
                target = self.server.forward_path
            conn.putrequest(self.command, base.path.rstrip("/") + target, skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader("Host", base.netloc)
            for name, value in self.headers.items():
                lname = name.lower()
                if lname in HOP_BY_HOP or lname in ("authorization", "host", "content-length") \
                        or lname.startswith("x-amz-"):
                    continue
                conn.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException, ValueError, UnicodeError) as e:
            self.log_result(f"forward failed: {e!r}")
            return self.send_json(502, {"message": f"verifier: forwarding failed: {e!r}"})
        finally:
            conn.close()
        self.log_result(f"forwarded -> {resp.status}")
        self.send_response(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def hook_slow(self, params, info, body):
        time.sleep(params.get("ms", 0) / 1000.0)
        self.echo(info, body)

    def hook_status(self, params, info, body):
        code = params.get("code", 200)
        if not 200 <= code <= 599:
            return self.send_json(400, {"message": "code must be in 200..599"})
        if code in (204, 304):
            self.send_response(code)
            self.end_headers()
            return
        self.send_body(code, f"status {code}\n".encode(), "text/plain")

    def hook_chunked(self, params, info, body):
        chunks, size = params.get("chunks", 3), params.get("size", 16)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        data = big_pattern(chunks * size)
        for i in range(chunks):
            piece = data[i * size:(i + 1) * size]
            if piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(b"0\r\n\r\n")

    def hook_big(self, params, info, body):
        n = params.get("bytes", 1 << 20)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        while sent < n:
            piece = _PATTERN_PIECE[:n - sent]
            self.wfile.write(piece)
            sent += len(piece)

    def hook_reset(self, params, info, body):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len")
        self.wfile.flush()
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop makefile()'s reference so close() really closes (RST) now
        sock.close()

    def hook_metrics(self, params, info, body):
        with self.server.stats.lock:
            verified = self.server.stats.verified
        text = ("# HELP verifier_verified_requests_total Requests whose signature this verifier accepted.\n"
                "# TYPE verifier_verified_requests_total counter\n"
                f"verifier_verified_requests_total {verified}\n"
                "# HELP verifier_scrape_signed Whether the scrape that fetched this was signed correctly.\n"
                "# TYPE verifier_scrape_signed gauge\n"
                f"verifier_scrape_signed{{service=\"{info['service']}\",region=\"{info['region']}\"}} 1\n")
        self.send_body(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")

    def hook_hang(self, params, info, body):
        self.close_connection = True
        sock = self.connection
        sock.settimeout(1.0)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    return  # the client closed
            except socket.timeout:
                continue
            except OSError:
                return


class VerifierServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    require_service = None  # --require-service
    forward_path = None  # --forward-path

    def __init__(self, address, credentials, ssl_context=None, forward_to=None, max_skew=900, max_body=64 << 20):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.credentials = credentials
        self.ssl_context = ssl_context
        self.forward_to = forward_to
        self.max_skew = max_skew
        self.max_body = max_body
        self.stats = Stats()
        self.log_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self):  # HTTPServer.server_bind does a reverse DNS lookup; not needed on loopback
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def log(self, line):
        stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        with self.log_lock:
            sys.stderr.write(f"{stamp} verifier: {line}\n")
            sys.stderr.flush()

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)  # handshake here, in the connection's thread, never in the accept loop
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.log(f"{client_address[0]}:{client_address[1]} TLS handshake failed: {e}")
            return
        tls.settimeout(None)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.log(f"{client_address[0]}:{client_address[1]} handler error: {sys.exc_info()[1]!r}")


def is_loopback_host(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--listen wants HOST:PORT, got {text!r}")
    host = host.strip("[]")
    if host == "localhost":
        host = "127.0.0.1"
    if not is_loopback_host(host):
        raise argparse.ArgumentTypeError(f"--listen must be a loopback address, got {host!r}")
    return host, int(port)


def parse_credentials(values):
    creds = {}
    for text in values:
        parts = text.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SystemExit(f"verifier: --credentials wants AKID:SECRET[:TOKEN], got one for {parts[0]!r}")
        creds[parts[0]] = (parts[1], parts[2] if len(parts) == 3 and parts[2] else None)
    return creds


def main(argv=None):
    p = argparse.ArgumentParser(description="SigV4-verifying HTTP(S) upstream for loopback tests.")
    p.add_argument("--listen", type=parse_listen, required=True, help="HOST:PORT, loopback only; port 0 = free")
    p.add_argument("--credentials", action="append", required=True, metavar="AKID:SECRET[:TOKEN]")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--forward-to", help="base URL to forward verified requests to (loopback)")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--max-skew", type=int, default=900, help="allowed X-Amz-Date skew, seconds (900)")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="close idle connections after (60 s)")
    p.add_argument("--max-body", type=int, default=64 << 20, help="largest request body accepted (64 MiB)")
    p.add_argument("--forward-path", help="forward every verified request to this path instead of its own")
    p.add_argument("--require-service", help="reject signatures scoped to any other signing name (as AWS does)")
    args = p.parse_args(argv)

    ctx = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            p.error("--tls-cert and --tls-key go together")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    forward = None
    if args.forward_to:
        forward = urllib.parse.urlsplit(args.forward_to)
        if forward.scheme not in ("http", "https") or not forward.hostname:
            p.error("--forward-to wants http://HOST:PORT[/base]")
        if not is_loopback_host(forward.hostname):
            p.error("--forward-to must be a loopback address")

    Handler.timeout = args.idle_timeout
    server = VerifierServer(args.listen, parse_credentials(args.credentials), ctx, forward, args.max_skew,
                            args.max_body)
    server.require_service = args.require_service
    server.forward_path = args.forward_path
    port = server.server_address[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    server.log(f"listening on {args.listen[0]}:{port} ({'https' if ctx else 'http'}), "
               f"{len(server.credentials)} credential(s)" + (f", forwarding to {args.forward_to}" if forward else ""))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
