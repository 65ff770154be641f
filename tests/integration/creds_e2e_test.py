#!/usr/bin/python3
"""End-to-end credentials: sigv4-sidecar started with only AWS_EC2_METADATA_SERVICE_ENDPOINT (the fake IMDS of
tests/support/fake_aws.py) signs requests that tests/support/verifier.py checks, and keeps signing through key
rotation and an IMDS outage:

- the first fetch happens before serving: the first request is signed with the IMDS keys and token;
- rotation before expiry: requests switch to the new keys within seconds of the refresh, none fails;
- IMDS down: requests keep succeeding with the old keys until they expire, then get 503 naming IMDS (and
  nothing reaches the upstream unsigned), /-/ready turns 503; IMDS back: requests recover by themselves;
- IMDS down at startup: the proxy serves 503 and not-ready, then recovers when IMDS comes up;
- per-route role (sigv4.role_arn): that route signs with the STS AssumeRole credentials, the others with
  the base identity; STS verified our AssumeRole signature;
- metrics (refreshes by provider and result, expiry, provider in use); no secret in the log.

  creds_e2e_test.py PATH/TO/sigv4-sidecar
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import fake_aws  # noqa: E402
import testlib as t  # noqa: E402

L = t.LOOPBACK
REGION, SERVICE = "us-east-1", "execute-api"
SIGV4 = {"region": REGION, "service": SERVICE}
# 304 s credentials: with the SDKs' 5-minute refresh window the proxy refreshes 3 to 4 s after each fetch.
SHORT = 304


def akid_of(r):
    try:
        return r.json().get("access_key_id")
    except Exception:  # noqa: BLE001 - a 503 body is text
        return None


def token_of(r):
    try:
        return dict((n.lower(), v) for n, v in r.json()["headers"]).get("x-amz-security-token")
    except Exception:  # noqa: BLE001
        return None


def poll(proxy, until, timeout, path="/poll", interval=0.05):
    """Requests every `interval` until until(response) or timeout. Returns (responses, seconds, matched)."""
    start = time.monotonic()
    seen = []
    while time.monotonic() - start < timeout:
        r = proxy.request("GET", path)
        seen.append(r)
        if until(r):
            return seen, time.monotonic() - start, True
        time.sleep(interval)
    return seen, time.monotonic() - start, False


def main():
    binary = os.path.abspath(sys.argv[1])
    fake_proc, aws = fake_aws.start(["--fakes", "imds,sts", "--imds-require-token", "--imds-expires-in", SHORT])
    gens = {n: fake_aws.fake_credentials("imds", n) for n in range(1, 9)}
    sts_gens = [fake_aws.fake_credentials("sts", n) for n in range(1, 9)]
    verifier, vport = t.start_verifier(list(gens.values()) + sts_gens)
    up = f"http://{L}:{vport}"
    config = {"log_level": "debug",
              "routes": [{"name": "role", "match": {"path_prefix": "/role/"}, "upstream": f"{up}/",
                          "sigv4": dict(SIGV4, role_arn="arn:aws:iam::123456789012:role/route-role",
                                        external_id="ext-1")},
                         {"name": "root", "match": {"path_prefix": "/"}, "upstream": up, "sigv4": SIGV4}]}
    proxy = t.start_proxy(binary, config, env=fake_aws.imds_env(aws), name="sidecar-imds")

    # -----------------------------------------------------------------------------------------------------
    t.section("first fetch before serving: IMDS keys and token")
    r = proxy.request("GET", "/first")
    t.check_eq(r.status, 200, "the very first request is signed and verified")
    t.check_eq(akid_of(r), gens[1][0], "signed with the IMDS generation-1 key")
    t.check_eq(token_of(r), gens[1][2], "X-Amz-Security-Token is the IMDS token")
    ready = proxy.admin("/-/ready")
    t.check(ready.status == 200 and b"imds" in ready.body, "/-/ready 200 naming imds", ready.body)
    reqs = aws.requests("imds")
    t.check(any(x["method"] == "PUT" for x in reqs), "IMDSv2: a token PUT happened", reqs[:3])
    t.check(all(x.get("token") in ("valid", None) for x in reqs if x["method"] == "GET"),
            "every IMDS GET carried a valid token", [x.get("token") for x in reqs])

    t.section("per-route role: AssumeRole signed with the IMDS identity")
    r = proxy.request("GET", "/role/x")
    t.check_eq(r.status, 200, "the role route is signed and verified")
    t.check(akid_of(r) in [c[0] for c in sts_gens], "signed with STS-issued keys", akid_of(r))
    sts_reqs = [x for x in aws.requests("sts") if x.get("action") == "AssumeRole"]
    t.check(len(sts_reqs) >= 1, "STS saw AssumeRole", sts_reqs)
    if sts_reqs:
        a = sts_reqs[0]
        t.check(a.get("signed") and a.get("identity") and not a.get("error"), "STS verified our signature", a)
        t.check_eq(a.get("access_key_id"), gens[1][0], "AssumeRole was signed with the IMDS key")
        t.check_eq(a["params"].get("RoleArn"), "arn:aws:iam::123456789012:role/route-role", "RoleArn sent")
        t.check_eq(a["params"].get("ExternalId"), "ext-1", "ExternalId sent")

    # -----------------------------------------------------------------------------------------------------
    t.section("rotation before expiry: new keys within seconds, no failed request")
    new = aws.rotate("imds", expires_in=SHORT)
    t.check_eq(new["AccessKeyId"], gens[2][0], "the fake rotated to generation 2")
    seen, took, ok = poll(proxy, lambda r: akid_of(r) == gens[2][0], 15)
    t.check(ok, f"requests switched to the new key ({took:.1f} s after the rotation)", [akid_of(x) for x in seen[-3:]])
    t.check(took < 8, f"within 8 s of the rotation (refresh window of {SHORT} s credentials): {took:.1f} s")
    t.check(all(x.status == 200 for x in seen), f"all {len(seen)} requests during the rotation got 200",
            [x.status for x in seen if x.status != 200])
    t.check(all(akid_of(x) in (gens[1][0], gens[2][0]) for x in seen), "each signed with generation 1 or 2")

    # -----------------------------------------------------------------------------------------------------
    t.section("IMDS down: old keys until they expire, then 503, then recovery")
    aws.rotate("imds", expires_in=12)  # generation 3, expiring 12 s from now
    seen, took, ok = poll(proxy, lambda r: akid_of(r) == gens[3][0], 15)
    t.check(ok, f"picked up the short-lived generation 3 ({took:.1f} s)")
    gen3_deadline = time.time() + 12 - took
    aws.down("imds")
    before = t.verifier_stats(vport)
    seen, took, ok = poll(proxy, lambda r: r.status == 503, 25, interval=0.1)
    t.check(ok, f"503 once the credentials expired ({took:.1f} s after IMDS went down)")
    ok_before = [x for x in seen if x.status == 200]
    t.check(len(ok_before) > 0 and all(akid_of(x) == gens[3][0] for x in ok_before),
            f"{len(ok_before)} requests kept succeeding with generation 3 while it was valid")
    t.check(time.time() >= gen3_deadline - 1.5, "the 503s started only around generation 3's expiry",
            (time.time(), gen3_deadline))
    t.check(all(x.status in (200, 503) for x in seen), "no other status while IMDS was down",
            sorted({x.status for x in seen}))
    last = seen[-1]
    body = last.body.decode(errors="replace")
    t.check("imds" in body.lower() or "IMDS" in body, "the 503 names IMDS", body)
    t.check("expired" in body or "no AWS credentials" in body, "the 503 says the credentials expired", body)
    # Nothing reached the verifier unsigned or with dead keys.
    for _ in range(5):
        proxy.request("GET", "/while-down")
    after = t.verifier_stats(vport)
    t.check_eq(after["rejected"] - before["rejected"], 0, "the upstream rejected nothing (no unsigned request)")
    t.check_eq(after["requests"] - before["requests"], len(ok_before), "only the 200s reached the upstream")
    ready = proxy.admin("/-/ready")
    t.check(ready.status == 503 and b"imds" in ready.body.lower(), "/-/ready 503 naming imds", ready.body)
    t.check_eq(proxy.admin("/-/healthy").status, 200, "/-/healthy stays 200")

    aws.rotate("imds", expires_in=SHORT)  # generation 4, served once IMDS is back
    aws.up("imds")
    seen, took, ok = poll(proxy, lambda r: r.status == 200, 15, interval=0.1)
    t.check(ok, f"recovered by itself once IMDS came back ({took:.1f} s)")
    t.check(took < 8, f"recovery within 8 s (retries stay 5 s apart without credentials): {took:.1f} s")
    t.check_eq(akid_of(seen[-1]), gens[4][0], "signed with generation 4")
    t.check_eq(proxy.admin("/-/ready").status, 200, "/-/ready 200 again")

    # -----------------------------------------------------------------------------------------------------
    t.section("metrics")
    m = proxy.metrics()
    ok_n = t.metric_sum(m, "sigv4_sidecar_credential_refreshes_total", provider="imds", result="success")
    bad_n = t.metric_sum(m, "sigv4_sidecar_credential_refreshes_total", result="failure")
    t.check(ok_n >= 4, f"refreshes_total{{provider=imds,result=success}} = {ok_n}")
    t.check(bad_n >= 1, f"refreshes_total{{result=failure}} = {bad_n}")
    exp = t.metric_sum(m, "sigv4_sidecar_credentials_expiry_timestamp_seconds", identity="base")
    t.check(time.time() < exp < time.time() + SHORT + 5, "expiry timestamp is the current credentials'", exp)
    t.check_eq(t.metric_sum(m, "sigv4_sidecar_credentials_provider", provider="imds", identity="base"), 1.0,
               "provider in use: imds")
    role = "arn:aws:iam::123456789012:role/route-role"
    role_ok = t.metric_sum(m, "sigv4_sidecar_credential_refreshes_total", identity=role, result="success")
    t.check(role_ok >= 1, f"the route role's refreshes are counted under identity={role}: {role_ok}")
    role_exp = t.metric_sum(m, "sigv4_sidecar_credentials_expiry_timestamp_seconds", identity=role)
    t.check(role_exp > time.time(), "the route role's expiry is exported", role_exp)
    since = t.metric_sum(m, "sigv4_sidecar_credentials_seconds_since_last_success", identity="base")
    t.check(0 <= since < 10, "seconds since last success is small", since)
    t.check(t.metric_sum(m, "sigv4_sidecar_signing_errors_total") >= 1, "signing errors counted the 503s")

    t.section("SIGHUP: a route with a new role gets its own refresher")
    import signal
    config2 = dict(config)
    config2["routes"] = [{"name": "role2", "match": {"path_prefix": "/role2/"}, "upstream": f"{up}/",
                          "sigv4": dict(SIGV4, role_arn="arn:aws:iam::123456789012:role/added-on-reload")}] + \
        config["routes"]
    config2["listen"], config2["admin_listen"] = f"{L}:{proxy.port}", f"{L}:{proxy.admin_port}"
    proxy.write_config(config2)
    proxy.signal(signal.SIGHUP)
    seen, took, ok = poll(proxy, lambda r: r.status == 200 and akid_of(r) in [c[0] for c in sts_gens], 10,
                          path="/role2/x", interval=0.1)
    t.check(ok, f"the new role's route signs with STS keys {took:.1f} s after the reload",
            [(x.status, x.body[:200]) for x in seen[-2:]])
    added = [x for x in aws.requests("sts") if x.get("action") == "AssumeRole"
             and x["params"].get("RoleArn") == "arn:aws:iam::123456789012:role/added-on-reload"]
    t.check(len(added) >= 1 and added[0].get("signed") and not added[0].get("error"),
            "STS saw a verified AssumeRole for the added role", added[:1])

    proxy.stop()
    log = proxy.process.log_text()
    leaked = [s for c in list(gens.values()) + sts_gens for s in c[1:] if s and s in log]
    t.check(not leaked, "no secret key or session token in the proxy's log", leaked[:2])
    t.check("refresh failed" in log or "no valid AWS credentials" in log, "the log says why refreshes failed")

    # -----------------------------------------------------------------------------------------------------
    t.section("IMDS down at startup: serve 503 and not-ready, recover when it comes up")
    aws.down("imds")
    cold = t.start_proxy(binary, args=["--host", f"{L}:{vport}", "--upstream-url-scheme", "http", "--name", SERVICE,
                                       "--region", REGION], env=fake_aws.imds_env(aws), name="sidecar-cold", timeout=30)
    r = cold.request("GET", "/cold")
    t.check_eq(r.status, 503, "503 while IMDS is down")
    t.check(b"imds" in r.body.lower(), "the 503 names IMDS", r.body)
    t.check_eq(cold.admin("/-/ready").status, 503, "/-/ready 503")
    aws.rotate("imds", expires_in=SHORT)
    aws.up("imds")
    seen, took, ok = poll(cold, lambda r: r.status == 200, 15, path="/cold", interval=0.1)
    t.check(ok, f"recovered {took:.1f} s after IMDS came up")
    cold.stop()

    # -----------------------------------------------------------------------------------------------------
    t.section("the sign subcommand uses the same chain")
    import subprocess
    current = aws.state("imds")["credentials"]
    out = subprocess.run([binary, "sign", "--region", REGION, "--service", SERVICE, f"http://{L}:{vport}/signed"],
                         env=fake_aws.imds_env(aws), capture_output=True, text=True, timeout=30)
    t.check(out.returncode == 0, "sign exits 0 with IMDS credentials", out.stderr)
    t.check(f"Credential={current['AccessKeyId']}/" in out.stdout, "signed with the IMDS key", out.stdout)
    t.check(f"X-Amz-Security-Token: {current['Token']}" in out.stdout, "with the IMDS token")
    aws.down("imds")
    out = subprocess.run([binary, "sign", "--region", REGION, "--service", SERVICE, f"http://{L}:{vport}/signed"],
                         env=fake_aws.imds_env(aws), capture_output=True, text=True, timeout=30)
    t.check_eq(out.returncode, 2, "sign exits 2 without credentials")
    t.check("no AWS credentials" in out.stderr and "imds" in out.stderr, "and says why (imds)", out.stderr)
    t.check("Authorization" not in out.stdout, "and prints no request")
    aws.up("imds")
    fake_proc.stop()
    verifier.stop()


if __name__ == "__main__":
    t.run_main(main)
