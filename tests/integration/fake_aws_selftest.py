#!/usr/bin/python3
"""Self-test of tests/support/fake_aws.py: botocore (Debian's) must get credentials from each fake exactly as it
would from AWS, through the standard environment variables, and see each failure mode the fakes can play.

- IMDS: botocore's default chain with only AWS_EC2_METADATA_SERVICE_ENDPOINT set (IMDSv2 token, role, JSON);
  token TTL and PUT rules; require_token; hang (token only -> IMDSv1 fallback; everything -> no credentials,
  fast); down (refused, closed) and up; rotate; forced errors; IMDS's error document; role changes.
- Container: the chain with AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN; 401 on a
  wrong token; rotation seen by botocore's refresh; hang/down; EKS Pod Identity style.
- STS: AssumeRole signed by botocore (and by botocore's own AssumeRoleCredentialFetcher) verified by the fake,
  wrong secret / tampered body / unknown key / unsigned rejected; GetCallerIdentity answers each signer's ARN
  (base, assumed, IMDS credentials); AssumeRoleWithWebIdentity through AWS_WEB_IDENTITY_TOKEN_FILE and
  AWS_ROLE_ARN; error documents parsed by botocore as ClientError with the right code and status; forced
  errors; Date header and clock skew; expired issued credentials.
Debian's botocore 1.29 does not read AWS_ENDPOINT_URL_STS, so the STS clients here get endpoint_url explicitly
(the test prints what botocore does with the variable).
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import contextlib
import datetime
import email.utils
import http.client
import os
import re
import socket
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
import fake_aws  # noqa: E402
from fake_aws import fake_credentials  # noqa: E402

import botocore  # noqa: E402
import botocore.httpsession  # noqa: E402
import botocore.session  # noqa: E402
from botocore import UNSIGNED  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import (AssumeRoleCredentialFetcher, AssumeRoleWithWebIdentityProvider,  # noqa: E402
                                  ContainerProvider, Credentials)
from botocore.exceptions import ClientError, CredentialRetrievalError  # noqa: E402
from botocore.utils import ContainerMetadataFetcher, InstanceMetadataFetcher  # noqa: E402

H = t.LOOPBACK
ROLE_ARN = "arn:aws:iam::123456789012:role/sidecar-assumed"
ECS_TOKEN = "ecs-auth-token-0123"
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
aws = None  # fake_aws.Client


# ---------------------------------------------------------------------------------------------------------
# helpers


@contextlib.contextmanager
def aws_env(**values):
    """os.environ without any AWS_* variable, no ~/.aws, IMDS off unless asked; plus `values`. Restored after."""
    saved = dict(os.environ)
    try:
        for k in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[k]
        os.environ["HOME"] = t.work_dir()
        os.environ["AWS_CONFIG_FILE"] = os.path.join(t.work_dir(), "no-config")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(t.work_dir(), "no-credentials")
        if "AWS_EC2_METADATA_SERVICE_ENDPOINT" not in values:
            os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def imds_env():
    return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": aws.url("imds")}


def ecs_env(token=ECS_TOKEN, path="/creds"):
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": aws.url("ecs", path)}
    if token is not None:
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
    return env


def chain_credentials(**env):
    """botocore's default credential chain in an environment with only `env` set: (Credentials|None, seconds)."""
    with aws_env(**env):
        start = time.monotonic()
        creds = botocore.session.Session().get_credentials()
        return creds, time.monotonic() - start


def frozen(creds):
    return creds.get_frozen_credentials() if creds is not None else None


def fast_container_provider(env):
    fetcher = ContainerMetadataFetcher(session=botocore.httpsession.URLLib3Session(timeout=0.5),
                                       sleep=lambda s: None)
    return ContainerProvider(environ=env, fetcher=fetcher)


RETRIES_OFF = Config(retries={"total_max_attempts": 1})


def client_creator(**defaults):
    """A Session.create_client stand-in for botocore's credential fetchers, pointed at the STS fake."""
    session = botocore.session.Session()

    def create(service, **kw):
        config = RETRIES_OFF.merge(kw.pop("config")) if "config" in kw else RETRIES_OFF
        args = dict(defaults)
        args.update(kw)
        return session.create_client(service, region_name="us-east-1", endpoint_url=aws.url("sts"),
                                     config=config, **args)
    return create


def sts(akid=fake_aws.BASE_AKID, secret=fake_aws.BASE_SECRET, token=None, unsigned=False, region="us-east-1"):
    with aws_env():
        config = RETRIES_OFF.merge(Config(signature_version=UNSIGNED)) if unsigned else RETRIES_OFF
        return botocore.session.Session().create_client(
            "sts", region_name=region, endpoint_url=aws.url("sts"), config=config,
            aws_access_key_id=None if unsigned else akid, aws_secret_access_key=None if unsigned else secret,
            aws_session_token=token)


def client_error(fn):
    """Runs fn(); returns the ClientError it raised (None if it did not)."""
    try:
        fn()
    except ClientError as e:
        return e
    return None


def check_client_error(fn, code, status, message):
    e = client_error(fn)
    ok = t.check(e is not None and e.response["Error"]["Code"] == code
                 and e.response["ResponseMetadata"]["HTTPStatusCode"] == status,
                 f"{message}: ClientError {code} ({status})",
                 None if e is None else f"got {e.response['Error']} status "
                                        f"{e.response['ResponseMetadata']['HTTPStatusCode']}")
    return e if ok else None


def last(fake, **match):
    recs = [r for r in aws.requests(fake) if all(r.get(k) == v for k, v in match.items())]
    return recs[-1] if recs else None


def raw(fake, method, target, headers=(), body=b"", timeout=5.0):
    return t.http_request(H, aws.ports[fake], method, target, list(headers), body, timeout=timeout)


def imds_token(ttl=60):
    r = raw("imds", "PUT", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))])
    return r.body.decode() if r.status == 200 else None


def near(when, expected, slack=5):
    return abs((when - expected).total_seconds()) <= slack


# ---------------------------------------------------------------------------------------------------------
# the tests


def test_start():
    t.section("start: ports file and control listener")
    t.check_eq(sorted(aws.ports), ["control", "ecs", "imds", "sts"], "ports file names every fake and control")
    t.check(all(isinstance(p, int) and p > 0 for p in aws.ports.values()), "ports are numbers")
    r = raw("imds", "GET", "/_control/ports")
    t.check_eq(r.json() if r.status == 200 else r.status, aws.ports, "GET /_control/ports on a fake's own port")
    r = raw("imds", "POST", "/_control/config", [("Content-Type", "application/json")], b'{"no_such_key": 1}')
    t.check_eq(r.status, 400, "unknown config key -> 400")
    r = raw("imds", "POST", "/_control/config", [], b'{"require_token": "yes"}')
    t.check_eq(r.status, 400, "config value of the wrong type -> 400")
    r = raw("sts", "POST", "/_control/imds/frobnicate", [], b"{}")
    t.check_eq(r.status, 404, "unknown action -> 404")
    r = raw("ecs", "POST", "/_control/fail", [], b'{"on": ["token"]}')
    t.check_eq(r.status, 400, "fail 'on' a kind the fake does not have -> 400")


def test_imds():
    t.section("IMDS: botocore's chain with AWS_EC2_METADATA_SERVICE_ENDPOINT")
    akid, secret, token = fake_credentials("imds", 1)
    aws.reset("imds")
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is not None and creds.method == "iam-role", "botocore's chain picks the IMDS fake (iam-role)",
            creds and creds.method)
    t.check_eq(tuple(frozen(creds)) if creds else None, (akid, secret, token), "botocore got the fake's keys and token")
    recs = aws.requests("imds")
    t.check_eq([(r["method"], r["path"], r["status"], r["token"]) for r in recs],
               [("PUT", "/latest/api/token", 200, "none"),
                ("GET", "/latest/meta-data/iam/security-credentials/", 200, "valid"),
                ("GET", "/latest/meta-data/iam/security-credentials/sidecar-test-role", 200, "valid")],
               "IMDSv2 sequence: token PUT, then role and credentials with the token")
    t.check_eq(recs[0].get("token_ttl") if recs else None, 21600, "botocore asked for a 21600 s token")
    st = aws.state("imds")["counters"]
    t.check_eq((st.get("with_token"), st.get("without_token")), (2, 1), "counters: 2 requests with a token, 1 without")

    tok = imds_token(60)
    r = raw("imds", "GET", "/latest/meta-data/iam/security-credentials/sidecar-test-role",
            [("X-aws-ec2-metadata-token", tok)])
    doc = r.json() if r.status == 200 else {}
    t.check_eq(list(doc), ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"],
               "credentials document has IMDS's fields in IMDS's order")
    t.check_eq((doc.get("Code"), doc.get("Type")), ("Success", "AWS-HMAC"), "Code Success, Type AWS-HMAC")
    exp = doc.get("Expiration", "")
    t.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", exp) is not None and near(
        fake_aws.parse_iso8601(exp), fake_aws.utcnow() + datetime.timedelta(hours=6), 60),
        "Expiration is YYYY-MM-DDTHH:MM:SSZ, 6 h ahead", exp)
    t.check(b'"Code" : "Success"' in r.body, "IMDS's ' : ' JSON layout")

    t.section("IMDS: token rules")
    r = raw("imds", "PUT", "/latest/api/token")
    t.check_eq(r.status, 400, "token PUT without the TTL header -> 400")
    for ttl in ("0", "21601", "abc"):
        r = raw("imds", "PUT", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
        t.check_eq(r.status, 400, f"token TTL {ttl} -> 400")
    r = raw("imds", "GET", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "60")])
    t.check_eq(r.status, 405, "GET on the token path -> 405")
    r = raw("imds", "PUT", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "60"),
                                                  ("X-Forwarded-For", "10.0.0.1")])
    t.check_eq(r.status, 403, "token PUT with X-Forwarded-For -> 403")
    r = raw("imds", "PUT", "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "1")])
    t.check_eq(r.header("X-aws-ec2-metadata-token-ttl-seconds"), "1", "token answer echoes the TTL header")
    short = r.body.decode()
    role_path = "/latest/meta-data/iam/security-credentials/"
    r = raw("imds", "GET", role_path, [("X-aws-ec2-metadata-token", short)])
    t.check_eq((r.status, r.body), (200, b"sidecar-test-role"), "a fresh token works; the role is listed")
    time.sleep(1.2)
    r = raw("imds", "GET", role_path, [("X-aws-ec2-metadata-token", short)])
    t.check_eq(r.status, 401, "the same token after its 1 s TTL -> 401")
    t.check_eq(last("imds", path=role_path)["token"], "expired", "recorded as an expired token")
    r = raw("imds", "GET", role_path, [("X-aws-ec2-metadata-token", "AQAEAbogus")])
    t.check_eq(r.status, 401, "an unknown token -> 401")
    r = raw("imds", "GET", role_path)
    t.check_eq(r.status, 200, "IMDSv1 (no token) allowed by default")
    tok = imds_token(600)
    aws.invalidate_tokens()
    r = raw("imds", "GET", role_path, [("X-aws-ec2-metadata-token", tok)])
    t.check_eq(r.status, 401, "invalidate_tokens: an issued token -> 401")

    t.section("IMDS: require_token (IMDSv2 only)")
    aws.configure("imds", require_token=True)
    r = raw("imds", "GET", role_path)
    t.check(r.status == 401 and b"401 - Unauthorized" in r.body, "GET without a token -> IMDS's 401 page",
            r.status)
    creds, _ = chain_credentials(**imds_env())
    t.check_eq(frozen(creds).access_key if creds else None, akid, "botocore (IMDSv2) still gets credentials")
    aws.fail("imds", on=["token"], status=403, count=1)
    aws.reset("imds")
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is None, "token PUT refused (403) + IMDSv2 required: botocore gets no credentials")
    t.check_eq([(r["kind"], r["status"]) for r in aws.requests("imds")], [("token", 403), ("role", 401)],
               "botocore fell back to IMDSv1 and was refused with 401")
    aws.configure("imds", require_token=False)

    t.section("IMDS: hang, down, up")
    aws.configure("imds", hang=["token"])
    aws.reset("imds")
    creds, took = chain_credentials(**imds_env())
    t.check_eq(frozen(creds).access_key if creds else None, akid,
               "token PUT hangs (hop limit): botocore times out and falls back to IMDSv1")
    t.check_eq([(r["kind"], r["status"], r["token"]) for r in aws.requests("imds")],
               [("token", "hung", "none"), ("role", 200, "none"), ("credentials", 200, "none")],
               "records: the hung PUT, then v1 GETs without a token")
    aws.configure("imds", hang=True)
    creds, took = chain_credentials(**imds_env())
    t.check(creds is None and took < 5, f"everything hangs: no credentials, after {took:.1f} s (< 5)")
    with socket.create_connection((H, aws.ports["imds"]), timeout=2) as s:
        s.sendall(b"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(0.5)
        try:
            got = s.recv(100)
        except socket.timeout:
            got = None
        t.check(got is None, "a hung request gets no answer", got)
        aws.configure("imds", hang=False)
        s.settimeout(2)
        try:
            got = s.recv(100)
        except OSError as e:
            got = e
        t.check(got == b"" or isinstance(got, ConnectionResetError), "hang off: the held connection is closed",
                got)

    aws.down("imds", "refuse")
    try:
        socket.create_connection((H, aws.ports["imds"]), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    t.check(refused, "down refuse: connection refused")
    t.check_eq(aws.state("imds")["up"], False, "state says down (control listener still answers)")
    creds, took = chain_credentials(**imds_env())
    t.check(creds is None and took < 3, f"down: botocore gets no credentials ({took:.1f} s)")
    port = aws.ports["imds"]
    aws.up("imds")
    t.check_eq(aws.state("imds")["port"], port, "up: the same port")
    creds, _ = chain_credentials(**imds_env())
    t.check_eq(frozen(creds).access_key if creds else None, akid, "up: botocore gets credentials again")
    aws.down("imds", "close")
    try:
        raw("imds", "GET", role_path)
        closed = None
    except (OSError, http.client.HTTPException) as e:  # RemoteDisconnected, ConnectionResetError
        closed = e
    t.check(closed is not None and not isinstance(closed, (socket.timeout, ConnectionRefusedError)),
            f"down close: connection closed without an answer ({type(closed).__name__})")
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is None, "down close: botocore gets no credentials")
    aws.up("imds")
    r = raw("imds", "POST", "/_control/down", [], b'{"how": "refuse"}')
    t.check_eq(r.status, 200, "down through the fake's own port answers before the listener closes")
    try:
        socket.create_connection((H, aws.ports["imds"]), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    t.check(refused, "... and then refuses")
    aws.up("imds")

    t.section("IMDS: rotate, errors, role")
    new = aws.rotate("imds", expires_in=900)
    a2, s2, k2 = fake_credentials("imds", 2)
    t.check_eq((new["AccessKeyId"], new["SecretAccessKey"], new["Token"]), (a2, s2, k2),
               "rotate hands out generation 2 (deterministic)")
    t.check(near(fake_aws.parse_iso8601(new["Expiration"]), fake_aws.utcnow() + datetime.timedelta(seconds=900)),
            "rotate: Expiration 900 s ahead")
    creds, _ = chain_credentials(**imds_env())
    t.check_eq(tuple(frozen(creds)) if creds else None, (a2, s2, k2), "botocore gets the rotated keys")
    explicit = aws.rotate("imds", AccessKeyId="ASIA-EXPLICIT-0003", SecretAccessKey="explicit/secret",
                          Token="explicit-token", Expiration="2026-12-31T00:00:00Z")
    t.check_eq(explicit["Expiration"], "2026-12-31T00:00:00Z", "rotate with explicit values")
    creds, _ = chain_credentials(**imds_env())
    t.check_eq(frozen(creds).access_key if creds else None, "ASIA-EXPLICIT-0003", "botocore gets them")
    aws.rotate("imds", AccessKeyId=akid, SecretAccessKey=secret, Token=token)

    aws.fail("imds", on="credentials", status=500, count=1)
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is None, "forced 500 on the credentials document: botocore gets none")
    t.check_eq((last("imds", kind="credentials") or {}).get("forced"), True, "recorded as forced")
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is not None, "count 1: the next fetch works")
    aws.configure("imds", credentials_code="AssumeRoleUnauthorizedAccess")
    tok = imds_token()
    r = raw("imds", "GET", role_path + "sidecar-test-role", [("X-aws-ec2-metadata-token", tok)])
    t.check(r.status == 200 and r.json().get("Code") == "AssumeRoleUnauthorizedAccess" and "AccessKeyId" not in
            r.json(), "credentials_code: IMDS's 200 error document")
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is None, "botocore treats it as no credentials")
    aws.configure("imds", credentials_code="Success", role="other-role")
    with aws_env(**imds_env()):
        meta = InstanceMetadataFetcher(config={"ec2_metadata_service_endpoint": aws.url("imds")}) \
            .retrieve_iam_role_credentials()
    t.check_eq(meta.get("role_name"), "other-role", "role renamed: botocore follows the listing")
    aws.configure("imds", role=None)
    creds, _ = chain_credentials(**imds_env())
    t.check(creds is None, "no role (listing 404): no credentials")
    aws.configure("imds", role="sidecar-test-role")
    r = raw("imds", "GET", "/latest/meta-data/placement/region")
    t.check_eq((r.status, r.body), (200, b"us-east-1"), "placement/region")


def test_container():
    t.section("container endpoint: botocore's chain with AWS_CONTAINER_CREDENTIALS_FULL_URI")
    akid, secret, token = fake_credentials("ecs", 1)
    aws.reset("ecs")
    creds, _ = chain_credentials(**ecs_env())
    t.check(creds is not None and creds.method == "container-role", "botocore's chain picks the container fake",
            creds and creds.method)
    t.check_eq(tuple(frozen(creds)) if creds else None, (akid, secret, token), "botocore got the fake's credentials")
    rec = last("ecs")
    t.check_eq((rec["path"], rec["authorization"], rec["auth"]), ("/creds", ECS_TOKEN, "valid"),
               "the request carried AWS_CONTAINER_AUTHORIZATION_TOKEN as Authorization")
    env = dict(ecs_env(), **imds_env())
    creds, _ = chain_credentials(**env)
    t.check_eq(creds.method if creds else None, "container-role", "container and IMDS both set: container wins")

    r = raw("ecs", "GET", "/creds", [("Authorization", ECS_TOKEN)])
    t.check_eq(list(r.json()) if r.status == 200 else r.status,
               ["RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"], "ECS document fields")
    r = raw("ecs", "GET", "/creds")
    t.check_eq(r.status, 401, "no Authorization -> 401")
    r = raw("ecs", "GET", "/creds", [("Authorization", "wrong")])
    t.check_eq(r.status, 401, "wrong Authorization -> 401")
    r = raw("ecs", "GET", "/other", [("Authorization", ECS_TOKEN)])
    t.check_eq(r.status, 404, "another path -> 404")
    try:
        fast_container_provider(ecs_env(token="wrong")).load()
        err = None
    except CredentialRetrievalError as e:
        err = e
    t.check(err is not None and "401" in str(err), "botocore with a wrong token: CredentialRetrievalError (401)", err)

    t.section("container endpoint: rotation, hang, down, EKS style")
    aws.rotate("ecs", expires_in=60)
    a2 = fake_credentials("ecs", 2)[0]
    creds = fast_container_provider(ecs_env()).load()
    t.check_eq(creds.access_key, a2, "rotated credentials (60 s left)")
    aws.rotate("ecs", expires_in=3600)
    a3 = fake_credentials("ecs", 3)[0]
    t.check_eq(creds.get_frozen_credentials().access_key, a3,
               "botocore refreshes the soon-expiring credentials and gets the next rotation")
    aws.configure("ecs", hang=True)
    start = time.monotonic()
    try:
        fast_container_provider(ecs_env()).load()
        failed = False
    except CredentialRetrievalError:
        failed = True
    t.check(failed, f"hang: botocore times out ({time.monotonic() - start:.1f} s, 3 attempts)")
    aws.configure("ecs", hang=False)
    aws.down("ecs")
    try:
        fast_container_provider(ecs_env()).load()
        failed = False
    except CredentialRetrievalError:
        failed = True
    t.check(failed, "down: CredentialRetrievalError")
    aws.up("ecs")
    aws.fail("ecs", status=500, count=1)
    t.check_eq(fast_container_provider(ecs_env()).load().access_key, a3,
               "a forced 500 once: botocore retries and gets credentials")
    aws.configure("ecs", style="eks", path="/v1/credentials")
    r = raw("ecs", "GET", "/v1/credentials", [("Authorization", ECS_TOKEN)])
    t.check_eq(list(r.json()) if r.status == 200 else r.status,
               ["AccessKeyId", "SecretAccessKey", "Token", "AccountId", "Expiration"], "EKS Pod Identity fields")
    creds, _ = chain_credentials(**ecs_env(path="/v1/credentials"))
    t.check_eq(creds.access_key if creds else None, a3, "botocore reads the EKS style too")
    aws.configure("ecs", style="ecs", path="/creds")


def test_sts():
    t.section("STS: AssumeRole signed by botocore, verified by the fake")
    with aws_env(AWS_ENDPOINT_URL_STS="http://127.0.0.1:1"):
        default_endpoint = botocore.session.Session().create_client("sts", region_name="us-east-1").meta.endpoint_url
    print(f"  note: botocore {botocore.__version__} with AWS_ENDPOINT_URL_STS set uses {default_endpoint}; "
          + ("it ignores the variable, so" if "127.0.0.1" not in default_endpoint else "it honours it; still")
          + " the STS clients here get endpoint_url explicitly")

    aws.reset("sts")
    n = aws.state("sts")["generation"] + 1
    resp = sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="selftest-session", ExternalId="ext-123",
                             DurationSeconds=1800)
    c = resp["Credentials"]
    a, s, k = fake_credentials("sts", n)
    t.check_eq((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]), (a, s, k),
               "AssumeRole: botocore parses the fake's credentials")
    t.check(near(c["Expiration"], fake_aws.utcnow() + datetime.timedelta(seconds=1800)),
            "Expiration = now + DurationSeconds", c["Expiration"])
    t.check_eq(resp["AssumedRoleUser"]["Arn"], "arn:aws:sts::123456789012:assumed-role/sidecar-assumed/selftest-session",
               "AssumedRoleUser.Arn")
    t.check(resp["ResponseMetadata"]["RequestId"] != "", "RequestId parsed")
    rec = last("sts", action="AssumeRole")
    t.check_eq({k: rec["params"].get(k) for k in ("RoleArn", "RoleSessionName", "ExternalId", "DurationSeconds")},
               {"RoleArn": ROLE_ARN, "RoleSessionName": "selftest-session", "ExternalId": "ext-123",
                "DurationSeconds": "1800"}, "recorded RoleArn, RoleSessionName, ExternalId, DurationSeconds")
    t.check_eq((rec["signed"], rec["access_key_id"], rec["identity"], rec["region"]),
               (True, fake_aws.BASE_AKID, fake_aws.BASE_ARN, "us-east-1"), "recorded the verified signer")

    who = sts(a, s, k).get_caller_identity()
    t.check_eq((who["Arn"], who["Account"]), ("arn:aws:sts::123456789012:assumed-role/sidecar-assumed/selftest-session",
                                              "123456789012"), "GetCallerIdentity with the assumed credentials")
    t.check(who["UserId"].startswith("AROA") and who["UserId"].endswith(":selftest-session"), "UserId AROA...:session")
    who = sts().get_caller_identity()
    t.check_eq(who["Arn"], fake_aws.BASE_ARN, "GetCallerIdentity with the base credentials")
    who = sts(fake_aws.TOKEN_AKID, fake_aws.TOKEN_SECRET, fake_aws.SESSION_TOKEN, region="eu-west-1").get_caller_identity()
    t.check(who["Arn"].endswith(":user/sidecar-token-user"), "base credentials with a session token, another region")
    ia, isec, itok = fake_credentials("imds", 1)
    who = sts(ia, isec, itok).get_caller_identity()
    t.check_eq(who["Arn"], "arn:aws:sts::123456789012:assumed-role/sidecar-test-role/i-0fa4e5d1c0ffee001",
               "GetCallerIdentity with the IMDS fake's credentials")

    with aws_env():
        fetcher = AssumeRoleCredentialFetcher(client_creator(), Credentials(fake_aws.BASE_AKID, fake_aws.BASE_SECRET),
                                              ROLE_ARN, extra_args={"RoleSessionName": "botocore-fetcher"})
        got = fetcher.fetch_credentials()
    t.check(got["access_key"].startswith("ASIA-STSX-FAKE"), "botocore's own AssumeRoleCredentialFetcher", got.get("access_key"))

    t.section("STS: rejected signatures and error documents")
    e = check_client_error(lambda: sts(secret="wrong/secret").assume_role(RoleArn=ROLE_ARN, RoleSessionName="x1"),
                           "SignatureDoesNotMatch", 403, "wrong secret")
    t.check(e is not None and "The Canonical String for this request should have been" in e.response["Error"]["Message"],
            "the message has the canonical string")
    t.check(e is not None and e.response["Error"].get("Type") == "Sender", "Type Sender")
    client = sts()

    def tamper(request, **kw):
        body = request.body
        if isinstance(body, bytes):
            request.body = body.replace(b"tamper-a", b"tamper-b")
        else:
            request.body = body.replace("tamper-a", "tamper-b")
    client.meta.events.register("before-send.sts.AssumeRole", tamper)
    check_client_error(lambda: client.assume_role(RoleArn=ROLE_ARN, RoleSessionName="tamper-a"),
                       "SignatureDoesNotMatch", 403, "body changed after signing")
    t.check_eq(last("sts", action="AssumeRole")["params"]["RoleSessionName"], "tamper-b", "the tampered body arrived")
    check_client_error(lambda: sts(akid="AKIDUNKNOWN0000000").assume_role(RoleArn=ROLE_ARN, RoleSessionName="x2"),
                       "InvalidClientTokenId", 403, "unknown access key id")
    check_client_error(lambda: sts(ia, isec, "wrong-token").get_caller_identity(),
                       "InvalidClientTokenId", 403, "wrong session token")
    check_client_error(lambda: sts(unsigned=True).assume_role(RoleArn=ROLE_ARN, RoleSessionName="x3"),
                       "MissingAuthenticationToken", 403, "unsigned AssumeRole")
    check_client_error(lambda: sts(region="us-east-1").assume_role(RoleArn=ROLE_ARN, RoleSessionName="x4",
                                                                   DurationSeconds=7200),
                       "ValidationError", 400, "DurationSeconds above MaxSessionDuration")
    check_client_error(lambda: sts().assume_role(RoleArn="arn:aws:iam::123456789012:user/not-a-role",
                                                 RoleSessionName="x5"), "ValidationError", 400, "not a role ARN")
    aws.configure("sts", require_external_id="ext-required")
    check_client_error(lambda: sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="x6"),
                       "AccessDenied", 403, "required ExternalId missing")
    t.check(sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="x7", ExternalId="ext-required")["Credentials"],
            "with the required ExternalId: credentials")
    aws.configure("sts", require_external_id=None)

    aws.fail("sts", code="AccessDenied", count=2, on=["AssumeRole"])
    for i in (1, 2):
        check_client_error(lambda: sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="forced"),
                           "AccessDenied", 403, f"forced AccessDenied, call {i} of 2")
    t.check(sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="forced")["Credentials"], "call 3 succeeds")
    aws.fail("sts", code="Throttling", count=1)
    check_client_error(lambda: sts().get_caller_identity(), "Throttling", 400, "forced Throttling")
    aws.fail("sts", code="RegionDisabledException", count=1)
    check_client_error(lambda: sts().get_caller_identity(), "RegionDisabledException", 403, "forced RegionDisabled")
    aws.fail("sts", status=503, code="ServiceUnavailable", count=1)
    r = raw("sts", "POST", "/", [("Content-Type", "application/x-www-form-urlencoded")],
            b"Action=GetCallerIdentity&Version=2011-06-15")
    root = ET.fromstring(r.body)
    t.check_eq((r.status, root.tag, root.find(f"{NS}Error/{NS}Type").text, root.find(f"{NS}Error/{NS}Code").text),
               (503, f"{NS}ErrorResponse", "Receiver", "ServiceUnavailable"), "raw error document: 503, Receiver")
    t.check_eq((r.header("Content-Type"), root.find(f"{NS}RequestId").text), ("text/xml", r.header("x-amzn-RequestId")),
               "text/xml; RequestId in the body and in x-amzn-RequestId")
    r = raw("sts", "POST", "/", [("Content-Type", "application/x-www-form-urlencoded")],
            b"Action=Frobnicate&Version=2011-06-15")
    t.check(r.status == 400 and b"<Code>InvalidAction</Code>" in r.body, "unknown Action -> InvalidAction 400")

    t.section("STS: AssumeRoleWithWebIdentity through AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN")
    token_file = os.path.join(t.work_dir(), "web-identity-token")
    with open(token_file, "w") as f:
        f.write(fake_aws.DEFAULT_WEB_IDENTITY_TOKEN)
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": token_file, "AWS_ROLE_ARN": ROLE_ARN, "AWS_ROLE_SESSION_NAME": "irsa-session"}

    def web_identity():
        with aws_env(**env):
            provider = AssumeRoleWithWebIdentityProvider(load_config=lambda: {}, client_creator=client_creator(),
                                                         profile_name="default", cache={})
            creds = provider.load()
            return creds, creds.get_frozen_credentials() if creds is not None else None
    n = aws.state("sts")["generation"] + 1
    creds, fz = web_identity()
    t.check_eq((creds.method, tuple(fz)), ("assume-role-with-web-identity", fake_credentials("sts", n)),
               "botocore's web identity provider gets the fake's credentials")
    rec = last("sts", action="AssumeRoleWithWebIdentity")
    t.check_eq((rec["signed"], rec["params"]["WebIdentityToken"], rec["params"]["RoleArn"],
                rec["params"]["RoleSessionName"]),
               (False, fake_aws.DEFAULT_WEB_IDENTITY_TOKEN, ROLE_ARN, "irsa-session"),
               "unsigned request with the token file's contents, role and session name")
    with open(token_file, "w") as f:
        f.write("eyJ.wrong.token")
    e = client_error(web_identity)
    t.check(e is not None and e.response["Error"]["Code"] == "InvalidIdentityToken"
            and e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "a wrong token: InvalidIdentityToken (400)",
            e and e.response["Error"])
    aws.configure("sts", web_identity_token_file=token_file)
    creds, fz = web_identity()
    t.check(fz is not None and fz.access_key.startswith("ASIA-STSX-FAKE"),
            "web_identity_token_file: the fake expects whatever the file holds")
    aws.configure("sts", web_identity_token_file=None)

    t.section("STS: Date header, clock skew, expired credentials")
    r = raw("sts", "POST", "/", [], b"")
    date = email.utils.parsedate_to_datetime(r.header("Date"))
    t.check(near(date, fake_aws.utcnow(), 3), "Date header is the server's time", r.header("Date"))
    aws.configure("sts", clock_skew=3600)
    r = raw("sts", "POST", "/", [], b"")
    date = email.utils.parsedate_to_datetime(r.header("Date"))
    t.check(near(date, fake_aws.utcnow() + datetime.timedelta(hours=1), 3), "clock_skew 3600: Date 1 h ahead",
            r.header("Date"))
    e = check_client_error(lambda: sts().get_caller_identity(), "SignatureDoesNotMatch", 403,
                           "a request signed now against a server 1 h ahead")
    t.check(e is not None and e.response["Error"]["Message"].startswith("Signature expired:"),
            "message 'Signature expired: ...'", e and e.response["Error"]["Message"])
    aws.configure("sts", clock_skew=0)
    aws.configure("sts", credential_lifetime=1)
    c = sts().assume_role(RoleArn=ROLE_ARN, RoleSessionName="short-lived")["Credentials"]
    aws.configure("sts", credential_lifetime=None)
    time.sleep(1.2)
    check_client_error(lambda: sts(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity(),
                       "ExpiredToken", 403, "issued credentials past their Expiration")


def main():
    global aws
    start = time.monotonic()
    _, aws = fake_aws.start(["--ecs-auth-token", ECS_TOKEN])
    test_start()
    test_imds()
    test_container()
    test_sts()
    took = time.monotonic() - start
    t.check(took < 60, f"self-test took {took:.1f} s (< 60)")


if __name__ == "__main__":
    t.run_main(main)
