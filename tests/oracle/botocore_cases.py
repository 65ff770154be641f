#!/usr/bin/python3
"""Differential oracle: random requests signed by Debian's python3-botocore.

  botocore_cases.py generate --count N --seed S --out FILE   write N cases (JSON lines) with botocore's answer
  botocore_cases.py cli --binary PATH --count N --seed S     sign N cases with `sigv4-sidecar sign`, compare

Each case carries what botocore signed (method, raw URL, headers in order, body, credentials, time) and the
Authorization header and canonical request it produced. The C++ side signs the same inputs and must produce
the same Authorization header byte for byte.
"""
import argparse
import base64
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's botocore, not a pip one
import botocore  # noqa: E402
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest, HTTPHeaders  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from urllib.parse import quote  # noqa: E402

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
SUB_DELIMS = "!$&'()*+,;=:@"
UNICODE = ["é", "ሴ", "€", "😀", "ü", "中文", "\u00a0"]
PCT = ["%2F", "%20", "%E2%82%AC", "%25", "%3A", "%7E", "%41", "%2f", "%e2%82%ac", "%"]
REGIONS = ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
SERVICES = ["execute-api", "aps", "s3x", "sts", "lambda", "es", "service"]
HOSTS = ["abc123defg.execute-api.{r}.amazonaws.com", "aps-workspaces.{r}.amazonaws.com",
         "sts.{r}.amazonaws.com", "127.0.0.1", "localhost", "[::1]", "search-x.{r}.es.amazonaws.com.cn"]
# No "Date": botocore signs a Date header in place of X-Amz-Date, a botocore-only convention.
HEADER_NAMES = ["Content-Type", "content-type", "X-Amz-Meta-Color", "x-amz-target", "X-Custom", "x-custom",
                "Content-Encoding", "Accept", "X-Prometheus-Remote-Write-Version", "User-Agent",
                "X-Amzn-Trace-Id", "Expect", "My-Header1", "Content-MD5", "ETag", "If-Match"]
TOKEN_CHARS = UNRESERVED + "/+="


def rand_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def rand_segment(rng):
    kind = rng.random()
    if kind < 0.08:
        return rng.choice([".", "..", ""])
    parts = []
    for _ in range(rng.randint(1, 5)):
        r = rng.random()
        if r < 0.45:
            parts.append(rand_text(rng, UNRESERVED, 1, 6))
        elif r < 0.6:
            parts.append(rng.choice(SUB_DELIMS))
        elif r < 0.75:
            parts.append(rng.choice(PCT))
        elif r < 0.9:
            parts.append(rng.choice(UNICODE))
        else:
            parts.append(" ")
    return "".join(parts)


def rand_path(rng):
    if rng.random() < 0.1:
        return "/"
    path = "/" + "/".join(rand_segment(rng) for _ in range(rng.randint(1, 5)))
    if rng.random() < 0.25:
        path += "/"
    return path


def rand_query(rng):
    if rng.random() < 0.3:
        return ""
    pairs = []
    keys = []
    for _ in range(rng.randint(1, 7)):
        if keys and rng.random() < 0.3:
            key = rng.choice(keys)  # repeated key
        else:
            key = rand_text(rng, UNRESERVED + SUB_DELIMS + " /?", 0 if rng.random() < 0.05 else 1, 8)
            if rng.random() < 0.15:
                key += rng.choice(UNICODE)
            keys.append(key)
        r = rng.random()
        if r < 0.15:
            pairs.append(quote(key, safe="-_.~"))  # no '=' at all
        elif r < 0.3:
            pairs.append(quote(key, safe="-_.~") + "=")  # empty value
        else:
            value = rand_text(rng, UNRESERVED + SUB_DELIMS + " /?%", 1, 10) + rng.choice(["", "", rng.choice(UNICODE)])
            pairs.append(quote(key, safe="-_.~") + "=" + quote(value, safe="-_.~"))
    return "&".join(p for p in pairs if p)


def rand_header_value(rng):
    core = rand_text(rng, UNRESERVED + " \t,;=\"/:", 0, 20)
    return rng.choice(["", " ", "\t", "  "]) + core + rng.choice(["", " ", "\t ", "   "])


def make_case(rng, index):
    region = rng.choice(REGIONS)
    host = rng.choice(HOSTS).format(r=region)
    scheme = rng.choice(["http", "https"])
    port = ""
    r = rng.random()
    if r < 0.2:
        port = ":" + str(rng.randint(1, 65535))
    elif r < 0.3:
        port = ":443" if scheme == "https" else ":80"
    query = rand_query(rng)
    url = f"{scheme}://{host}{port}{rand_path(rng)}" + (("?" + query) if query else "")
    headers = []
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(HEADER_NAMES)
        if headers and rng.random() < 0.25:
            name = rng.choice(headers)[0]  # a repeated header
        headers.append([name, rand_header_value(rng)])
    r = rng.random()
    if r < 0.35:
        body = b""
    elif r < 0.7:
        body = rand_text(rng, UNRESERVED + " \n{}:\"", 1, 2000).encode()
    else:
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=rng.randint(0, 38 * 365 * 86400))
    return {
        "index": index,
        "method": rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]),
        "url": url,
        "headers": headers,
        "body_b64": base64.b64encode(body).decode(),
        "region": region,
        "service": rng.choice(SERVICES),
        "access_key_id": "AKID" + rand_text(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 12, 12),
        "secret_access_key": rand_text(rng, TOKEN_CHARS, 40, 40),
        "session_token": rand_text(rng, TOKEN_CHARS, 40, 300) if rng.random() < 0.5 else "",
        "amz_date": when.strftime("%Y%m%dT%H%M%SZ"),
        "unsigned_payload": scheme == "https" and rng.random() < 0.15,
    }


class _FixedClock(datetime.datetime):
    fixed = None

    @classmethod
    def utcnow(cls):
        return cls.fixed


def botocore_sign(case):
    """Signs with botocore's SigV4Auth at the case's time; returns (authorization, canonical_request)."""
    _FixedClock.fixed = datetime.datetime.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")
    real = botocore.auth.datetime.datetime
    botocore.auth.datetime.datetime = _FixedClock
    try:
        creds = Credentials(case["access_key_id"], case["secret_access_key"], case["session_token"] or None)
        request = AWSRequest(method=case["method"], url=case["url"], data=base64.b64decode(case["body_b64"]))
        request.headers = HTTPHeaders()
        for name, value in case["headers"]:
            request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
        if case["unsigned_payload"]:
            request.context["payload_signing_enabled"] = False
        auth = botocore.auth.SigV4Auth(creds, case["service"], case["region"])
        auth.add_auth(request)
        authorization = request.headers["Authorization"]
        del request.headers["Authorization"]  # it was not part of what was signed
        canonical = auth.canonical_request(request)
        return authorization, canonical
    finally:
        botocore.auth.datetime.datetime = real


def generate(args):
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        for i in range(args.count):
            case = make_case(rng, i)
            case["expected_authorization"], case["expected_canonical_request"] = botocore_sign(case)
            out.write(json.dumps(case) + "\n")
    print(f"botocore {botocore.__version__}: wrote {args.count} cases to {args.out}")


def cli(args):
    rng = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        body_path = os.path.join(tmp, "body")
        for i in range(args.count):
            case = make_case(rng, i)
            expected, _ = botocore_sign(case)
            with open(body_path, "wb") as f:
                f.write(base64.b64decode(case["body_b64"]))
            cmd = [args.binary, "sign", "--region", case["region"], "--service", case["service"],
                   "--method", case["method"], "--date", case["amz_date"], "--data-file", body_path]
            for name, value in case["headers"]:
                cmd += ["--header", f"{name}: {value}"]
            if case["unsigned_payload"]:
                cmd += ["--unsigned-payload", "--content-sha256-header"]
            cmd.append(case["url"])
            env = dict(os.environ, AWS_ACCESS_KEY_ID=case["access_key_id"],
                       AWS_SECRET_ACCESS_KEY=case["secret_access_key"], AWS_SESSION_TOKEN=case["session_token"])
            res = subprocess.run(cmd, capture_output=True, env=env)
            auth = [l for l in res.stdout.decode().split("\n") if l.startswith("Authorization: ")]
            got = auth[0][len("Authorization: "):] if auth else None
            if res.returncode != 0 or got != expected:
                failures += 1
                print(f"case {i} differs: {case['method']} {case['url']!r}\n  botocore: {expected}\n"
                      f"  sidecar:  {got}\n  stderr: {res.stderr.decode().strip()}")
    passed = args.count - failures
    print(f"{passed} passed, {failures} failed")
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--count", type=int, default=1000)
    g.add_argument("--seed", type=int, default=20150830)
    g.add_argument("--out", required=True)
    c = sub.add_parser("cli")
    c.add_argument("--binary", required=True)
    c.add_argument("--count", type=int, default=100)
    c.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    if args.cmd == "generate":
        generate(args)
        return 0
    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
