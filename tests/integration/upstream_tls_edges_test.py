#!/usr/bin/python3
"""Upstream TLS edge cases through the proxy, against a Python TLS server that misbehaves on purpose:
timeouts (response header, handshake), close-delimited bodies with and without close_notify, cut bodies, resets,
and pooled connections that receive a late TLS 1.3 session ticket, a KeyUpdate or a close_notify while idle
(the first two must not cost the connection, the last must). Python's ssl module cannot send a late ticket or a
KeyUpdate, so libssl is called through ctypes on the socket's SSL* (CPython 3.11 object layout).

  upstream_tls_edges_test.py PATH/TO/sigv4-sidecar
"""
import ctypes
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

libssl = ctypes.CDLL("libssl.so.3")
libssl.SSL_new_session_ticket.argtypes = [ctypes.c_void_p]
libssl.SSL_do_handshake.argtypes = [ctypes.c_void_p]
libssl.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]


def ssl_ptr(tls_sock):
    # PySSLSocket: PyObject_HEAD (16 bytes), PyObject *Socket, SSL *ssl
    return ctypes.c_void_p.from_address(id(tls_sock._sslobj) + 24).value


state = {"mode": "ok", "accepted": 0, "late": None, "late_sent": 0}


def read_request(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
            while len(rest) < n:
                rest += s.recv(65536)
    return head


def serve(conn, ctx):
    mode = state["mode"]
    if mode == "nohandshake":
        time.sleep(5)
        conn.close()
        return
    try:
        s = ctx.wrap_socket(conn, server_side=True)
    except Exception as e:  # noqa: BLE001
        print("handshake failed", e)
        return
    try:
        while True:
            head = read_request(s)
            if head is None:
                return
            mode = state["mode"]
            if mode == "hang":
                time.sleep(5)
                return
            if mode == "closedelim":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello-close-delimited")
                s.unwrap()
                s.close()
                return
            if mode == "closedelim-trunc":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello-truncated")
                s.shutdown(socket.SHUT_RDWR)
                s.close()
                return
            if mode == "cut":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                s.shutdown(socket.SHUT_RDWR)
                s.close()
                return
            if mode == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
                return
            body = b"x" * 5000
            # Read before answering: the test resets state["late"] as soon as it has the answer.
            late = state["late"]
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            if late == "ticket":
                p = ssl_ptr(s)
                libssl.SSL_new_session_ticket(p)
                libssl.SSL_do_handshake(p)
                state["late_sent"] += 1
            elif late == "keyupdate":
                p = ssl_ptr(s)
                libssl.SSL_key_update(p, 1)  # SSL_KEY_UPDATE_REQUESTED
                libssl.SSL_do_handshake(p)
                state["late_sent"] += 1
            elif late == "close_notify":
                state["late_sent"] += 1
                s.unwrap()
                return
    except Exception as e:  # noqa: BLE001
        print("server:", repr(e))
    finally:
        try:
            conn.close()
        except OSError:
            pass


def server(port_holder, certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.server, certs.server_key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    port_holder.append(ls.getsockname()[1])
    while True:
        c, _ = ls.accept()
        state["accepted"] += 1
        threading.Thread(target=serve, args=(c, ctx), daemon=True).start()


def main():
    binary = os.path.abspath(sys.argv[1])
    certs = t.make_certs(os.path.join(t.work_dir(), "certs"))
    holder = []
    threading.Thread(target=server, args=(holder, certs), daemon=True).start()
    while not holder:
        time.sleep(0.01)
    port = holder[0]
    config = {"threads": 1, "timeouts": {"client_header": "5s", "client_body": "5s", "upstream_connect": "1s",
                           "upstream_response_header": "1s", "shutdown_grace": "1s"},
              "tls": {"ca_file": certs.ca},
              "routes": [{"name": "u", "match": {"path_prefix": "/u/"}, "upstream": f"https://localhost:{port}/",
                          "sigv4": {"region": "us-east-1", "service": "execute-api"}}]}
    proxy = t.start_proxy(binary, config, name="adhoc")

    def get(path="/u/x", **kw):
        return proxy.request("GET", path, **kw)

    t.section("keep-alive + reuse after >1 s idle (tickets sent after the handshake)")
    state["mode"], state["late"] = "ok", None
    a0 = state["accepted"]
    t.check_eq(get().status, 200, "first")
    t.check_eq(get().status, 200, "second (hot reuse)")
    time.sleep(1.3)
    t.check_eq(get().status, 200, "third after 1.3 s idle (peeked)")
    t.check_eq(state["accepted"] - a0, 1, "one connection for all three")

    for late in ("ticket", "keyupdate"):
        t.section(f"late {late} while idle")
        state["late"] = late
        a0, s0 = state["accepted"], state["late_sent"]
        t.check_eq(get().status, 200, "first")
        time.sleep(1.3)
        t.check_eq(state["late_sent"] - s0, 1, f"the server sent the late {late}")
        state["late"] = None
        t.check_eq(get().status, 200, "after idle with a late record")
        t.check_eq(get().status, 200, "and again")
        t.check_eq(state["accepted"] - a0, 0, f"late {late}: the pooled connection survived")

    t.section("close_notify while idle: not reused")
    state["late"] = "close_notify"
    s0 = state["late_sent"]
    t.check_eq(get().status, 200, "first")
    state["late"] = None
    time.sleep(1.3)
    t.check_eq(state["late_sent"] - s0, 1, "the server sent the close_notify")
    a0 = state["accepted"]
    t.check_eq(get().status, 200, "after close_notify")
    t.check_eq(state["accepted"] - a0, 1, "a fresh connection")

    def times_out(path, what):
        """The request gets 504 after the 1 s upstream timeout, not sooner and not much later."""
        start = time.monotonic()
        r = get(path)
        el = time.monotonic() - start
        t.check_eq(r.status, 504, f"{what} -> 504")
        t.check(0.8 < el < 2.5, f"after ~1 s ({el:.2f})")
        print("   ", r.body)

    t.section("response header timeout")
    state["mode"] = "hang"
    times_out("/u/hang", "hang")

    t.section("handshake timeout")
    state["mode"] = "nohandshake"
    time.sleep(1.1)  # so that the pooled connection is peeked and found closed
    times_out("/u/nohs", "no handshake")

    t.section("close-delimited bodies")
    state["mode"] = "closedelim"
    r = get("/u/cd")
    t.check_eq((r.status, r.body), (200, b"hello-close-delimited"), "with close_notify")
    state["mode"] = "closedelim-trunc"
    r = get("/u/cdt")
    t.check_eq((r.status, r.body), (200, b"hello-truncated"), "without close_notify")

    t.section("cut body")
    state["mode"] = "cut"
    try:
        r = get("/u/cut")
        t.check(not r.complete, "cut body: incomplete response", r)
    except Exception as e:  # noqa: BLE001
        t.check(True, f"cut body: {e!r}")

    t.section("reset before response")
    state["mode"] = "rst"
    time.sleep(1.1)
    r = get("/u/rst")
    t.check_eq(r.status, 502, "rst -> 502")
    print("   ", r.body)

    state["mode"] = "ok"
    t.check_eq(get().status, 200, "still serving")
    print(proxy.process.log_tail(12))
    proxy.stop()


if __name__ == "__main__":
    t.run_main(main)
