"""Shared helpers for the loopback integration tests (Debian's /usr/bin/python3, stdlib + botocore only).

Import from a test under tests/integration/:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import testlib as t

Processes:  work_dir(), free_port(), wait_port(), wait_file(),
            start_process() -> Process (killed at exit, context manager),
            start_verifier(credentials, tls=None, forward_to=None) -> (Process, port), make_certs(dir) -> Certs,
            client_ssl_context(ca_pem).
Requests:   botocore_sign(...) -> SignedRequest (headers to send, canonical request, raw bytes),
            http_request(...) -> Response via http.client, raw_request(host, port, bytes) -> bytes,
            parse_response(bytes) / parse_responses(bytes) -> Response, verifier_stats(), reset_verifier_stats().
Results:    check(cond, message), check_eq(actual, expected, message), section(title), summary() — prints
            'N passed, M failed' as the last line and exits 1 on any failure.
Everything listens and connects on loopback only.
"""
import atexit
import collections
import datetime
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's botocore, not a pip one
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest, HTTPHeaders  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

SUPPORT_DIR = os.path.dirname(os.path.abspath(__file__))
VERIFIER = os.path.join(SUPPORT_DIR, "verifier.py")
MAKE_CERTS = os.path.join(SUPPORT_DIR, "make_test_certs.sh")
PYTHON = "/usr/bin/python3"
LOOPBACK = "127.0.0.1"

# ---------------------------------------------------------------------------------------------------------
# results


class _Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []


_results = _Results()


def check(cond, message, detail=None):
    """Records one check; prints FAIL (with detail) on failure, ok otherwise. Returns bool(cond)."""
    if cond:
        _results.passed += 1
        print(f"  ok    {message}", flush=True)
    else:
        _results.failed += 1
        _results.failures.append(message)
        print(f"  FAIL  {message}" + (f"\n        {detail}" if detail is not None else ""), flush=True)
    return bool(cond)


def check_eq(actual, expected, message):
    """check(actual == expected), showing both on failure."""
    return check(actual == expected, message, f"expected {expected!r}, got {actual!r}")


def check_raises(exc_types, fn, message):
    """check that fn() raises one of exc_types; returns the exception (or None)."""
    try:
        fn()
    except exc_types as e:
        check(True, f"{message} ({type(e).__name__})")
        return e
    except Exception as e:  # noqa: BLE001 - a different failure is reported, not raised
        check(False, message, f"raised {type(e).__name__}: {e}")
        return e
    check(False, message, "no exception")
    return None


def section(title):
    """Prints a section header."""
    print(f"== {title}", flush=True)


def failed_count():
    return _results.failed


def summary(exit=True):
    """Prints the failures and, as the last line, 'N passed, M failed'; exits 1 if any failed (when exit)."""
    if _results.failures:
        print("failures:")
        for f in _results.failures:
            print(f"  - {f}")
    if _results.failed and _work_dir is not None:
        print(f"logs kept in {_work_dir}")
    print(f"{_results.passed} passed, {_results.failed} failed", flush=True)
    code = 1 if _results.failed else 0
    if exit:
        sys.exit(code)
    return code


# A ThreadSanitizer build (the tsan preset) reports to the log of each child it starts and exits 66 at the end
# (halt_on_error=0: every race, not only the first); the preset sets the same options for the unit tests.
os.environ.setdefault("TSAN_OPTIONS", "halt_on_error=0 second_deadlock_stack=1 print_suppressions=1 "
                      f"suppressions={os.path.join(SUPPORT_DIR, 'tsan.supp')}")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def check_sanitizer_reports():
    """Stops every child still running and fails the run for each sanitizer report in any child's log: an
    ASan/UBSan build of the proxy may report at shutdown, after every request succeeded."""
    stop_all(timeout=5)
    for p in _all_processes:
        try:
            text = p.log_text()
        except OSError:
            continue
        hits = [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]
        check(not hits, f"no sanitizer report in the log of {p.name} (pid {p.pid})", hits[:5])


def run_main(main):
    """Runs main(); an uncaught exception counts as a failure; then every child's log is checked for sanitizer
    reports; then summary() (exits)."""
    try:
        main()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        check(False, "test raised an unexpected exception")
    check_sanitizer_reports()
    summary()


# ---------------------------------------------------------------------------------------------------------
# processes and ports


def free_port(host=LOOPBACK):
    """A currently free TCP port on host (racy by nature; prefer --port-file style 0-port binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=10.0):
    """Waits until a TCP connect to host:port succeeds; raises TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def wait_file(path, timeout=10.0, process=None):
    """Waits for a non-empty file ending in a newline and returns its text; raises TimeoutError, or
    RuntimeError if `process` (a Process) exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text
        except FileNotFoundError:
            pass
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode} before writing {path}:\n"
                               f"{process.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not written after {timeout}s")
        time.sleep(0.05)


_live_processes = []
_all_processes = []  # every child ever started, for the sanitizer check
_live_lock = threading.Lock()


class Process:
    """A child process started by start_process(); stopped at interpreter exit if still running.

    Attributes: popen (subprocess.Popen), pid, args, name, log_path (stdout+stderr go there).
    """

    def __init__(self, args, env=None, log_path=None, cwd=None, name=None):
        self.args = [str(a) for a in args]
        self.name = name or os.path.basename(self.args[0])
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log", dir=work_dir())
            os.close(fd)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                      env=env, cwd=cwd)
        self.pid = self.popen.pid
        with _live_lock:
            _live_processes.append(self)
            _all_processes.append(self)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """Sends sig (SIGTERM), waits up to timeout, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        self._log.close()
        with _live_lock:
            if self in _live_processes:
                _live_processes.remove(self)
        return self.popen.returncode

    def log_text(self):
        """Everything the process wrote so far (stdout and stderr), decoded leniently."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=30):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return f"<Process {self.name} pid={self.pid}>"


def start_process(args, env=None, log_path=None, cwd=None, name=None):
    """Starts args (list) with stdout+stderr to log_path (default: a file in work_dir()); returns a Process that is
    always stopped at exit (atexit) and can be used as a context manager. env=None inherits ours."""
    return Process(args, env=env, log_path=log_path, cwd=cwd, name=name)


_work_dir = None


def work_dir():
    """This run's scratch directory (logs, port files, certificates). Removed at exit when no check failed;
    kept, and its path printed, otherwise."""
    global _work_dir
    if _work_dir is None:
        _work_dir = tempfile.mkdtemp(prefix="sigv4-it-")
    return _work_dir


def stop_all(timeout):
    """Stops every child still running (SIGTERM, then SIGKILL after timeout)."""
    with _live_lock:
        procs = list(_live_processes)
    for p in procs:
        try:
            p.stop(timeout=timeout)
        except Exception:  # noqa: BLE001
            pass


@atexit.register
def _at_exit():
    stop_all(timeout=2)
    if _work_dir is not None and not _results.failed:
        shutil.rmtree(_work_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# certificates and the verifier

Certs = collections.namedtuple("Certs", "dir ca ca_key server server_key wrong wrong_key")


def make_certs(directory):
    """Runs make_test_certs.sh into directory; returns Certs(dir, ca, ca_key, server, server_key, wrong,
    wrong_key) — paths. server is for localhost/127.0.0.1/::1, wrong for wrong.example only."""
    subprocess.run(["bash", MAKE_CERTS, directory], check=True)
    j = lambda f: os.path.join(directory, f)  # noqa: E731
    return Certs(directory, j("ca.pem"), j("ca.key"), j("server.pem"), j("server.key"), j("wrong.pem"),
                 j("wrong.key"))


def client_ssl_context(ca_pem):
    """A client SSLContext that trusts only ca_pem (a path or a Certs) and checks hostnames."""
    ctx = ssl.create_default_context(cafile=ca_pem.ca if isinstance(ca_pem, Certs) else ca_pem)
    return ctx


def _credential_arg(c):
    if isinstance(c, str):
        return c
    return ":".join(x for x in c if x)


def start_verifier(credentials, tls=None, forward_to=None, extra_args=(), log_path=None, host=LOOPBACK,
                   timeout=15.0):
    """Starts verifier.py on host:0 and waits until it listens. Returns (Process, port).

    credentials: list of "AKID:SECRET[:TOKEN]" strings or (akid, secret[, token]) tuples.
    tls: None, a Certs (uses server.pem/server.key) or a (cert, key) pair. forward_to: base URL or None.
    """
    port_file = tempfile.mktemp(prefix="verifier-", suffix=".port", dir=work_dir())
    args = [PYTHON, VERIFIER, "--listen", f"[{host}]:0" if ":" in host else f"{host}:0", "--port-file", port_file]
    for c in credentials:
        args += ["--credentials", _credential_arg(c)]
    if tls is not None:
        cert, key = (tls.server, tls.server_key) if isinstance(tls, Certs) else tls
        args += ["--tls-cert", cert, "--tls-key", key]
    if forward_to:
        args += ["--forward-to", forward_to]
    args += list(extra_args)
    proc = start_process(args, log_path=log_path, name="verifier")
    port = int(wait_file(port_file, timeout, proc).strip())
    return proc, port


def verifier_stats(port, host=LOOPBACK, ssl_context=None, server_hostname=None):
    """GET /_verifier/stats -> dict(verified, rejected, requests, last_rejection, rejections_by_reason)."""
    r = http_request(host, port, "GET", "/_verifier/stats", ssl_context=ssl_context, server_hostname=server_hostname)
    return json.loads(r.body)


def reset_verifier_stats(port, host=LOOPBACK, ssl_context=None, server_hostname=None):
    """POST /_verifier/reset_stats."""
    http_request(host, port, "POST", "/_verifier/reset_stats", ssl_context=ssl_context,
                 server_hostname=server_hostname)


# ---------------------------------------------------------------------------------------------------------
# signing with botocore

SignedRequest = collections.namedtuple("SignedRequest",
                                       "method url target headers body canonical_request authorization amz_date")


def _raw_bytes(self, extra_headers=(), close=True):
    """The signed request as raw HTTP/1.1 bytes (Content-Length added for a body; Connection: close)."""
    lines = [f"{self.method} {self.target} HTTP/1.1"]
    names = {n.lower() for n, _ in self.headers}
    for n, v in list(self.headers) + list(extra_headers):
        lines.append(f"{n}: {v}")
    if self.body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(self.body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


SignedRequest.raw_bytes = _raw_bytes


class _FixedClock(datetime.datetime):
    fixed = None

    @classmethod
    def utcnow(cls):
        return cls.fixed


_sign_lock = threading.Lock()


def botocore_sign(method, url, headers=(), body=b"", access_key="AKIDEXAMPLE",
                  secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token=None, region="us-east-1",
                  service="execute-api", when=None, unsigned_payload=False):
    """Signs a request with botocore's SigV4Auth (url mode: path and query signed as written in url).

    headers: [(name, value), ...] (repeats allowed). when: a naive UTC datetime (default: now).
    unsigned_payload: sign UNSIGNED-PAYLOAD (sends X-Amz-Content-SHA256); botocore only honours it for
    https URLs, so sign an https:// URL (it may still be sent over plain HTTP: Host stays host:port).
    Returns SignedRequest(method, url, target, headers (Host first, then yours, then botocore's), body,
    canonical_request, authorization, amz_date); .raw_bytes() renders it.
    """
    if isinstance(body, str):
        body = body.encode()
    when = (when or datetime.datetime.utcnow()).replace(microsecond=0)
    request = AWSRequest(method=method, url=url, data=body)
    request.headers = HTTPHeaders()
    for name, value in headers:
        request.headers[name] = value
    if unsigned_payload:
        request.context["payload_signing_enabled"] = False
    auth = botocore.auth.SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    captured = []
    real_canonical = auth.canonical_request

    def capture(req):  # the canonical request add_auth signs (computing it afterwards would add Authorization)
        captured.append(real_canonical(req))
        return captured[-1]
    auth.canonical_request = capture
    with _sign_lock:
        _FixedClock.fixed = when
        real = botocore.auth.datetime.datetime
        botocore.auth.datetime.datetime = _FixedClock
        try:
            auth.add_auth(request)
            canonical = captured[0]
        finally:
            botocore.auth.datetime.datetime = real
    after_scheme = url.index("//") + 2
    starts = [i for i in (url.find("/", after_scheme), url.find("?", after_scheme)) if i >= 0]
    target = url[min(starts):] if starts else "/"
    if target.startswith("?"):
        target = "/" + target
    out = []
    if "host" not in {n.lower() for n in request.headers.keys()}:
        out.append(("Host", botocore.auth._host_from_url(url)))
    out += list(request.headers.items())
    return SignedRequest(method, url, target, out, body, canonical, request.headers["Authorization"],
                         request.headers["X-Amz-Date"])


def replace_header(headers, name, value):
    """A copy of headers with every `name` (case-insensitive) replaced by one (name, value); value None
    removes it."""
    out = [(n, v) for n, v in headers if n.lower() != name.lower()]
    if value is not None:
        out.append((name, value))
    return out


# ---------------------------------------------------------------------------------------------------------
# HTTP


class Response:
    """A parsed HTTP response: version, status, reason, headers [(name, value)], body (bytes),
    complete (framing satisfied), interim ([1xx Response]), raw_length (bytes consumed)."""

    def __init__(self, version, status, reason, headers, body, complete=True, raw_length=0):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body, self.complete, self.raw_length = headers, body, complete, raw_length
        self.interim = []

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive), or default."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} {len(self.body)} bytes{'' if self.complete else ' INCOMPLETE'}>"


def _parse_one(data, head=False):
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n"), 2
    if end < 0:
        raise ValueError(f"no end of headers in {len(data)} bytes: {data[:200]!r}")
    lines = data[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"bad status line {lines[0]!r}")
    version, status, reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    rest = data[end + sep:]
    resp = Response(version, status, reason, headers, b"")
    if head or status < 200 or status in (204, 304):
        resp.raw_length = end + sep
        return resp
    te = resp.header("Transfer-Encoding", "").lower()
    cl = resp.header("Content-Length")
    if "chunked" in te:
        body, pos = bytearray(), 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                resp.complete = False
                break
            size = int(rest[pos:eol].split(b";")[0].strip() or b"0", 16)
            if size == 0:  # then trailers, if any, up to an empty line
                tend = rest.find(b"\r\n\r\n", eol)
                resp.complete = tend >= 0
                pos = tend + 4 if tend >= 0 else len(rest)
                break
            chunk = rest[eol + 2:eol + 2 + size]
            body += chunk
            if len(chunk) < size or rest[eol + 2 + size:eol + 4 + size] != b"\r\n":
                resp.complete = False
                pos = len(rest)
                break
            pos = eol + 4 + size
        resp.body = bytes(body)
        resp.raw_length = end + sep + pos
    elif cl is not None:
        n = int(cl)
        resp.body = rest[:n]
        resp.complete = len(resp.body) == n
        resp.raw_length = end + sep + len(resp.body)
    else:  # delimited by close
        resp.body = rest
        resp.raw_length = len(data)
    return resp


def parse_response(data, head=False):
    """Parses the first final response in raw bytes (1xx responses go to .interim). head=True: no body.
    Raises ValueError when there is no complete header block."""
    interim = []
    while True:
        resp = _parse_one(data, head)
        if 100 <= resp.status < 200 and resp.status != 101:
            interim.append(resp)
            data = data[resp.raw_length:]
            continue
        resp.interim = interim
        return resp


def parse_responses(data, head=False):
    """Parses every response in raw bytes (pipelining). Returns (list of Response, unparsed trailing bytes)."""
    out = []
    while data:
        try:
            resp = _parse_one(data, head)
        except ValueError:
            break
        out.append(resp)
        data = data[resp.raw_length:]
        if not resp.complete:
            break
    return out, data


def raw_request(host, port, data, timeout=5.0, ssl_context=None, server_hostname=None, shutdown_write=False):
    """Sends raw bytes to host:port (TLS if ssl_context) and returns all bytes received until the peer closes
    or `timeout` seconds pass without data. shutdown_write: half-close after sending. A connection reset
    after some bytes returns what arrived; one before any byte raises."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
        sock.sendall(data)
        if shutdown_write and ssl_context is None:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                if chunks:
                    break
                raise
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def http_request(host, port, method, target, headers=(), body=b"", timeout=10.0, ssl_context=None,
                 server_hostname=None):
    """One request with http.client, headers sent exactly as given (repeats kept; no Host, Accept-Encoding or
    User-Agent added; Content-Length added for a body unless given). Returns Response (complete=True).
    Raises OSError / http.client.HTTPException on connection trouble."""
    if ssl_context is not None:
        conn = _HTTPSConnection(host, port, timeout=timeout, context=ssl_context)
        conn.server_hostname = server_hostname
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        names = set()
        for name, value in headers:
            conn.putheader(name, value)
            names.add(name.lower())
        if isinstance(body, str):
            body = body.encode()
        if (body or method in ("POST", "PUT", "PATCH")) and not names & {"content-length", "transfer-encoding"}:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        return Response(f"HTTP/{resp.version / 10:.1f}", resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPSConnection that checks the certificate against server_hostname (default: the host connected to)."""

    server_hostname = None

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_hostname or self.host)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# the proxy (sigv4-sidecar) under test

TEST_AKID, TEST_SECRET = "AKIDSIDECARE2E0001", "sidecarE2EsecretKEY/0123456789abcdefEXAMPLE"
TOKEN_AKID, TOKEN_SECRET = "ASIASIDECARE2E0002", "sidecarE2EtokenSECRET/0123456789abcdEXAMPLE"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE2E2E//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+sidecar/token+with+plus=="


def credential_env(akid=TEST_AKID, secret=TEST_SECRET, token=None, base=None):
    """A copy of the environment (or base) with AWS_* credentials replaced: akid=None removes them all."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("AWS_") or k in ("AWS_REGION",)}
    env.pop("AWS_REGION", None)
    if akid is not None:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = akid, secret
    if token is not None:
        env["AWS_SESSION_TOKEN"] = token
    env["HOME"] = work_dir()  # no ~/.aws of whoever runs the tests
    # Never let the credential chain reach for the real IMDS (169.254.169.254) from a test; tests that
    # want IMDS point AWS_EC2_METADATA_SERVICE_ENDPOINT at the fake and drop this.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def yaml_dump(obj):
    """Config text for the proxy: JSON is YAML (flow style), so no YAML library is needed."""
    return json.dumps(obj, indent=2) + "\n"


class Proxy:
    """A running sigv4-sidecar: process (Process), port, admin_port, config_path (or None), url(target)."""

    def __init__(self, process, port, admin_port, config_path):
        self.process, self.port, self.admin_port, self.config_path = process, port, admin_port, config_path

    def request(self, method, target, headers=(), body=b"", host="sidecar.test", **kw):
        """http_request to the proxy; a Host header is added first unless headers has one."""
        if not any(n.lower() == "host" for n, _ in headers):
            headers = [("Host", host)] + list(headers)
        return http_request(LOOPBACK, self.port, method, target, headers, body, **kw)

    def raw(self, data, **kw):
        return raw_request(LOOPBACK, self.port, data, **kw)

    def admin(self, target):
        return http_request(LOOPBACK, self.admin_port, "GET", target, [("Host", "admin")])

    def metrics(self):
        """The admin /metrics as {(name, frozenset(labels.items())): value}."""
        return parse_metrics(self.admin("/metrics").body.decode())

    def write_config(self, obj_or_text):
        with open(self.config_path, "w") as f:
            f.write(obj_or_text if isinstance(obj_or_text, str) else yaml_dump(obj_or_text))

    def signal(self, sig):
        os.kill(self.process.pid, sig)

    def rss_kib(self):
        return rss_kib(self.process.pid)

    def stop(self, timeout=10.0):
        return self.process.stop(timeout)


def start_proxy(binary, config=None, args=(), env=None, name="sidecar", timeout=10.0, wait=True, proxy_listener=True):
    """Starts `binary` with a config (a dict written as YAML, or text; its `listen`/`admin_listen` are set to
    free loopback ports when absent) and/or flags. Flags --port/--admin-listen are added when there is no
    config. env: the full environment (default credential_env()). Waits until both ports accept connections.
    Returns Proxy."""
    port, admin_port = free_port(), free_port()
    argv = [binary]
    config_path = None
    if config is not None:
        if isinstance(config, dict):
            config = dict(config)
            config.setdefault("listen", f"{LOOPBACK}:{port}")
            config.setdefault("admin_listen", f"{LOOPBACK}:{admin_port}")
            port = int(config["listen"].rsplit(":", 1)[1])
            admin_port = int(config["admin_listen"].rsplit(":", 1)[1])
            config = yaml_dump(config)
        fd, config_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".yaml", dir=work_dir())
        with os.fdopen(fd, "w") as f:
            f.write(config)
        argv += ["--config", config_path]
    flags = list(args)
    if config is None or isinstance(config, str) and "listen:" not in config:
        if "--port" not in flags and "--listen" not in flags:
            flags += ["--port", f"{LOOPBACK}:{port}"]
        if "--admin-listen" not in flags:
            flags += ["--admin-listen", f"{LOOPBACK}:{admin_port}"]
    for flag in ("--port", "--listen", "--admin-listen"):
        if flag in flags:
            value = int(flags[flags.index(flag) + 1].rsplit(":", 1)[1])
            if flag == "--admin-listen":
                admin_port = value
            else:
                port = value
    argv += flags
    proc = start_process(argv, env=env if env is not None else credential_env(), name=name)
    p = Proxy(proc, port, admin_port, config_path)
    if wait:
        deadline = time.monotonic() + timeout
        # A scraper-only config (no routes) opens no proxy listener: only the admin port is waited for.
        for prt in (port, admin_port) if proxy_listener else (admin_port,):
            while True:
                if not proc.alive():
                    raise RuntimeError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
                try:
                    with socket.create_connection((LOOPBACK, prt), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not listening on {prt}:\n{proc.log_tail()}") from None
                    time.sleep(0.02)
    return p


def parse_metrics(text):
    """Prometheus text exposition -> {(name, frozenset({(label, value), ...})): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            labels_text, _, value = rest.rpartition("}")
            labels = {}
            for part in _split_labels(labels_text):
                k, _, v = part.partition("=")
                labels[k.strip()] = json.loads(v) if v.startswith('"') else v
        else:
            name, _, value = line.partition(" ")
            labels = {}
        try:
            out[(name.strip(), frozenset(labels.items()))] = float(value.strip().split()[0])
        except (ValueError, IndexError):
            pass
    return out


def _split_labels(text):
    parts, cur, quoted, escaped = [], "", False, False
    for ch in text:
        if escaped:
            cur += ch
            escaped = False
        elif ch == "\\":
            cur += ch
            escaped = True
        elif ch == '"':
            cur += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def metric_sum(metrics, name, **labels):
    """Sum of every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def cpu_seconds(pid):
    """User + system CPU time pid has used, in seconds (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """Resident set size of pid in KiB (from /proc), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def header_names(echo):
    """Lower-case header names of a verifier echo."""
    return [n.lower() for n, _ in echo["headers"]]


def echo_header(echo, name):
    """Values of header `name` in a verifier echo (list)."""
    return [v for n, v in echo["headers"] if n.lower() == name.lower()]


# --- Prometheus (Debian's package) as an agent, a receiver or a reference --------------------------------

def start_prometheus(binary, name, config_text, extra=()):
    port = free_port()
    d = os.path.join(work_dir(), name)
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(config_text.replace("@PORT@", str(port)))
    proc = start_process([binary, f"--config.file={cfg}", f"--storage.tsdb.path={d}/data",
                          f"--web.listen-address={LOOPBACK}:{port}", "--log.level=info", *extra], name=name)
    deadline = time.monotonic() + 30
    while True:
        if not proc.alive():
            raise RuntimeError(f"{name} exited:\n{proc.log_tail()}")
        try:
            r = http_request(LOOPBACK, port, "GET", "/-/ready", [("Host", f"{LOOPBACK}:{port}")], timeout=2)
            if r.status == 200:
                return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready:\n{proc.log_tail()}")
        time.sleep(0.2)


def prom_query(port, promql):
    """Instant PromQL query -> list of (labels dict, value float)."""
    r = http_request(LOOPBACK, port, "GET", "/api/v1/query?" + urllib.parse.urlencode({"query": promql}),
                     [("Host", f"{LOOPBACK}:{port}")], timeout=5)
    if r.status != 200:
        return []
    data = json.loads(r.body)
    if data.get("status") != "success":
        return []
    return [(s["metric"], float(s["value"][1])) for s in data["data"]["result"]]


def prom_poll(port, promql, want, seconds=60):
    """Polls until want(result) is true; returns (result, seconds taken) or (last result, None)."""
    start = time.monotonic()
    result = []
    while time.monotonic() - start < seconds:
        result = prom_query(port, promql)
        if want(result):
            return result, time.monotonic() - start
        time.sleep(0.5)
    return result, None
