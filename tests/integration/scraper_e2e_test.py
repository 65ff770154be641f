#!/usr/bin/python3
"""The bundled scraper end to end, no external agent: sigv4-sidecar alone scrapes a real node_exporter, an
API Gateway stand-in that answers only correctly signed execute-api requests, and itself, and remote-writes
signed (aps) through the AMP stand-in (the botocore verifier) into a real Prometheus receiver.

  scraper_e2e_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus [PATH/TO/node_exporter]]

Checks (PromQL on the receiver, polled): node_exporter series with job, instance and the external label;
up == 1 for node, apigw and the sidecar itself; up == 0 for the same API Gateway target scraped unsigned,
whose lastError in /api/v1/targets carries AWS's message and a hint; the verifiers rejected nothing that was
signed; the sidecar's own metrics count the scrapes and no failed sample; a SIGHUP that removes a job keeps
the other loops (their scrape counters go on) and the removed job's series go stale on the receiver; the
Grafana Agent static-mode config of the AWS guide runs as written (addresses pointed at loopback stand-ins).
Last line: 'N passed, M failed'.
"""
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402

L = t.LOOPBACK


def start_node_exporter(binary):
    port = t.free_port()
    proc = t.start_process([binary, f"--web.listen-address={L}:{port}", "--collector.disable-defaults",
                            "--collector.cpu", "--collector.meminfo", "--collector.loadavg",
                            "--collector.filesystem"], name="node_exporter")
    t.wait_port(L, port, 15)
    return proc, port


def targets(proxy):
    r = proxy.admin("/api/v1/targets")
    return json.loads(r.body)["data"]["activeTargets"] if r.status == 200 else []


def scrapes(proxy, job, result="success"):
    return t.metric_sum(proxy.metrics(), "sigv4_sidecar_scrapes_total", job=job, result=result)


def main():
    binary = os.path.abspath(sys.argv[1])
    prometheus = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    node_exporter = sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/prometheus-node-exporter"
    for b, pkg in ((prometheus, "prometheus"), (node_exporter, "prometheus-node-exporter")):
        if not os.path.exists(b):
            t.check(False, f"{b} present; install Debian's '{pkg}' package")
            return
    creds = [(t.TEST_AKID, t.TEST_SECRET)]

    t.section("start: receiver, AMP and API Gateway stand-ins, node_exporter, the sidecar alone")
    receiver, rport = t.start_prometheus(prometheus, "receiver", "global: {scrape_interval: 15s}\n",
                                         ["--web.enable-remote-write-receiver"])
    amp, amp_port = t.start_verifier(creds, forward_to=f"http://{L}:{rport}", extra_args=["--require-service", "aps", "--forward-path", "/api/v1/write"])
    apigw, apigw_port = t.start_verifier(creds, extra_args=["--require-service", "execute-api"])
    _, node_port = start_node_exporter(node_exporter)
    admin_port = t.free_port()
    config = {
        "admin_listen": f"{L}:{admin_port}",
        "timeouts": {"shutdown_grace": "3s"},
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "external_labels": {"cluster": "e2e"}},
        "scrape_configs": [
            {"job_name": "node", "static_configs": [{"targets": [f"{L}:{node_port}"]}]},
            {"job_name": "apigw", "metrics_path": "/_test/metrics",
             "static_configs": [{"targets": [f"{L}:{apigw_port}"], "labels": {"stage": "prod"}}],
             "sigv4": {"region": "us-east-1", "service": "execute-api"}},
            {"job_name": "apigw_unsigned", "metrics_path": "/_test/metrics",
             "static_configs": [{"targets": [f"{L}:{apigw_port}"]}]},
            {"job_name": "sidecar", "static_configs": [{"targets": [f"{L}:{admin_port}"]}]},
        ],
        "remote_write": [{"url": f"http://{L}:{amp_port}/api/v1/write", "sigv4": {"region": "us-east-1"},
                          "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                                           "max_backoff": "1s"}}],
    }
    proxy = t.start_proxy(binary, config, name="sidecar-scraper", proxy_listener=False)
    t.check(True, f"receiver :{rport}, AMP :{amp_port}, API Gateway :{apigw_port}, node_exporter :{node_port}, "
                  f"sidecar admin :{proxy.admin_port}")

    t.section("the receiver holds what the sidecar scraped")
    res, took = t.prom_poll(rport, f'node_load1{{job="node",instance="{L}:{node_port}",cluster="e2e"}}',
                            lambda r: len(r) == 1, 60)
    t.check(took is not None, "node_exporter series arrive with job, instance and the external label", res)
    res, took = t.prom_poll(rport, 'up{job=~"node|apigw|sidecar"} == 1', lambda r: len(r) == 3, 30)
    t.check(took is not None, "up == 1 for node, apigw (signed execute-api) and the sidecar itself", res)
    res, _ = t.prom_poll(rport, 'verifier_scrape_signed{job="apigw"}', lambda r: len(r) == 1, 20)
    t.check(len(res) == 1 and res[0][0].get("service") == "execute-api" and res[0][0].get("stage") == "prod",
            "the API Gateway page arrived, signed for execute-api, with the target's own label", res)
    res, _ = t.prom_poll(rport, 'up{job="apigw_unsigned"} == 0', lambda r: len(r) == 1, 20)
    t.check(len(res) == 1, "the unsigned scrape of the same target is up == 0", res)
    res, _ = t.prom_poll(rport, 'scrape_samples_scraped{job="node"} > 0', lambda r: len(r) == 1, 10)
    t.check(len(res) == 1, "synthetic series reach the receiver (scrape_samples_scraped)", res)

    t.section("/api/v1/targets and the sidecar's own view")
    tg = {x["scrapePool"]: x for x in targets(proxy)}
    t.check_eq(sorted(tg), ["apigw", "apigw_unsigned", "node", "sidecar"], "one active target per job")
    un = tg.get("apigw_unsigned", {})
    t.check(un.get("health") == "down" and "Missing Authentication Token" in un.get("lastError", "")
            and "hint" in un.get("lastError", ""), "the unsigned target says AWS's reason and a hint",
            un.get("lastError"))
    node = tg.get("node", {})
    t.check(node.get("health") == "up" and node.get("labels", {}).get("instance") == f"{L}:{node_port}"
            and node.get("scrapeUrl") == f"http://{L}:{node_port}/metrics", "node target: up, labels, URL", node)
    m = proxy.metrics()
    t.check(t.metric_sum(m, "sigv4_sidecar_scrapes_total", job="node", result="success") > 0,
            "scrapes counted per job")
    t.check(t.metric_sum(m, "sigv4_sidecar_scrape_failures_total", job="apigw_unsigned", reason="http_status") > 0,
            "the unsigned job's failures counted with reason http_status")
    t.check(t.metric_sum(m, "prometheus_remote_storage_samples_failed_total") == 0 and
            t.metric_sum(m, "prometheus_remote_storage_samples_dropped_total") == 0, "no sample failed or dropped")
    t.check(t.metric_sum(m, "sigv4_sidecar_remote_samples_sent_total") > 0, "samples acknowledged by the remote")
    t.check_eq(proxy.admin("/-/ready").status, 200, "/-/ready")
    st = t.verifier_stats(amp_port)
    t.check(st["verified"] > 0 and st["rejected"] == 0, "AMP stand-in: every remote write verified (aps)", st)
    st = t.verifier_stats(apigw_port)
    t.check(st["verified"] > 0 and st["rejected"] > 0 and
            set(st.get("rejections_by_reason", {})) == {"missing authorization"},
            "API Gateway stand-in: signed scrapes verified, only the unsigned ones rejected", st)

    t.section("SIGHUP: a removed job stops and goes stale, the others keep their loops")
    before = scrapes(proxy, "node")
    config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] != "apigw_unsigned"]
    config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] != "apigw"]
    proxy.write_config(config)
    proxy.signal(signal.SIGHUP)
    res, took = t.prom_poll(rport, 'up{job="apigw"}', lambda r: len(r) == 0, 20)
    t.check(took is not None, "the removed job's up series went stale on the receiver (stale marker)", res)
    t.check(scrapes(proxy, "node") > before, "the node loop kept scraping across the reload")
    t.check_eq(sorted(x["scrapePool"] for x in targets(proxy)), ["node", "sidecar"], "targets after the reload")
    log = proxy.process.log_text()
    t.check("config reloaded" in log, "reload logged")
    for secret in (t.TEST_SECRET,):
        t.check(secret not in log, "the secret key never appears in the log")
    t.check("Signature=" not in log, "no signature in the log")

    t.section("Grafana Agent static mode (the AWS guide's config, addresses on loopback)")
    guide = f"""
metrics:
  global: {{scrape_interval: 1s, scrape_timeout: 1s}}
  configs:
    - name: default
      scrape_configs:
        - job_name: api_gateway_custom_metrics
          metrics_path: /_test/metrics
          scheme: http
          static_configs: [{{targets: ['{L}:{apigw_port}']}}]
          relabel_configs:
            - {{source_labels: [__address__], target_label: __scheme__, replacement: http}}
            - {{source_labels: [__address__], regex: '([^:]+)', target_label: __host__, replacement: $1}}
          authorization:
            type: Bearer
            sigv4: {{region: us-east-1, service_name: execute-api}}
      remote_write:
        - url: http://{L}:{amp_port}/workspaces/ws-123/api/v1/remote_write
          sigv4: {{region: us-east-1}}
"""
    agent = t.start_proxy(binary, guide, name="sidecar-agent-shape", proxy_listener=False)
    res, took = t.prom_poll(rport, 'up{job="api_gateway_custom_metrics"} == 1', lambda r: len(r) == 1, 30)
    t.check(took is not None, "the guide's job scrapes signed and remote-writes to the receiver", res)
    log = agent.process.log_text()
    t.check("warn" in log and "__host__" in log, "the guide's __host__ label is warned about", log[-800:])
    agent.stop()

    t.section("SIGTERM: a clean exit")
    code = proxy.stop()
    t.check_eq(code, 0, "exit code after SIGTERM")


if __name__ == "__main__":
    t.run_main(main)
