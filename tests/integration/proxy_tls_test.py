#!/usr/bin/python3
"""End-to-end over TLS: sigv4-sidecar speaking https to tests/support/verifier.py with a throwaway CA.

  proxy_tls_test.py PATH/TO/sigv4-sidecar

A verifier with the localhost certificate is reached and verifies (tls.ca_file and --ca-file, by name and by IP,
with pooled connections); one with a certificate for another name is refused with a 502 that says why, and the
verifier gets no request; without the CA (system store) the test CA is not trusted; --no-verify-ssl accepts the
wrong certificate and the log warns about it; http to a TLS port and https to a plain port give 502.
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK
SIGV4 = {"region": "us-east-1", "service": "execute-api"}
TIMEOUTS = {"client_header": "5s", "client_body": "5s", "upstream_connect": "3s", "upstream_response_header": "10s",
            "shutdown_grace": "2s"}


def route(name, upstream):
    return {"name": name, "match": {"path_prefix": f"/{name}/"}, "upstream": upstream, "sigv4": SIGV4}


def echo_ok(resp, message, target, host):
    if not t.check_eq(resp.status, 200, f"{message}: 200 (verified)"):
        print(f"        body: {resp.body[:500]!r}")
        return
    echo = resp.json()
    t.check_eq(echo["target"], target, f"{message}: target")
    t.check_eq(t.echo_header(echo, "Host"), [host], f"{message}: Host")


def refused(resp, message, words):
    t.check_eq(resp.status, 502, f"{message}: 502")
    body = resp.body.decode("utf-8", "replace")
    t.check(any(w in body.lower() for w in words), f"{message}: the body says why ({' / '.join(words)})", body)
    t.check(body.count("\n") == 1 and body.endswith("\n"), f"{message}: the reason is one line", body)


def main():
    binary = os.path.abspath(sys.argv[1])
    certs = t.make_certs(os.path.join(t.work_dir(), "certs"))
    creds = [(t.TEST_AKID, t.TEST_SECRET)]
    good, gport = t.start_verifier(creds, tls=certs)
    wrong, wport = t.start_verifier(creds, tls=(certs.wrong, certs.wrong_key))
    plain, pport = t.start_verifier(creds)
    ctx = t.client_ssl_context(certs)

    def stats(port, name):
        return t.verifier_stats(port, ssl_context=ctx, server_hostname=name)

    config = {"timeouts": TIMEOUTS, "tls": {"ca_file": certs.ca}, "routes": [
        route("good", f"https://localhost:{gport}/"),
        route("goodip", f"https://127.0.0.1:{gport}/base"),
        route("wrong", f"https://localhost:{wport}/"),
        route("tls-to-plain", f"https://localhost:{pport}/"),
        route("plain-to-tls", f"http://127.0.0.1:{gport}/"),
    ]}
    proxy = t.start_proxy(binary, config, name="sidecar-tls")

    t.section("tls.ca_file: the verifier's certificate is trusted")
    echo_ok(proxy.request("GET", "/good/x?a=1&b=%2F"), "https://localhost upstream", "/x?a=1&b=%2F",
            f"localhost:{gport}")
    r = proxy.request("POST", "/good/post", [("Content-Type", "application/octet-stream")], bytes(range(256)) * 64)
    echo_ok(r, "POST over TLS", "/post", f"localhost:{gport}")
    echo_ok(proxy.request("GET", "/goodip/y"), "https://127.0.0.1 upstream (IP in the certificate)", "/base/y",
            f"127.0.0.1:{gport}")
    for i in range(20):
        r = proxy.request("GET", f"/good/pool/{i}")
        if r.status != 200:
            break
    t.check_eq(r.status, 200, "20 more requests over TLS")
    m = proxy.metrics()
    open_conns = t.metric_sum(m, "sigv4_sidecar_upstream_connections", upstream=f"https://localhost:{gport}",
                              state="open")
    t.check(1 <= open_conns <= 2, f"TLS connections are pooled ({open_conns:g} open)",
            [(k, v) for k, v in m.items() if k[0] == "sigv4_sidecar_upstream_connections"])
    s = stats(gport, "localhost")
    t.check(s["verified"] == 23 and s["rejected"] == 0, "the TLS verifier verified all 23", s)

    t.section("a certificate for another name is refused")
    r = proxy.request("GET", "/wrong/x")
    refused(r, "wrong certificate name", ["tls", "certificate"])
    s = stats(wport, "wrong.example")
    t.check(s["requests"] == 0 and s["verified"] == 0, "the wrong-name verifier got no request", s)
    t.check("handshake" in proxy.process.log_text().lower() or "tls" in proxy.process.log_text().lower(),
            "the proxy logs the TLS failure", proxy.process.log_tail(3))
    r = proxy.request("GET", "/tls-to-plain/x")
    refused(r, "https to a plain-HTTP port", ["tls", "ssl", "handshake", "wrong version"])
    t.check_eq(t.verifier_stats(pport)["verified"], 0, "the plain verifier verified nothing")
    r = proxy.request("GET", "/plain-to-tls/x")
    t.check(r.status == 502, "http to a TLS port: 502", r)
    echo_ok(proxy.request("GET", "/good/after-failures"), "still serving after the TLS failures", "/after-failures",
            f"localhost:{gport}")
    proxy.stop()

    t.section("--ca-file flag")
    flagged = t.start_proxy(binary, args=["--host", f"localhost:{gport}", "--upstream-url-scheme", "https",
                                          "--name", "execute-api", "--region", "us-east-1", "--ca-file", certs.ca],
                            name="sidecar-cafile")
    echo_ok(flagged.request("GET", "/flag/ca?x"), "--ca-file", "/flag/ca?x", f"localhost:{gport}")
    flagged.stop()

    t.section("without the CA (system trust store) the test CA is not trusted")
    system = t.start_proxy(binary, {"timeouts": TIMEOUTS, "routes": [route("good", f"https://localhost:{gport}/")]},
                           name="sidecar-systemca")
    before = stats(gport, "localhost")
    r = system.request("GET", "/good/x")
    refused(r, "unknown CA", ["tls", "certificate", "issuer"])
    after = stats(gport, "localhost")
    t.check_eq(after["requests"] - before["requests"], 0, "the verifier got no request")
    system.stop()

    t.section("--no-verify-ssl accepts the wrong certificate, and says so")
    insecure = t.start_proxy(binary, args=["--host", f"localhost:{wport}", "--upstream-url-scheme", "https",
                                           "--name", "execute-api", "--region", "us-east-1", "--no-verify-ssl"],
                             name="sidecar-insecure")
    echo_ok(insecure.request("GET", "/insecure"), "--no-verify-ssl with a wrong-name certificate", "/insecure",
            f"localhost:{wport}")
    s = stats(wport, "wrong.example")
    t.check(s["verified"] == 1 and s["rejected"] == 0, "the wrong-name verifier verified the request", s)
    log = insecure.process.log_text()
    t.check("level=warn" in log and ("verif" in log.lower() and ("off" in log.lower() or "insecure" in log.lower())),
            "the log warns that certificate verification is off", log)
    insecure.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: proxy_tls_test.py PATH/TO/sigv4-sidecar")
    t.run_main(main)
