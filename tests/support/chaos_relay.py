#!/usr/bin/python3
"""A chaos TCP relay for loopback tests: sits between the sidecar and its upstream and breaks connections.

  relay = chaos_relay.Relay(("127.0.0.1", upstream_port), policy)   # in-process, threads
  relay.port                                                         # where the sidecar connects
  relay.policy = chaos_relay.random_policy(seed=1, fault_share=0.5)  # may be swapped at any time
  relay.counts                                                       # {fault name: connections}
  relay.close_all()                                                  # end the connections open now
  relay.stop()

Each accepted connection gets one plan from `policy()`: (name, k) with name one of

  pass            relay both ways until either side closes
  reset_up        after k bytes sidecar -> upstream, reset both sides (SO_LINGER 0)
  reset_down      after k bytes upstream -> sidecar, reset both sides
  stall_up        after k bytes sidecar -> upstream, forward nothing more that way (keep reading, discard)
  stall_down      after k bytes upstream -> sidecar, forward nothing more that way
  truncate_down   after k bytes upstream -> sidecar, close both sides cleanly (FIN): a cut response
  truncate_head   truncate_down with k the length of the first response head (up to its blank line): the
                  status and headers arrive, not one body byte (k unused; not among the random faults)

k counts bytes over the connection's life (the sidecar pools connections, so a fault may land in a later
exchange than the first). Stalled connections are held until the sidecar closes its side or the relay stops.

The relay also reads what the sidecar sends (Content-Length framing): relay.heads counts the request heads it saw
whole, relay.unsigned lists the first line of each without an `Authorization: AWS4-HMAC-SHA256` header — an
independent check that nothing goes out unsigned, which the upstream cannot make for a request the relay cut.
"""
import random
import socket
import struct
import threading

FAULTS = ("reset_up", "reset_down", "stall_up", "stall_down", "truncate_down")


def random_policy(seed, fault_share=0.5, max_k=70000, faults=FAULTS):
    rng = random.Random(seed)
    lock = threading.Lock()

    def policy():
        with lock:
            if rng.random() >= fault_share:
                return ("pass", 0)
            return (rng.choice(faults), rng.randrange(0, max_k))
    return policy


def passing():
    return ("pass", 0)


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _RequestScanner:
    """Splits the sidecar -> upstream byte stream into request heads and Content-Length bodies."""

    def __init__(self, relay):
        self.relay = relay
        self.buf = b""
        self.body_left = 0

    def feed(self, data):
        self.buf += data
        while self.buf:
            if self.body_left:
                n = min(self.body_left, len(self.buf))
                self.buf = self.buf[n:]
                self.body_left -= n
                continue
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            lines = head.split("\r\n")
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields.setdefault(name.strip().lower(), value.strip())
            self.body_left = int(fields.get("content-length", "0") or 0)
            self.relay.saw_head(lines[0], fields.get("authorization", "").startswith("AWS4-HMAC-SHA256 "))


class _Conn:
    def __init__(self, relay, down, plan):
        self.relay = relay
        self.down = down          # the sidecar's side
        self.up = None            # the upstream's side
        self.name, self.k = plan
        if self.name == "truncate_head":
            self.k = None  # truncate_down at the response head's length, once the head has been seen
        self.lock = threading.Lock()
        self.done = False
        self.sent = {"up": 0, "down": 0}

    def start(self):
        try:
            self.up = socket.create_connection(self.relay.target, timeout=5)
            self.up.settimeout(None)
        except OSError:
            _reset(self.down)
            return
        threading.Thread(target=self.pump, args=(self.down, self.up, "up"), daemon=True).start()
        threading.Thread(target=self.pump, args=(self.up, self.down, "down"), daemon=True).start()

    def finish(self, how):
        with self.lock:
            if self.done:
                return
            self.done = True
        for s in (self.down, self.up):
            if how == "reset":
                _reset(s)
            else:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def pump(self, src, dst, way):
        fault_here = self.name.endswith("_" + way) or (self.name == "truncate_head" and way == "down")
        head_seen = b""
        stalled = False
        scanner = _RequestScanner(self.relay) if way == "up" else None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if scanner is not None:
                    scanner.feed(data)
                if stalled:
                    continue
                if fault_here and self.k is None:  # truncate_head: where does the head end?
                    head_seen += data
                    end = head_seen.find(b"\r\n\r\n")
                    if end >= 0:
                        self.k = end + 4
                if fault_here and self.k is not None and self.sent[way] + len(data) > self.k:
                    head = data[: max(0, self.k - self.sent[way])]
                    if head:
                        dst.sendall(head)
                        self.sent[way] += len(head)
                    if self.name.startswith("reset"):
                        self.finish("reset")
                        return
                    if self.name.startswith("truncate"):
                        self.finish("close")
                        return
                    stalled = True  # stall: keep reading (to see the close), forward nothing
                    continue
                dst.sendall(data)
                self.sent[way] += len(data)
            # EOF from src: pass the half-close on
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if way == "up":  # the sidecar closed: close everything
                self.finish("close")
        except OSError:
            self.finish("reset")


class Relay:
    def __init__(self, target, policy=passing, host="127.0.0.1"):
        self.target = target
        self.policy = policy
        self.counts = {}
        self.heads = 0
        self.unsigned = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(1024)
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        self._conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stopped:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return
            plan = self.policy()
            with self._lock:
                self.counts[plan[0]] = self.counts.get(plan[0], 0) + 1
                c = _Conn(self, down, plan)
                self._conns.append(c)
            c.start()

    def saw_head(self, first_line, signed):
        with self._lock:
            self.heads += 1
            if not signed:
                self.unsigned.append(first_line)

    def close_all(self):
        """Closes every connection open now (FIN both ways): plans given under an old policy end with them."""
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            c.finish("close")

    def stop(self):
        self._stopped = True
        try:
            self._listener.close()
        except OSError:
            pass
        self.close_all()
