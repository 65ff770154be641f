#!/usr/bin/python3
"""Real Prometheus through sigv4-sidecar: remote_write and a proxy_url scrape, both signed and verified.

  prometheus_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus]

  agent Prometheus --remote_write--> sidecar (route /) --signed--> verifier A --forwards--> receiver Prometheus
  agent Prometheus --scrape job apigw, proxy_url=sidecar, target abc123.execute-api.us-east-1.amazonaws.com-->
        sidecar (forward proxy, connect_to verifier B) --signed--> verifier B /_test/metrics

Checks: the receiver answers `up` with series the agent wrote (PromQL, polled up to 60 s); verifier A verified
requests and rejected none; on the agent `up{job="apigw"}` is 1 and the target's metrics were ingested; the agent
reports no failed remote-write samples; the sidecar counted the requests. Needs Debian's `prometheus` package
(/usr/bin/prometheus). Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import json
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK
APIGW_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
POLL_SECONDS = 60


start_prometheus = t.start_prometheus


def query(port, promql):
    return t.prom_query(port, promql)


def poll(port, promql, want, seconds=POLL_SECONDS):
    return t.prom_poll(port, promql, want, seconds)


def main():
    binary = os.path.abspath(sys.argv[1])
    prometheus = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    if not os.path.exists(prometheus):
        t.check(False, f"prometheus binary present ({prometheus}); install Debian's 'prometheus' package")
        return
    creds = [(t.TEST_AKID, t.TEST_SECRET)]

    t.section("start: receiver, verifiers, sidecar, agent")
    receiver, rport = start_prometheus(prometheus, "receiver", "global: {scrape_interval: 15s}\n",
                                       ["--web.enable-remote-write-receiver"])
    writer_verifier, wvport = t.start_verifier(creds, forward_to=f"http://{L}:{rport}")
    target_verifier, tvport = t.start_verifier(creds)
    config = {
        "timeouts": {"upstream_connect": "2s", "upstream_response_header": "10s", "shutdown_grace": "2s"},
        "routes": [{"name": "remote-write", "match": {"path_prefix": "/"}, "upstream": f"http://{L}:{wvport}",
                    "sigv4": {"region": "us-east-1", "service": "aps"}}],
        "forward_proxy": {"allow": ["*.execute-api.us-east-1.amazonaws.com"], "upstream_scheme": "http",
                          "connect_to": f"{L}:{tvport}"},
    }
    scrape_apigw = True
    try:
        proxy = t.start_proxy(binary, config, name="sidecar-prom")
    except RuntimeError as e:
        # Without connect_to the allowed host would be looked up in DNS: leave the proxy_url scrape out.
        t.check(False, "the sidecar accepts forward_proxy.connect_to", str(e)[-400:])
        del config["forward_proxy"]["connect_to"]
        config.pop("forward_proxy")
        proxy = t.start_proxy(binary, config, name="sidecar-prom")
        scrape_apigw = False
    agent_config = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs: [{{targets: ["{L}:@PORT@"]}}]
""" + (f"""
  - job_name: apigw
    scheme: http
    metrics_path: /_test/metrics
    proxy_url: http://{L}:{proxy.port}
    static_configs: [{{targets: ["{APIGW_HOST}"]}}]
""" if scrape_apigw else "") + f"""
remote_write:
  - url: http://{L}:{proxy.port}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}
"""
    agent, aport = start_prometheus(prometheus, "agent", agent_config)
    t.check(True, f"receiver :{rport}, writer verifier :{wvport}, target verifier :{tvport}, sidecar :{proxy.port}, "
                  f"agent :{aport}")

    t.section("remote_write through the sidecar reaches the receiver")
    result, took = poll(rport, 'up{job="self"}', lambda r: len(r) > 0)
    t.check(took is not None, "the receiver has up{job=\"self\"} written by the agent"
            + (f" (after {took:.1f}s)" if took is not None else ""),
            f"result {result}; verifier stats {t.verifier_stats(wvport)}")
    if result:
        t.check_eq(result[0][1], 1.0, "the remote-written up{job=\"self\"} is 1")
    if scrape_apigw:
        result, took = poll(rport, 'up{job="apigw"}', lambda r: len(r) > 0, 30)
        t.check(took is not None and result and result[0][1] == 1.0,
                "the receiver also has up{job=\"apigw\"} == 1 (scraped through the sidecar, written through it)",
                result)
    st = t.verifier_stats(wvport)
    t.check(st["verified"] > 0, f"the writer verifier verified {st['verified']} remote-write requests", st)
    t.check_eq(st["rejected"], 0, "the writer verifier rejected none")

    if scrape_apigw:
        t.section("scrape through the sidecar as proxy_url")
        result, took = poll(aport, 'up{job="apigw"}', lambda r: len(r) > 0 and r[0][1] == 1.0, 30)
        t.check(took is not None, "on the agent, up{job=\"apigw\"} == 1 (the proxied scrape verified)",
                f"{result}; target verifier {t.verifier_stats(tvport)}; agent log:\n{agent.log_tail(5)}")
        result = query(aport, 'verifier_scrape_signed{job="apigw"}')
        t.check(len(result) == 1 and result[0][1] == 1.0 and result[0][0].get("service") == "execute-api",
                "the target's metrics were ingested (verifier_scrape_signed, service execute-api)", result)
        if result:
            t.check(result[0][0].get("instance", "").startswith(APIGW_HOST), "instance label is the API host",
                    result[0][0])
        st = t.verifier_stats(tvport)
        t.check(st["verified"] > 0 and st["rejected"] == 0, f"the target verifier verified {st['verified']} scrapes, "
                "rejected none", st)

    t.section("the agent and the sidecar agree nothing failed")
    deadline = time.monotonic() + 15
    while True:
        own = t.parse_metrics(t.http_request(L, aport, "GET", "/metrics", [("Host", f"{L}:{aport}")]).body.decode())
        sent = t.metric_sum(own, "prometheus_remote_storage_samples_total")
        if sent > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    t.check(sent > 0, f"the agent sent {sent:g} samples")
    for what in ("failed", "dropped"):
        n = t.metric_sum(own, f"prometheus_remote_storage_samples_{what}_total")
        t.check_eq(n, 0.0, f"the agent reports 0 {what} remote-write samples")
    m = proxy.metrics()
    writes = t.metric_sum(m, "sigv4_sidecar_requests_total", route="remote-write")
    ok_writes = (t.metric_sum(m, "sigv4_sidecar_requests_total", route="remote-write", code="204")
                 + t.metric_sum(m, "sigv4_sidecar_requests_total", route="remote-write", code="200"))
    t.check(writes > 0 and ok_writes == writes, f"sidecar: {ok_writes:g} of {writes:g} remote writes succeeded",
            [(k, v) for k, v in m.items() if k[0] == "sigv4_sidecar_requests_total"])
    if scrape_apigw:
        scrapes = t.metric_sum(m, "sigv4_sidecar_requests_total", route="forward-proxy", code="200")
        t.check(scrapes > 0, f"sidecar: {scrapes:g} forward-proxy scrapes answered 200")
    t.check(proxy.process.alive() and agent.alive() and receiver.alive(), "everything still running")
    t.check_eq(proxy.stop(), 0, "the sidecar exits 0 on SIGTERM")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: prometheus_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus]")
    t.run_main(main)
