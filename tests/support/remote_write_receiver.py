#!/usr/bin/python3
"""A remote-write 1.0 receiver for tests: decodes every request with the real libraries (python3-snappy, and
python3-protobuf over Python classes that protoc generates from scraper/remote.proto at start) and records,
per writer, every series with all its samples in arrival order.

    POST /receive/<name>   snappy-compressed WriteRequest; 204, or 400 with the decode error
    GET  /dump/<name>      {"requests": N, "metadata": M, "errors": [...],
                            "series": [{"labels": {...}, "samples": [[ts_ms, "repr(value)", "bits hex"], ...]}]}

In a test:  rx = Receiver(tmp_dir).start(); ... rx.port ...; rx.dump("prom") (same JSON, as Python objects).
Standalone: remote_write_receiver.py --listen 127.0.0.1:0 --port-file F --tmp DIR.
Values travel as repr() strings plus their IEEE-754 bits, so NaNs (stale markers: 0x7ff0000000000002) keep
their payload through JSON.
"""
import argparse
import http.server
import importlib
import json
import os
import struct
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's snappy and protobuf
import snappy  # noqa: E402

PROTO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scraper",
                                      "remote.proto"))
STALE_BITS = 0x7FF0000000000002


def value_bits(v):
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def load_remote_pb2(tmp_dir):
    """protoc --python_out for scraper/remote.proto into tmp_dir; returns the imported module."""
    out = os.path.join(tmp_dir, "remote_pb2_gen")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", f"--proto_path={os.path.dirname(PROTO)}", f"--python_out={out}", PROTO],
                   check=True)
    sys.path.insert(0, out)
    try:
        return importlib.import_module("remote_pb2")
    finally:
        sys.path.remove(out)


class QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose clients may hang up at any time (agents stopping): no tracebacks then."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.writers = {}

    def writer(self, name):
        return self.writers.setdefault(name, {"requests": 0, "metadata": 0, "errors": [], "series": {}})


class Receiver:
    """The receiver in a thread of the calling process. start() -> self; port; dump(name); stop()."""

    def __init__(self, tmp_dir, host="127.0.0.1", port=0):
        self.pb2 = load_remote_pb2(tmp_dir)
        self.store = _Store()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, code, body=b"", ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                path = urllib.parse.urlsplit(self.path).path
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not path.startswith("/receive/"):
                    return self._answer(404, b"no such path\n")
                err = receiver.record(path[len("/receive/"):], body, self.headers)
                if err:
                    return self._answer(400, err.encode() + b"\n")
                self._answer(204)

            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                if not path.startswith("/dump/"):
                    return self._answer(404, b"no such path\n")
                body = json.dumps(receiver.dump(path[len("/dump/"):])).encode()
                self._answer(200, body, "application/json")

        self.server = QuietServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = None

    def record(self, name, body, headers):
        """Decodes one request into writer `name`; returns an error text or ''."""
        with self.store.lock:
            w = self.store.writer(name)
            w["requests"] += 1
            try:
                if headers.get("Content-Encoding", "") != "snappy":
                    raise ValueError(f"Content-Encoding {headers.get('Content-Encoding')!r}, not snappy")
                if not headers.get("Content-Type", "").startswith("application/x-protobuf"):
                    raise ValueError(f"Content-Type {headers.get('Content-Type')!r}")
                req = self.pb2.WriteRequest()
                req.ParseFromString(snappy.uncompress(body))
            except Exception as e:  # noqa: BLE001 - any decode failure is the writer's error, recorded
                w["errors"].append(f"{type(e).__name__}: {e}")
                return str(e)
            w["metadata"] += len(req.metadata)
            for ts in req.timeseries:
                names = [lb.name for lb in ts.labels]
                if names != sorted(names) or len(set(names)) != len(names):
                    w["errors"].append(f"labels not sorted/unique: {names}")
                key = tuple((lb.name, lb.value) for lb in ts.labels)
                samples = w["series"].setdefault(key, [])
                for s in ts.samples:
                    samples.append((s.timestamp, s.value))
            return ""

    def dump(self, name):
        with self.store.lock:
            w = self.store.writer(name)
            return {"requests": w["requests"], "metadata": w["metadata"], "errors": list(w["errors"]),
                    "series": [{"labels": dict(k), "samples": [[t, repr(v), f"{value_bits(v):016x}"]
                                                               for t, v in samples]}
                               for k, samples in w["series"].items()]}

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    rx = Receiver(a.tmp, host, int(port))
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write(f"{rx.port}\n")
    rx.server.serve_forever()


if __name__ == "__main__":
    main()
