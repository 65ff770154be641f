"""Loopback parts for remote-write delivery tests (Debian's /usr/bin/python3: stdlib + python3-snappy).

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import remote_write_front as rw

CounterTarget(metric)   a scrape target whose counter rises by exactly one per GET: scrape k reads k. It logs
                        each GET's wall time, so a sample's timestamp tells which scrape it came from.
FaultListener(forward)  a remote-write endpoint in front of the verifier: passes POSTs through byte for byte
                        (signature included), answers a fixed status for all of them, or refuses connections
                        (listener closed, open connections shut down; reopened on the same port). Its subclass
                        records what it needs of each request.
FaultFront(forward)     a FaultListener that decodes every request and records, per attempt, its answer and
                        samples, so a test can tell which samples were delivered, how often, and how late.
connect_probe(port)     what a new connection to a (refusing) front's port meets.
decode_write_request()  a minimal protobuf reader for prometheus.WriteRequest (no generated code).
"""
import http.client
import http.server
import math
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's python3-snappy
import snappy  # noqa: E402

LOOPBACK = "127.0.0.1"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


# --- protobuf (the few messages of remote.proto a write request uses) ------------------------------------------

class DecodeError(ValueError):
    pass


def _varint(buf, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """Yields (field number, wire type, value) of one message: an int for varints, bytes otherwise."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt == 1:
            if pos + 8 > end:
                raise DecodeError("truncated fixed64")
            v, pos = buf[pos:pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise DecodeError("truncated length-delimited field")
            v, pos = buf[pos:pos + n], pos + n
        elif wt == 5:
            if pos + 4 > end:
                raise DecodeError("truncated fixed32")
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise DecodeError(f"wire type {wt}")
        yield num, wt, v


def _label(buf):
    name = value = ""
    for num, wt, v in fields(buf):
        if wt != 2 or num not in (1, 2):
            raise DecodeError("bad Label")
        if num == 1:
            name = v.decode("utf-8")
        else:
            value = v.decode("utf-8")
    return name, value


def _sample(buf):
    value, ts = 0.0, 0
    for num, wt, v in fields(buf):
        if num == 1 and wt == 1:
            value = struct.unpack("<d", v)[0]
        elif num == 2 and wt == 0:
            ts = v - (1 << 64) if v >= 1 << 63 else v
        else:
            raise DecodeError("bad Sample")
    return ts, value


def decode_timeseries(buf):
    """prometheus.TimeSeries -> (labels as a sorted tuple of (name, value), [(timestamp ms, value), ...])."""
    labels, samples = [], []
    for num, wt, v in fields(buf):
        if wt != 2:
            raise DecodeError("bad TimeSeries")
        if num == 1:
            labels.append(_label(v))
        elif num == 2:
            samples.append(_sample(v))
        elif num not in (3, 4):  # exemplars, histograms: not looked at
            raise DecodeError(f"TimeSeries field {num}")
    return tuple(sorted(labels)), samples


def decode_write_request(raw):
    """An uncompressed prometheus.WriteRequest -> [(labels, [(ts, value), ...]), ...]. Raises DecodeError."""
    out = []
    for num, wt, v in fields(raw):
        if wt != 2:
            raise DecodeError("bad WriteRequest")
        if num == 1:
            out.append(decode_timeseries(v))
        elif num != 3:  # metadata
            raise DecodeError(f"WriteRequest field {num}")
    return out


def label_value(labels, name):
    for n, v in labels:
        if n == name:
            return v
    return None


def flat_samples(series):
    """[(labels, [(ts, v)])] -> [(labels, ts, v)]."""
    return [(ls, ts, v) for ls, samples in series for ts, v in samples]


# --- the scrape target -----------------------------------------------------------------------------------------

class CounterTarget:
    """Serves `# TYPE <metric> counter` / `<metric> N`, N being the number of GETs so far.

    gets: [(wall time in ms at the GET, N)]. on_get(n), if set, runs before the response is written (so before
    the scraper can have appended the sample)."""

    def __init__(self, metric="spool_seq_total"):
        self.metric = metric
        self.lock = threading.Lock()
        self.gets = []
        self.on_get = None
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                with target.lock:
                    n = len(target.gets) + 1
                    target.gets.append((time.time() * 1000.0, n))
                    hook = target.on_get
                if hook is not None:
                    hook(n)
                body = f"# TYPE {target.metric} counter\n{target.metric} {n}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.gets)

    def value_at(self, ts_ms, tolerance_ms=400):
        """The counter value of the GET nearest to ts_ms (a scrape's timestamp is taken at its start), or None
        when no GET lies within tolerance_ms."""
        with self.lock:
            gets = list(self.gets)
        best = min(gets, key=lambda g: abs(g[0] - ts_ms), default=None)
        if best is None or abs(best[0] - ts_ms) > tolerance_ms:
            return None
        return best[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- the fault front -------------------------------------------------------------------------------------------

class Attempt:
    __slots__ = ("t", "wall_ms", "status", "samples", "error", "signed")

    def __init__(self, t, wall_ms, status, samples, error, signed):
        self.t, self.wall_ms, self.status, self.samples, self.error, self.signed = \
            t, wall_ms, status, samples, error, signed

    @property
    def ok(self):
        return 200 <= self.status < 300


class FaultListener:
    """A remote-write endpoint on 127.0.0.1 that forwards every POST to forward_port or misbehaves; what it
    records of each request is its subclass's record().

    set_pass(), set_status(code, body, headers) and refuse() / reopen() switch modes: pass forwards byte for byte
    (Host and signature included) to forward_path, else the request's own path; a status answers every POST
    with it (a body starting with "{" as JSON, no body for 204/304). refuse() closes the listener and shuts
    down every open connection; reopen() binds the same port again."""

    def __init__(self, forward_port, name, forward_path=None):
        self.name = name
        self.forward_port, self.forward_path = forward_port, forward_path
        self.lock = threading.Lock()
        self.mode = ("pass",)
        self.conns = set()
        self.server = None
        self.port = 0
        self.refusing = False
        self.open()

    def _handler(self):
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with front.lock:
                    front.conns.add(self.connection)

            def finish(self):
                with front.lock:
                    front.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):  # noqa: N802
                front.handle(self)

            def log_message(self, *a):
                pass

        return Handler

    def open(self):
        self.server = http.server.ThreadingHTTPServer((LOOPBACK, self.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.refusing = False
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def refuse(self):
        """Closes the listener and shuts down every open connection: new connects get ECONNREFUSED."""
        self.refusing = True
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reopen(self):
        self.open()

    def set_pass(self):
        with self.lock:
            self.mode = ("pass",)

    def set_status(self, code, body="unavailable\n", headers=()):
        with self.lock:
            self.mode = ("status", code, body, tuple(headers))

    def record(self, h, body, arrived, wall_ms, status):
        """Called for every POST once its answer is known, before it is sent (so a sender that saw the answer
        finds it recorded)."""
        raise NotImplementedError

    def handle(self, h):
        arrived, wall_ms = time.monotonic(), time.time() * 1000.0
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            mode = self.mode
        if mode[0] == "pass":
            status, rbody, rtype = self.forward(h, body)
            extra = ()
        else:
            _, status, text, extra = mode
            rtype = "application/json" if text.startswith("{") else "text/plain"
            rbody = text.encode()
        self.record(h, body, arrived, wall_ms, status)
        h.send_response(status)
        for name, value in extra:
            h.send_header(name, value)
        if status not in (204, 304):  # no body, and no Content-Length either (RFC 9110)
            h.send_header("Content-Type", rtype)
            h.send_header("Content-Length", str(len(rbody)))
        h.end_headers()
        if status not in (204, 304):
            h.wfile.write(rbody)

    def forward(self, h, body):
        conn = http.client.HTTPConnection(LOOPBACK, self.forward_port, timeout=10)
        try:
            conn.putrequest("POST", self.forward_path or h.path, skip_host=True, skip_accept_encoding=True)
            for name, value in h.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            conn.endheaders(body)
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("Content-Type", "text/plain")
        except OSError as e:
            return 502, f"{self.name}: verifier unreachable: {e}\n".encode(), "text/plain"
        finally:
            conn.close()


def connect_probe(port):
    """What a new connection to 127.0.0.1:port meets: "connected", "refused", or the error's text."""
    try:
        socket.create_connection((LOOPBACK, port), timeout=2).close()
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return str(e)


class FaultFront(FaultListener):
    """A FaultListener that decodes every request with decode_write_request().

    attempts(): every POST as an Attempt(t monotonic, wall_ms, status, samples [(labels, ts, v)], error, signed).
    forward_path: the path to forward to instead of the request's own (straight to a receiver's /api/v1/write)."""

    def __init__(self, forward_port, name="front", forward_path=None):
        self._attempts = []
        super().__init__(forward_port, name, forward_path)

    def record(self, h, body, arrived, wall_ms, status):
        signed = h.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")
        try:
            samples, error = flat_samples(decode_write_request(snappy.uncompress(body))), None
        except Exception as e:  # noqa: BLE001 - recorded; the test's decoding check fails on it
            samples, error = [], f"undecodable: {e}"
        with self.lock:
            self._attempts.append(Attempt(arrived, wall_ms, status, samples, error, signed))

    def attempts(self):
        with self.lock:
            return list(self._attempts)

    def delivered(self, metric=None):
        """Samples of 2xx-answered requests, re-sends included: [(labels, ts, v)] (only `metric`'s if given)."""
        return [s for a in self.attempts() if a.ok for s in a.samples
                if metric is None or label_value(s[0], "__name__") == metric]

    def delivered_values(self, metric):
        """The set of int values of `metric` the receiver was handed (2xx); stale markers (NaN) left out."""
        return {int(v) for _, _, v in self.delivered(metric) if not math.isnan(v)}

    def newest_delivered_ms(self, metric):
        return max((ts for _, ts, _ in self.delivered(metric)), default=None)

    def duplicates(self, metric=None):
        """(samples delivered more than once: count of the extra copies, total delivered)."""
        got = self.delivered(metric)
        return len(got) - len({(ls, ts) for ls, ts, _ in got}), len(got)

    def order_violations(self, metric=None):
        """First deliveries of a sample older than its series' newest already delivered: [(labels, ts, newest)].
        A re-send of a sample delivered before is a duplicate, not a violation."""
        seen, newest, out = set(), {}, []
        for ls, ts, _ in self.delivered(metric):
            if (ls, ts) in seen:
                continue
            seen.add((ls, ts))
            if ls in newest and ts < newest[ls]:
                out.append((ls, ts, newest[ls]))
            newest[ls] = max(ts, newest.get(ls, ts))
        return out

    def errors(self):
        return [a.error for a in self.attempts() if a.error]
