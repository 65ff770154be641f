#!/usr/bin/python3
"""Fakes of the AWS credential endpoints for loopback tests, speaking the real wire formats.

One process runs up to three fakes, each an HTTP/1.1 ThreadingHTTPServer on its own 127.0.0.1:0 port, plus a
control-only listener. botocore (Debian's python3-botocore) is the reference client they are tested with
(tests/integration/fake_aws_selftest.py).

  imds  EC2 instance metadata service     AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT
  sts   STS, Query protocol (XML)         AWS_ENDPOINT_URL_STS=http://127.0.0.1:PORT
  ecs   container credentials endpoint    AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds
        (ECS task role / EKS Pod Identity)  + AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]

Command line
------------
  fake_aws.py --ports-file FILE [--fakes imds,sts,ecs] [--host 127.0.0.1|::1] [--account 123456789012]
      [--clock-skew SECONDS]                                  (all fakes; see clock_skew below)
      [--imds-role NAME] [--imds-require-token] [--imds-expires-in SECONDS]
      [--imds-credentials AKID:SECRET:TOKEN]
      [--sts-credentials AKID:SECRET[:TOKEN][,ARN]]...         (base credentials STS accepts signatures of)
      [--web-identity-token TOKEN | --web-identity-token-file FILE] [--sts-require-external-id ID]
      [--sts-region REGION] [--sts-credential-lifetime SECONDS]
      [--ecs-path PATH] [--ecs-auth-token TOKEN] [--ecs-role-arn ARN] [--ecs-style ecs|eks]
      [--ecs-expires-in SECONDS] [--ecs-credentials AKID:SECRET:TOKEN]
      [--set FAKE.KEY=JSON]...                                (any config key below, e.g. --set imds.hang=true)

When every listener is up, FILE is written atomically with one JSON line:
  {"imds": PORT, "sts": PORT, "ecs": PORT, "control": PORT}
(only the fakes asked for, and always "control"). Logs: one line per request on stderr, never a secret
(tokens and Authorization values are not logged). SIGTERM/SIGINT end the process.

From Python (tests/integration/*.py):
  import fake_aws
  proc, aws = fake_aws.start(["--ecs-auth-token", "tok"])   # testlib Process (killed at exit) and a Client
  aws.url("imds")                   -> "http://127.0.0.1:PORT"
  aws.configure("imds", require_token=True); aws.rotate("imds", expires_in=600); aws.down("imds"); aws.up("imds")
  aws.fail("sts", code="AccessDenied", count=2); aws.requests("sts"); aws.state("ecs"); aws.reset("imds")
  fake_aws.imds_env(aws)            -> a sidecar's environment: credentials from the imds fake, STS at the sts one
  fake_aws.fake_credentials("imds", 2)  -> the (akid, secret, token) the imds fake's 2nd rotation will hand out
Or in-process: w = fake_aws.World(); fake_aws.ImdsFake(w); w.start(); ...; w.stop().

Credentials handed out
----------------------
Deterministic: generation n of fake KIND (imds, ecs, sts) is fake_credentials(KIND, n) = (akid, secret, token),
akid "ASIA-" + KIND(4 chars, X-padded) + "-FAKE-" + n as 8 digits (e.g. ASIA-IMDS-FAKE-00000001: hyphenated, so
nothing takes it for a real access key id).
IMDS and ECS start at generation 1 (unless --*-credentials), each rotate is the next generation (unless the
rotate names explicit values); STS's n counts the credentials it issued. Every credential a fake hands out is
also registered with the STS fake, so GetCallerIdentity (and AssumeRole) signed with IMDS/ECS/STS credentials
works and answers that identity's ARN; they stop being accepted (ExpiredToken) once their Expiration passes.
Old credentials stay valid after a rotation until their own Expiration, as on AWS.

Control API (JSON over HTTP, on every listener)
-----------------------------------------------
  /_control/ACTION        on a fake's own port: that fake
  /_control/FAKE/ACTION   on any listener (the "control" port too, which keeps working while a fake is down)
  GET  /_control/ports                   -> {"imds": PORT, ..., "control": PORT}
  GET  state                             -> {"name", "port", "up", "down", "config", "failures", "counters",
                                             "credentials" (imds, ecs), "generation", "tokens" (imds)}
       counters: {"total", "by_path": {"METHOD /path": n}, "by_kind": {...}, "by_status": {"200": n},
                  imds also "with_token", "without_token"}
  GET  requests                          -> {"requests": [record, ...]} (oldest first, last 2000). A record:
       {"seq", "time", "method", "path", "query", "kind", "status" (int, or "hung"/"closed"), "forced" (bool)}
       imds: + "token": "none"|"valid"|"invalid"|"expired", "token_ttl" (token PUTs)
       ecs:  + "authorization" (the value received or null), "auth": "none"|"valid"|"invalid"|"not-required"
       sts:  + "action", "params" (every form/query parameter but Action and Version), "signed" (bool),
               "access_key_id" (from Authorization), "region" (of the scope), "identity" (ARN, verified ones),
               "error" (STS error code answered, if any)
  POST reset                             counters and request records cleared (config, failures kept)
  POST config {KEY: VALUE, ...}          change config keys (below); unknown keys/types -> 400. -> {"config"}
  POST fail {"on": [KIND...]|"any", "count": N (1; -1 = until cleared), "status": HTTP status,
             "code": STS error code, "message": text, "body": text (imds/ecs)}
                                         the next N matching requests get this error instead of an answer
                                         (sts: the real error document; status from the table below when
                                         only a code is given). Several are queued in order.
  POST clear_failures
  POST down {"how": "refuse"|"close"}    refuse: the listener is closed (connection refused) and open
                                         connections are shut down; close: connections are accepted, the
                                         request read and the connection closed with no answer.
  POST up                                back to normal, same port
  POST rotate {"expires_in": S, "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}   (imds, ecs)
                                         next credentials (fields given override the generated ones;
                                         Expiration "YYYY-MM-DDTHH:MM:SSZ" overrides expires_in) -> {"credentials"}
  POST invalidate_tokens                 (imds) every issued session token becomes invalid (401)
  POST add_credentials {"AccessKeyId", "SecretAccessKey", "Token", "Arn", "Expiration"}   (sts) base creds

Config keys (POST config, --set FAKE.KEY=JSON); common to all fakes:
  hang        false | true | [KIND, ...]   accept and read matching requests, never answer; the connection is
              held until the client closes it, the fake goes down, or hang is turned off (then closed, no
              answer). Default false.
  delay_ms    answer after this many ms (0)
  clock_skew  seconds added to the server clock: the Date header of every answer and the time STS checks
              X-Amz-Date against (0). Expirations are not skewed.
imds (kinds: token, role, credentials, other):
  require_token (false)       true = IMDSv2 only: a GET without X-aws-ec2-metadata-token gets 401. An invalid
                              or expired token gets 401 either way.
  role ("sidecar-test-role")  the role listed and served; null = no instance profile (listing 404)
  max_token_ttl (21600)       PUT /latest/api/token TTL must be 1..this, else 400
  expires_in (21600)          default lifetime of rotated credentials (seconds)
  credentials_code ("Success") anything else: the credentials document is IMDS's error form
                              {"Code": CODE, "Message", "LastUpdated"} with status 200 (as IMDS does)
  region ("us-east-1"), instance_id ("i-0fa4e5d1c0ffee001")
ecs (kinds: credentials, other):
  path ("/creds")             the path served (query ignored); null = any path; others 404
  auth_token (null)           when set, Authorization must equal it exactly, else 401
  role_arn ("arn:aws:iam::123456789012:role/sidecar-task-role"), style ("ecs" | "eks": adds AccountId),
  expires_in (21600)
sts (kinds: AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity, other):
  web_identity_token (a fixed JWT-shaped string, DEFAULT_WEB_IDENTITY_TOKEN); null = any non-empty token
  web_identity_token_file (null) when set, the expected token is this file's content, read on each request
  require_external_id (null)  AssumeRole without this ExternalId -> AccessDenied
  roles (null)                list of role ARNs AssumeRole may assume (others AccessDenied); null = any
  max_session_duration (3600) DurationSeconds above it -> ValidationError (900..43200 always enforced)
  credential_lifetime (null)  seconds: overrides DurationSeconds for the Expiration of issued credentials
                              (real STS never goes below 900; tests of refresh need shorter)
  region (null)               when set, the credential scope's region must be it; null = any region
  max_skew (900)              allowed X-Amz-Date distance from the (skewed) server clock
  account ("123456789012")

STS
---
POST / with `Action=...&Version=2011-06-15&...` (application/x-www-form-urlencoded; query parameters count
too). AssumeRole and GetCallerIdentity must be SigV4-signed (service sts, any region unless `region`) with
known credentials: the signature is recomputed with verifier.py's botocore-based compute_signature. Checks, in
order, and the error each gives: Authorization missing -> MissingAuthenticationToken 403; malformed ->
IncompleteSignature 400; scope service not sts / wrong region -> SignatureDoesNotMatch 403; unknown access key
or missing/wrong X-Amz-Security-Token -> InvalidClientTokenId 403; credentials past their Expiration ->
ExpiredToken 403; host or X-Amz-Date not signed, X-Amz-Date missing -> IncompleteSignature 400; X-Amz-Date
outside max_skew -> SignatureDoesNotMatch "Signature expired: ..." 403; signature wrong ->
SignatureDoesNotMatch 403 (the message has the canonical string and string to sign). AssumeRoleWithWebIdentity
is unsigned; its WebIdentityToken must equal the configured one, else InvalidIdentityToken 400. Parameter
errors are ValidationError 400. Success documents are STS's XML (Content-Type text/xml, x-amzn-RequestId);
errors are <ErrorResponse xmlns=...><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/>.
Forced errors use STS_ERRORS for status and default message (an unknown code needs a status; 400 otherwise).
Only header (Authorization) signatures are verified; presigned query-string authentication is not supported.

Defaults: STS accepts the test credentials of testlib.py (TEST_AKID/TEST_SECRET with the user ARN
arn:aws:iam::123456789012:user/sidecar-test-user, and TOKEN_AKID/TOKEN_SECRET/SESSION_TOKEN) unless
--sts-credentials is given.
"""
import argparse
import base64
import collections
import datetime
import email.utils
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from xml.sax.saxutils import escape as xml_escape

SUPPORT_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SUPPORT_DIR)
import verifier  # noqa: E402  (botocore-based SigV4 recomputation; puts Debian's dist-packages on sys.path)

ACCOUNT_ID = "123456789012"
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
STS_VERSION = "2011-06-15"
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
FAKE_NAMES = ("imds", "sts", "ecs")

# the same values as testlib.TEST_AKID/TEST_SECRET and TOKEN_AKID/TOKEN_SECRET/SESSION_TOKEN
BASE_AKID, BASE_SECRET = "AKIDSIDECARE2E0001", "sidecarE2EsecretKEY/0123456789abcdefEXAMPLE"
TOKEN_AKID, TOKEN_SECRET = "ASIASIDECARE2E0002", "sidecarE2EtokenSECRET/0123456789abcdEXAMPLE"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE2E2E//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+sidecar/token+with+plus=="
BASE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/sidecar-test-user"
DEFAULT_IMDS_ROLE = "sidecar-test-role"
DEFAULT_ECS_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/sidecar-task-role"


def _b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


# JWT-shaped (header.payload.signature), as the projected service account token of IRSA is
DEFAULT_WEB_IDENTITY_TOKEN = ".".join([
    _b64url({"alg": "RS256", "kid": "fake-aws"}),
    _b64url({"aud": ["sts.amazonaws.com"], "iss": "https://oidc.eks.us-east-1.amazonaws.com/id/FAKEAWS",
             "sub": "system:serviceaccount:default:sigv4-sidecar"}),
    base64.urlsafe_b64encode(hashlib.sha256(b"fake-aws-signature").digest()).decode().rstrip("=")])

SIGNATURE_MISMATCH_TEXT = verifier.SIGNATURE_MISMATCH_TEXT

# code -> (HTTP status, Type, default message): what STS answers with each error code
STS_ERRORS = {
    "AccessDenied": (403, "Sender", "User is not authorized to perform: sts:AssumeRole"),
    "ExpiredToken": (403, "Sender", "The security token included in the request is expired"),
    "ExpiredTokenException": (400, "Sender", "Token expired: current date/time must be before the expiration "
                                             "date/time"),
    "IDPCommunicationError": (400, "Sender", "Couldn't retrieve verification key from your identity provider,  "
                                             "please reference AssumeRoleWithWebIdentity documentation for "
                                             "requirements"),
    "IDPRejectedClaim": (403, "Sender", "The identity provider rejected the claim"),
    "IncompleteSignature": (400, "Sender", "Authorization header requires 'Credential', 'SignedHeaders' and "
                                           "'Signature' parameters."),
    "InternalFailure": (500, "Receiver", "We encountered an internal error. Please try again."),
    "InvalidAction": (400, "Sender", "Could not find operation"),
    "InvalidClientTokenId": (403, "Sender", "The security token included in the request is invalid."),
    "InvalidIdentityToken": (400, "Sender", "The web identity token that was passed could not be validated by "
                                            "AWS. Get a new identity token from the identity provider and then "
                                            "retry the request."),
    "MalformedPolicyDocument": (400, "Sender", "The policy document is malformed."),
    "MissingAction": (400, "Sender", "Missing Action"),
    "MissingAuthenticationToken": (403, "Sender", "Request is missing Authentication Token"),
    "PackedPolicyTooLarge": (400, "Sender", "Packed policy consumes more than the allowed size."),
    "RegionDisabledException": (403, "Sender", f"STS is not activated in this region for account:{ACCOUNT_ID}. "
                                               "Your account administrator can activate STS in this region "
                                               "using the IAM Console."),
    "ServiceUnavailable": (503, "Receiver", "Service Unavailable"),
    "SignatureDoesNotMatch": (403, "Sender", SIGNATURE_MISMATCH_TEXT),
    "Throttling": (400, "Sender", "Rate exceeded"),
    "ValidationError": (400, "Sender", "1 validation error detected"),
}

HTTP_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}


# ---------------------------------------------------------------------------------------------------------
# time, credentials, identities


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso8601(t):
    return t.strftime(ISO8601)


def parse_iso8601(text):
    return datetime.datetime.strptime(text, ISO8601).replace(tzinfo=datetime.timezone.utc)


def _b64(data):
    return base64.b64encode(data).decode()


def _upper_id(text, n=17):
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:n]


def fake_credentials(kind, n):
    """The deterministic credentials of generation n of fake `kind`: (access_key_id, secret, session_token)."""
    tag = (re.sub(r"[^A-Z0-9]", "", kind.upper()) + "XXXX")[:4]
    akid = f"ASIA-{tag}-FAKE-{n:08d}"
    secret = _b64(hashlib.sha256(f"fake-aws/{kind}/{n}/secret".encode()).digest())[:40]
    token = "IQoJb3JpZ2luX2Vj" + _b64(hashlib.sha512(f"fake-aws/{kind}/{n}/token".encode()).digest() * 3)
    return akid, secret, token


def arn_account(arn):
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None


class Identity:
    """Credentials the STS fake accepts signatures of, and who they are (GetCallerIdentity)."""

    def __init__(self, akid, secret, token=None, arn=BASE_ARN, user_id=None, account=None, expires=None,
                 source="configured"):
        self.akid, self.secret, self.token, self.arn = akid, secret, token or None, arn
        self.account = account or arn_account(arn) or ACCOUNT_ID
        self.user_id = user_id or ("AIDA" + _upper_id(akid))
        self.expires, self.source = expires, source


class Registry:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_akid = {}

    def add(self, identity):
        with self._lock:
            self._by_akid[identity.akid] = identity

    def get(self, akid):
        with self._lock:
            return self._by_akid.get(akid)


class ControlError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def html_error(status):
    """IMDS's error page."""
    title = f"{status} - {HTTP_REASONS.get(status, 'Error')}"
    return ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            f' <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n')


# ---------------------------------------------------------------------------------------------------------
# the fakes


class Request:
    """What a fake sees of one request."""

    def __init__(self, handler, path, query, body):
        self.handler, self.method, self.path, self.query, self.body = handler, handler.command, path, query, body
        self.headers = handler.headers
        self.params = {}


def _bool(v):
    return isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v):
    return isinstance(v, str)


def _opt(check):
    return lambda v: v is None or check(v)


class Fake:
    """One fake endpoint: config, queued failures, request records, and its listener (up/down)."""

    name = None
    kinds = ("other",)
    server_header = "fake-aws"
    defaults = {}
    schema = {}

    def __init__(self, world, **config):
        self.world = world
        self.lock = threading.RLock()
        self.config = {"hang": False, "delay_ms": 0, "clock_skew": 0}
        self.config.update(self.defaults)
        self.failures = []
        self.records = collections.deque(maxlen=2000)
        self.seq = 0
        self._reset_counters()
        self.server = None
        self.port = 0
        self.down = None
        self.connections = set()
        if config:
            self.configure(config)
        world.add(self)

    # --- config -----------------------------------------------------------------------------------------
    def _check(self, key, value):
        if key == "hang":
            ok = _bool(value) or (isinstance(value, list) and all(_str(k) and k in self.kinds for k in value))
            if not ok:
                raise ControlError(f"hang wants true, false or a list of {list(self.kinds)}")
            return
        if key in ("delay_ms", "clock_skew"):
            if not _int(value) or (key == "delay_ms" and value < 0):
                raise ControlError(f"{key} wants an integer")
            return
        check = self.schema.get(key)
        if check is None:
            raise ControlError(f"unknown {self.name} config key {key!r}; known: "
                               f"{sorted(['hang', 'delay_ms', 'clock_skew'] + list(self.schema))}")
        if not check(value):
            raise ControlError(f"bad value for {self.name} {key}: {value!r}")

    def configure(self, changes):
        for key, value in changes.items():
            self._check(key, value)
        with self.lock:
            self.config.update(changes)
            return dict(self.config)

    def hangs(self, kind):
        with self.lock:
            h = self.config["hang"]
            if self.down == "refuse":
                return False
        return h is True or (isinstance(h, list) and kind in h)

    # --- failures ---------------------------------------------------------------------------------------
    def add_failure(self, spec):
        spec = dict(spec)
        on = spec.pop("on", ["any"])
        on = [on] if isinstance(on, str) else on
        if not isinstance(on, list) or not all(k == "any" or k in self.kinds for k in on):
            raise ControlError(f"fail: 'on' wants 'any' or a list of {list(self.kinds)}")
        count = spec.pop("count", 1)
        if not _int(count) or count == 0:
            raise ControlError("fail: count wants a non-zero integer (-1 = until cleared)")
        failure = {"on": on, "count": count}
        for key, check in (("status", _int), ("code", _str), ("message", _str), ("body", _str)):
            if key in spec:
                value = spec.pop(key)
                if not check(value):
                    raise ControlError(f"fail: bad {key} {value!r}")
                failure[key] = value
        if spec:
            raise ControlError(f"fail: unknown keys {sorted(spec)}")
        if "status" in failure and not 400 <= failure["status"] <= 599:
            raise ControlError("fail: status wants 400..599")
        self.check_failure(failure)
        with self.lock:
            self.failures.append(failure)
        return failure

    def check_failure(self, failure):
        if "status" not in failure:
            failure["status"] = 500

    def take_failure(self, kind):
        with self.lock:
            for f in self.failures:
                if "any" in f["on"] or kind in f["on"]:
                    if f["count"] > 0:
                        f["count"] -= 1
                        if f["count"] == 0:
                            self.failures.remove(f)
                    return dict(f)
        return None

    # --- records ----------------------------------------------------------------------------------------
    def _reset_counters(self):
        self.counters = {"total": 0, "by_path": collections.Counter(), "by_kind": collections.Counter(),
                         "by_status": collections.Counter()}

    def record(self, rec):
        with self.lock:
            self.seq += 1
            rec["seq"] = self.seq
            self.records.append(rec)
            c = self.counters
            c["total"] += 1
            c["by_path"][f"{rec['method']} {rec['path']}"] += 1
            c["by_kind"][rec["kind"]] += 1
            c["by_status"][str(rec["status"])] += 1
            self.count_extra(rec)

    def count_extra(self, rec):
        pass

    def state(self):
        with self.lock:
            counters = {k: (dict(v) if isinstance(v, collections.Counter) else v) for k, v in self.counters.items()}
            out = {"name": self.name, "port": self.port, "up": self.server is not None and self.down is None,
                   "down": self.down, "config": dict(self.config), "failures": [dict(f) for f in self.failures],
                   "counters": counters}
            out.update(self.extra_state())
            return out

    def extra_state(self):
        return {}

    # --- listener ---------------------------------------------------------------------------------------
    def start(self, port=0):
        server = FakeServer((self.world.host, port), self.world, self)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name=f"{self.name}-serve").start()
        with self.lock:
            self.server = server

    def stop_listening(self, keep=None):
        with self.lock:
            server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self.drop_connections(keep)

    def drop_connections(self, keep=None):
        with self.lock:
            conns = [c for c in self.connections if c is not keep]
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_down(self, how, keep=None):
        if how not in ("refuse", "close"):
            raise ControlError("down: how wants 'refuse' or 'close'")
        with self.lock:
            self.down = how
        if how == "refuse":
            self.stop_listening(keep)
        else:
            self.drop_connections(keep)

    def set_up(self):
        with self.lock:
            self.down = None
            listening = self.server is not None
        if not listening:
            try:
                self.start(self.port)
            except OSError as e:
                raise ControlError(f"cannot listen on {self.world.host}:{self.port} again: {e}", 500) from None

    # --- control ----------------------------------------------------------------------------------------
    def control(self, action, method, args, conn):
        if action in ("state", "requests"):
            if action == "state":
                return self.state()
            with self.lock:
                return {"requests": [dict(r) for r in self.records]}
        if method != "POST":
            raise ControlError(f"POST /_control/{self.name}/{action}", 405)
        if action == "reset":
            with self.lock:
                self.records.clear()
                self._reset_counters()
            return {"reset": True}
        if action == "config":
            return {"config": self.configure(args)}
        if action == "fail":
            return {"failure": self.add_failure(args)}
        if action == "clear_failures":
            with self.lock:
                self.failures.clear()
            return {"failures": []}
        if action == "down":
            self.set_down(args.get("how", "refuse"), keep=conn)
            return {"down": self.down}
        if action == "up":
            self.set_up()
            return {"up": True, "port": self.port}
        return self.extra_control(action, args)

    def extra_control(self, action, args):
        raise ControlError(f"no control action {action!r} on {self.name}", 404)

    # --- requests (overridden) ----------------------------------------------------------------------------
    def inspect(self, req, rec):
        """Classifies the request (returns its kind) and adds fake-specific fields to its record."""
        return "other"

    def handle(self, req, rec):
        raise NotImplementedError

    def send_failure(self, req, failure, rec):
        h = req.handler
        h.send(failure["status"], failure.get("body", ""), "text/plain")


class CredentialFake(Fake):
    """A fake that hands out one current set of credentials (IMDS, container endpoint), rotatable."""

    def __init__(self, world, credentials=None, **config):
        self.generation = 0
        self.creds = None
        super().__init__(world, **config)
        first = {}
        if credentials:
            first = {"AccessKeyId": credentials[0], "SecretAccessKey": credentials[1], "Token": credentials[2]}
        self.rotate(first)

    def identity(self):
        """(arn, user_id) of whoever holds these credentials."""
        raise NotImplementedError

    def rotate(self, args):
        expires_in = args.get("expires_in", self.config["expires_in"])
        if not _int(expires_in):
            raise ControlError("rotate: expires_in wants an integer (seconds)")
        for key in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration"):
            if key in args and not (_str(args[key]) and args[key]):
                raise ControlError(f"rotate: {key} wants a non-empty string")
        unknown = set(args) - {"expires_in", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
        if unknown:
            raise ControlError(f"rotate: unknown keys {sorted(unknown)}")
        now = utcnow()
        if "Expiration" in args:
            try:
                expires = parse_iso8601(args["Expiration"])
            except ValueError:
                raise ControlError("rotate: Expiration wants YYYY-MM-DDTHH:MM:SSZ") from None
        else:
            expires = now + datetime.timedelta(seconds=expires_in)
        with self.lock:
            self.generation += 1
            akid, secret, token = fake_credentials(self.name, self.generation)
            self.creds = {"AccessKeyId": args.get("AccessKeyId", akid),
                          "SecretAccessKey": args.get("SecretAccessKey", secret),
                          "Token": args.get("Token", token), "Expiration": iso8601(expires),
                          "LastUpdated": iso8601(now)}
            creds = dict(self.creds)
            arn, user_id = self.identity()
        self.world.registry.add(Identity(creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"], arn,
                                         user_id, arn_account(arn), expires, self.name))
        return {"credentials": creds, "generation": self.generation}

    def extra_state(self):
        return {"credentials": dict(self.creds) if self.creds else None, "generation": self.generation}

    def extra_control(self, action, args):
        if action == "rotate":
            return self.rotate(args)
        return super().extra_control(action, args)


# ---------------------------------------------------------------------------------------------------------
# IMDS

IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
IMDS_TOKEN_HEADER = "X-aws-ec2-metadata-token"
IMDS_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"


class ImdsFake(CredentialFake):
    name = "imds"
    kinds = ("token", "role", "credentials", "other")
    server_header = "EC2ws"
    defaults = {"require_token": False, "role": DEFAULT_IMDS_ROLE, "max_token_ttl": 21600, "expires_in": 21600,
                "credentials_code": "Success", "region": "us-east-1", "instance_id": "i-0fa4e5d1c0ffee001"}
    schema = {"require_token": _bool, "role": _opt(lambda v: _str(v) and v and "/" not in v),
              "max_token_ttl": lambda v: _int(v) and v >= 1, "expires_in": _int,
              "credentials_code": lambda v: _str(v) and v, "region": _str, "instance_id": _str}

    def __init__(self, world, credentials=None, **config):
        self.tokens = {}  # token -> monotonic expiry
        super().__init__(world, credentials, **config)

    def identity(self):
        role = self.config["role"] or "no-role"
        account = self.world.account
        return (f"arn:aws:sts::{account}:assumed-role/{role}/{self.config['instance_id']}",
                f"AROA{_upper_id(role)}:{self.config['instance_id']}")

    def token_status(self, token):
        if token is None:
            return "none"
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return "invalid"
        return "valid" if time.monotonic() < expiry else "expired"

    def inspect(self, req, rec):
        rec["token"] = self.token_status(req.headers.get(IMDS_TOKEN_HEADER))
        if req.path == IMDS_TOKEN_PATH:
            return "token"
        if req.path in (IMDS_CREDS_PATH, IMDS_CREDS_PATH.rstrip("/")):
            return "role"
        if req.path.startswith(IMDS_CREDS_PATH):
            return "credentials"
        return "other"

    def count_extra(self, rec):
        key = "with_token" if rec["token"] != "none" else "without_token"
        self.counters[key] = self.counters.get(key, 0) + 1

    def extra_state(self):
        out = super().extra_state()
        now = time.monotonic()
        with self.lock:
            out["tokens"] = sum(1 for e in self.tokens.values() if e > now)
        return out

    def extra_control(self, action, args):
        if action == "invalidate_tokens":
            with self.lock:
                n = len(self.tokens)
                self.tokens.clear()
            return {"invalidated": n}
        return super().extra_control(action, args)

    def send_failure(self, req, failure, rec):
        status = failure["status"]
        body = failure.get("body", html_error(status))
        req.handler.send(status, body, "text/html" if "body" not in failure else "text/plain")

    def error(self, h, status, headers=()):
        h.send(status, html_error(status), "text/html", headers)

    def handle(self, req, rec):
        h, kind = req.handler, rec["kind"]
        if kind == "token":
            if req.method != "PUT":
                return self.error(h, 405, [("Allow", "OPTIONS, PUT")])
            if req.headers.get("X-Forwarded-For") is not None:
                return self.error(h, 403)
            ttl_text = (req.headers.get(IMDS_TTL_HEADER) or "").strip()
            if not ttl_text.isdigit() or not 1 <= int(ttl_text) <= self.config["max_token_ttl"]:
                return self.error(h, 400)
            ttl = int(ttl_text)
            token = "AQAEA" + base64.urlsafe_b64encode(os.urandom(39)).decode()
            with self.lock:
                now = time.monotonic()
                self.tokens = {t: e for t, e in self.tokens.items() if e > now}
                self.tokens[token] = now + ttl
            rec["token_ttl"] = ttl
            return h.send(200, token, "text/plain", [(IMDS_TTL_HEADER, str(ttl))])
        if req.method not in ("GET", "HEAD"):
            return self.error(h, 405, [("Allow", "OPTIONS, GET, HEAD")])
        if rec["token"] in ("invalid", "expired") or (rec["token"] == "none" and self.config["require_token"]):
            return self.error(h, 401)
        with self.lock:
            cfg = dict(self.config)
            creds = dict(self.creds)
        role = cfg["role"]
        if kind == "role":
            if role is None:
                return self.error(h, 404)
            return h.send(200, role, "text/plain")
        if kind == "credentials":
            if role is None or req.path[len(IMDS_CREDS_PATH):] != role:
                return self.error(h, 404)
            if cfg["credentials_code"] != "Success":
                doc = {"Code": cfg["credentials_code"],
                       "Message": f"EC2 cannot assume the role {role}.  Please see documentation at "
                                  "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
                                  "id_roles_use_switch-role-ec2.html#roles-usingrole-ec2instance-roles.",
                       "LastUpdated": iso8601(utcnow())}
            else:
                doc = {"Code": "Success", "LastUpdated": creds["LastUpdated"], "Type": "AWS-HMAC",
                       "AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                       "Token": creds["Token"], "Expiration": creds["Expiration"]}
            # IMDS's own layout: two-space indent, " : " separators
            text = "{\n" + ",\n".join(f"  {json.dumps(k)} : {json.dumps(v)}" for k, v in doc.items()) + "\n}"
            return h.send(200, text, "text/plain")
        path = req.path
        if path == "/latest/meta-data/placement/region":
            return h.send(200, cfg["region"], "text/plain")
        if path == "/latest/meta-data/instance-id":
            return h.send(200, cfg["instance_id"], "text/plain")
        if path == "/latest/meta-data/iam/info" and role is not None:
            doc = {"Code": "Success", "LastUpdated": creds["LastUpdated"],
                   "InstanceProfileArn": f"arn:aws:iam::{self.world.account}:instance-profile/{role}",
                   "InstanceProfileId": "AIPA" + _upper_id(role)}
            return h.send(200, json.dumps(doc, indent=2), "text/plain")
        if path == "/latest/dynamic/instance-identity/document":
            doc = {"accountId": self.world.account, "architecture": "x86_64", "availabilityZone": cfg["region"] + "a",
                   "imageId": "ami-0fa4e5d1c0ffee001", "instanceId": cfg["instance_id"],
                   "instanceType": "t3.micro", "privateIp": "10.0.0.10", "region": cfg["region"], "version": "2017-09-30"}
            return h.send(200, json.dumps(doc, indent=2), "text/plain")
        return self.error(h, 404)


# ---------------------------------------------------------------------------------------------------------
# container credentials endpoint (ECS, EKS Pod Identity)


class ContainerFake(CredentialFake):
    name = "ecs"
    kinds = ("credentials", "other")
    defaults = {"path": "/creds", "auth_token": None, "role_arn": DEFAULT_ECS_ROLE_ARN, "style": "ecs",
                "expires_in": 21600}
    schema = {"path": _opt(lambda v: _str(v) and v.startswith("/")), "auth_token": _opt(_str),
              "role_arn": _str, "style": lambda v: v in ("ecs", "eks"), "expires_in": _int}

    def identity(self):
        arn = self.config["role_arn"]
        role = arn.rsplit("/", 1)[-1]
        account = arn_account(arn) or self.world.account
        return f"arn:aws:sts::{account}:assumed-role/{role}/fake-task-0fa4e5d1", f"AROA{_upper_id(arn)}:fake-task"

    def inspect(self, req, rec):
        value = req.headers.get("Authorization")
        expected = self.config["auth_token"]
        rec["authorization"] = value
        if expected is None:
            rec["auth"] = "not-required"
        else:
            rec["auth"] = "none" if value is None else ("valid" if value == expected else "invalid")
        path = self.config["path"]
        return "credentials" if path is None or req.path == path else "other"

    def send_failure(self, req, failure, rec):
        status = failure["status"]
        body = failure.get("body") or json.dumps({"code": HTTP_REASONS.get(status, "Error").replace(" ", ""),
                                                  "message": failure.get("message", "forced failure")})
        req.handler.send(status, body, "application/json")

    def handle(self, req, rec):
        h = req.handler
        if rec["kind"] != "credentials":
            return h.send(404, json.dumps({"code": "NotFound", "message": f"no credentials at {req.path}"}),
                          "application/json")
        if req.method not in ("GET", "HEAD"):
            return h.send(405, json.dumps({"code": "MethodNotAllowed", "message": "GET only"}), "application/json",
                          [("Allow", "GET")])
        if rec["auth"] in ("none", "invalid"):
            return h.send(401, json.dumps({"code": "InvalidToken" if rec["auth"] == "invalid" else "MissingToken",
                                           "message": "Authorization header is missing or does not match"}),
                          "application/json")
        with self.lock:
            creds, cfg = dict(self.creds), dict(self.config)
        if cfg["style"] == "eks":
            doc = {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                   "Token": creds["Token"], "AccountId": arn_account(cfg["role_arn"]) or self.world.account,
                   "Expiration": creds["Expiration"]}
        else:
            doc = {"RoleArn": cfg["role_arn"], "AccessKeyId": creds["AccessKeyId"],
                   "SecretAccessKey": creds["SecretAccessKey"], "Token": creds["Token"],
                   "Expiration": creds["Expiration"]}
        h.send(200, json.dumps(doc), "application/json")


# ---------------------------------------------------------------------------------------------------------
# STS


class StsError(Exception):
    def __init__(self, code, message=None, status=None):
        known = STS_ERRORS.get(code, (400, "Sender", code))
        self.code = code
        self.status = status or known[0]
        self.type = "Receiver" if self.status >= 500 else "Sender"
        self.message = message if message is not None else known[2]
        super().__init__(f"{code}: {self.message}")


def sts_error_document(error, request_id):
    return (f'<ErrorResponse xmlns="{STS_XMLNS}">\n'
            f'  <Error>\n'
            f'    <Type>{error.type}</Type>\n'
            f'    <Code>{xml_escape(error.code)}</Code>\n'
            f'    <Message>{xml_escape(error.message)}</Message>\n'
            f'  </Error>\n'
            f'  <RequestId>{request_id}</RequestId>\n'
            f'</ErrorResponse>\n')


def sts_document(action, result, request_id):
    return (f'<{action}Response xmlns="{STS_XMLNS}">\n'
            f'  <{action}Result>\n{result}'
            f'  </{action}Result>\n'
            f'  <ResponseMetadata>\n'
            f'    <RequestId>{request_id}</RequestId>\n'
            f'  </ResponseMetadata>\n'
            f'</{action}Response>\n')


def _validation(field, value, constraint):
    shown = "null" if value is None else f"'{value}'"
    return StsError("ValidationError", f"1 validation error detected: Value {shown} at '{field}' failed to "
                                       f"satisfy constraint: {constraint}")


ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")


class StsFake(Fake):
    name = "sts"
    kinds = ("AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity", "other")
    defaults = {"web_identity_token": DEFAULT_WEB_IDENTITY_TOKEN, "web_identity_token_file": None,
                "require_external_id": None, "roles": None, "max_session_duration": 3600,
                "credential_lifetime": None, "region": None, "max_skew": 900, "account": ACCOUNT_ID}
    schema = {"web_identity_token": _opt(_str), "web_identity_token_file": _opt(_str),
              "require_external_id": _opt(_str),
              "roles": _opt(lambda v: isinstance(v, list) and all(_str(x) for x in v)),
              "max_session_duration": lambda v: _int(v) and 900 <= v <= 43200,
              "credential_lifetime": _opt(lambda v: _int(v) and v >= 1), "region": _opt(_str),
              "max_skew": lambda v: _int(v) and v >= 0, "account": lambda v: _str(v) and re.fullmatch(r"\d{12}", v)}

    def __init__(self, world, base_credentials=None, **config):
        self.generation = 0
        super().__init__(world, **config)
        if base_credentials is None:
            base_credentials = [Identity(BASE_AKID, BASE_SECRET, None, BASE_ARN),
                                Identity(TOKEN_AKID, TOKEN_SECRET, SESSION_TOKEN,
                                         f"arn:aws:iam::{ACCOUNT_ID}:user/sidecar-token-user")]
        for ident in base_credentials:
            world.registry.add(ident)

    def extra_state(self):
        return {"generation": self.generation}

    def extra_control(self, action, args):
        if action == "add_credentials":
            akid, secret = args.get("AccessKeyId"), args.get("SecretAccessKey")
            if not (_str(akid) and akid and _str(secret) and secret):
                raise ControlError("add_credentials wants AccessKeyId and SecretAccessKey")
            expires = None
            if args.get("Expiration"):
                try:
                    expires = parse_iso8601(args["Expiration"])
                except ValueError:
                    raise ControlError("add_credentials: Expiration wants YYYY-MM-DDTHH:MM:SSZ") from None
            arn = args.get("Arn") or f"arn:aws:iam::{self.config['account']}:user/{akid}"
            self.world.registry.add(Identity(akid, secret, args.get("Token"), arn, expires=expires))
            return {"added": akid, "arn": arn}
        return super().extra_control(action, args)

    def check_failure(self, failure):
        code = failure.setdefault("code", "InternalFailure" if failure.get("status", 400) >= 500 else "AccessDenied")
        if "status" not in failure:
            failure["status"] = STS_ERRORS.get(code, (400,))[0]

    def send_failure(self, req, failure, rec):
        rec["error"] = failure["code"]
        self.send_error_doc(req.handler, StsError(failure["code"], failure.get("message"), failure["status"]))

    def send_error_doc(self, h, error):
        rid = str(uuid.uuid4())
        h.send(error.status, sts_error_document(error, rid), "text/xml", [("x-amzn-RequestId", rid)])

    def inspect(self, req, rec):
        params = urllib.parse.parse_qsl(req.query, keep_blank_values=True)
        ctype = (req.headers.get("Content-Type") or "").lower()
        if req.body and ctype.startswith("application/x-www-form-urlencoded"):
            params += urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        req.params = dict(params)
        action = req.params.get("Action")
        rec["action"] = action
        rec["params"] = {k: v for k, v in req.params.items() if k not in ("Action", "Version")}
        auth = req.headers.get("Authorization")
        rec["signed"] = auth is not None
        parsed = verifier.parse_authorization(auth) if auth else None
        rec["access_key_id"] = parsed["akid"] if parsed else None
        rec["region"] = parsed["region"] if parsed else None
        return action if action in self.kinds else "other"

    def handle(self, req, rec):
        h = req.handler
        try:
            action, version = req.params.get("Action"), req.params.get("Version")
            if not action:
                raise StsError("MissingAction")
            method = getattr(self, "action_" + action, None) if action in self.kinds else None
            if method is None or version != STS_VERSION:
                raise StsError("InvalidAction", f"Could not find operation {action} for version "
                                                f"{version or 'NO_VERSION_SPECIFIED'}")
            result = method(req, rec)
            rid = str(uuid.uuid4())
            h.send(200, sts_document(action, result, rid), "text/xml", [("x-amzn-RequestId", rid)])
        except StsError as e:
            rec["error"] = e.code
            self.send_error_doc(h, e)

    # --- SigV4 -------------------------------------------------------------------------------------------
    def server_now(self):
        return utcnow() + datetime.timedelta(seconds=self.config["clock_skew"])

    def authenticate(self, req, rec):
        """Verifies the request's SigV4 signature; returns the signer's Identity or raises StsError."""
        values = req.headers.get_all("Authorization") or []
        if not values:
            raise StsError("MissingAuthenticationToken")
        auth = verifier.parse_authorization(values[0]) if len(values) == 1 else None
        if auth is None:
            raise StsError("IncompleteSignature", "Authorization header requires 'Credential' parameter. "
                                                  "Authorization header requires 'Signature' parameter. "
                                                  "Authorization header requires 'SignedHeaders' parameter. "
                                                  f"Authorization={(values[0] if values else '').split(' ')[0]}")
        if auth["service"] != "sts":
            raise StsError("SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'. ")
        if self.config["region"] is not None and auth["region"] != self.config["region"]:
            raise StsError("SignatureDoesNotMatch", "Credential should be scoped to a valid region. ")
        ident = self.world.registry.get(auth["akid"])
        if ident is None:
            raise StsError("InvalidClientTokenId")
        tokens = req.headers.get_all("X-Amz-Security-Token") or []
        if ident.token is not None:
            if len(tokens) != 1 or not hmac.compare_digest(tokens[0].strip().encode("latin-1", "replace"),
                                                           ident.token.encode("latin-1", "replace")):
                raise StsError("InvalidClientTokenId")
        elif tokens:
            raise StsError("InvalidClientTokenId")
        if ident.expires is not None and utcnow() >= ident.expires:
            raise StsError("ExpiredToken")
        amz_date = (req.headers.get("X-Amz-Date") or "").strip()
        if "host" not in auth["signed_headers"]:
            raise StsError("IncompleteSignature", "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                                                  "Authorization.")
        if not amz_date:
            raise StsError("IncompleteSignature", "Authorization header requires existence of either a "
                                                  "'X-Amz-Date' or a 'Date' header.")
        if "x-amz-date" not in auth["signed_headers"]:
            raise StsError("IncompleteSignature", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        try:
            when = datetime.datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise StsError("IncompleteSignature", f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
                                                  "See http://en.wikipedia.org/wiki/ISO_8601") from None
        if auth["date"] != amz_date[:8]:
            raise StsError("SignatureDoesNotMatch", f"Date in Credential scope does not match YYYYMMDD from "
                                                    f"ISO-8601 version of date from HTTP: '{auth['date']}' != "
                                                    f"'{amz_date[:8]}', from '{amz_date}'.")
        now = self.server_now()
        skew = datetime.timedelta(seconds=self.config["max_skew"])
        minutes = self.config["max_skew"] // 60
        if when < now - skew:
            raise StsError("SignatureDoesNotMatch", f"Signature expired: {amz_date} is now earlier than "
                                                    f"{(now - skew).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} "
                                                    f"- {minutes} min.)")
        if when > now + skew:
            raise StsError("SignatureDoesNotMatch", f"Signature not yet current: {amz_date} is still later than "
                                                    f"{(now + skew).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} "
                                                    f"+ {minutes} min.)")
        body_hash = hashlib.sha256(req.body).hexdigest()
        declared = (req.headers.get("X-Amz-Content-Sha256") or "").strip()
        payload_hash = declared if declared == verifier.UNSIGNED_PAYLOAD else body_hash
        headers = [(name, verifier.wire_text(v)) for name, v in req.headers.items()]
        try:
            canonical, sts, expected = verifier.compute_signature(
                req.method, req.handler.raw_target, auth["signed_headers"], headers, payload_hash, ident.secret,
                amz_date, auth["region"], auth["service"])
        except KeyError as e:
            raise StsError("SignatureDoesNotMatch", f"{SIGNATURE_MISMATCH_TEXT} (signed header {e.args[0]!r} "
                                                    "is not in the request)") from None
        if not hmac.compare_digest(expected, auth["signature"]):
            raise StsError("SignatureDoesNotMatch", f"{SIGNATURE_MISMATCH_TEXT}\n\nThe Canonical String for this "
                                                    f"request should have been\n'{canonical}'\n\nThe "
                                                    f"String-to-Sign should have been\n'{sts}'\n")
        rec["identity"] = ident.arn
        return ident

    # --- actions -----------------------------------------------------------------------------------------
    def role_params(self, req):
        p = req.params
        role_arn, session = p.get("RoleArn"), p.get("RoleSessionName")
        if role_arn is None:
            raise _validation("roleArn", None, "Member must not be null")
        if session is None:
            raise _validation("roleSessionName", None, "Member must not be null")
        if not 20 <= len(role_arn) <= 2048:
            raise _validation("roleArn", role_arn, "Member must have length greater than or equal to 20")
        if not ROLE_ARN_RE.fullmatch(role_arn):
            raise StsError("ValidationError", f"{role_arn} is invalid")
        if not SESSION_NAME_RE.fullmatch(session):
            raise _validation("roleSessionName", session,
                              "Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        duration = 3600
        if "DurationSeconds" in p:
            text = p["DurationSeconds"]
            if not re.fullmatch(r"[0-9]{1,9}", text):
                raise StsError("ValidationError", f"Value '{text}' for parameter DurationSeconds is invalid")
            duration = int(text)
            if duration < 900:
                raise _validation("durationSeconds", text, "Member must have value greater than or equal to 900")
            if duration > 43200:
                raise _validation("durationSeconds", text, "Member must have value less than or equal to 43200")
            if duration > self.config["max_session_duration"]:
                raise StsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration "
                                                  "set for this role.")
        return role_arn, session, duration

    def issue(self, role_arn, session, duration):
        with self.lock:
            self.generation += 1
            n = self.generation
            lifetime = self.config["credential_lifetime"] or duration
        akid, secret, token = fake_credentials("sts", n)
        expires = utcnow() + datetime.timedelta(seconds=lifetime)
        account = arn_account(role_arn)
        role_name = role_arn.rsplit("/", 1)[-1]
        role_id = "AROA" + _upper_id(role_arn)
        assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
        self.world.registry.add(Identity(akid, secret, token, assumed_arn, f"{role_id}:{session}", account, expires,
                                         "sts"))
        return ("    <AssumedRoleUser>\n"
                f"      <AssumedRoleId>{role_id}:{xml_escape(session)}</AssumedRoleId>\n"
                f"      <Arn>{xml_escape(assumed_arn)}</Arn>\n"
                "    </AssumedRoleUser>\n"
                "    <Credentials>\n"
                f"      <AccessKeyId>{akid}</AccessKeyId>\n"
                f"      <SecretAccessKey>{xml_escape(secret)}</SecretAccessKey>\n"
                f"      <SessionToken>{xml_escape(token)}</SessionToken>\n"
                f"      <Expiration>{iso8601(expires)}</Expiration>\n"
                "    </Credentials>\n")

    def action_AssumeRole(self, req, rec):
        ident = self.authenticate(req, rec)
        role_arn, session, duration = self.role_params(req)
        external_id = req.params.get("ExternalId")
        if external_id is not None and not re.fullmatch(r"[\w+=,.@:/-]{2,1224}", external_id):
            raise _validation("externalId", external_id, "Member must satisfy regular expression pattern: "
                                                         "[\\w+=,.@:\\/-]*")
        with self.lock:
            required, roles = self.config["require_external_id"], self.config["roles"]
        denied = f"User: {ident.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        if required is not None and external_id != required:
            raise StsError("AccessDenied", denied)
        if roles is not None and role_arn not in roles:
            raise StsError("AccessDenied", denied)
        result = self.issue(role_arn, session, duration)
        if "Policy" in req.params:
            result += "    <PackedPolicySize>6</PackedPolicySize>\n"
        return result

    def expected_web_identity_token(self):
        with self.lock:
            path, token = self.config["web_identity_token_file"], self.config["web_identity_token"]
        if path is not None:
            try:
                with open(path) as f:
                    return f.read().strip()
            except OSError as e:
                raise StsError("IDPCommunicationError", f"fake: cannot read {path}: {e.strerror}") from None
        return token

    def action_AssumeRoleWithWebIdentity(self, req, rec):
        role_arn, session, duration = self.role_params(req)
        token = req.params.get("WebIdentityToken")
        if token is None:
            raise _validation("webIdentityToken", None, "Member must not be null")
        if len(token) < 4:
            raise _validation("webIdentityToken", "***", "Member must have length greater than or equal to 4")
        expected = self.expected_web_identity_token()
        if expected is not None and not hmac.compare_digest(token.encode(), expected.encode()):
            raise StsError("InvalidIdentityToken")
        with self.lock:
            roles = self.config["roles"]
        if roles is not None and role_arn not in roles:
            raise StsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        account = arn_account(role_arn)
        return (self.issue(role_arn, session, duration)
                + "    <SubjectFromWebIdentityToken>system:serviceaccount:default:sigv4-sidecar"
                  "</SubjectFromWebIdentityToken>\n"
                + "    <Audience>sts.amazonaws.com</Audience>\n"
                + f"    <Provider>arn:aws:iam::{account}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/FAKEAWS"
                  "</Provider>\n")

    def action_GetCallerIdentity(self, req, rec):
        ident = self.authenticate(req, rec)
        return (f"    <Arn>{xml_escape(ident.arn)}</Arn>\n"
                f"    <UserId>{xml_escape(ident.user_id)}</UserId>\n"
                f"    <Account>{ident.account}</Account>\n")


# ---------------------------------------------------------------------------------------------------------
# HTTP plumbing


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections
    max_body = 1 << 20

    def setup(self):
        super().setup()
        fake = self.server.fake
        if fake is not None:
            with fake.lock:
                fake.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            fake = self.server.fake
            if fake is not None:
                with fake.lock:
                    fake.connections.discard(self.connection)

    def version_string(self):
        return self.server.fake.server_header if self.server.fake is not None else "fake-aws"

    def date_time_string(self, timestamp=None):
        fake = self.server.fake
        skew = fake.config["clock_skew"] if fake is not None else 0
        return email.utils.formatdate((time.time() if timestamp is None else timestamp) + skew, usegmt=True)

    def parse_request(self):
        ok = super().parse_request()
        if ok:
            words = self.requestline.split()
            self.raw_target = words[1] if len(words) >= 2 else self.path
        return ok

    def __getattr__(self, name):  # every method goes to one handler
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        self.server.world.log(f"{self.server.label} {self.client_address[0]}:{self.client_address[1]} {fmt % args}")

    def log_request(self, code="-", size="-"):
        pass

    def send(self, status, body=b"", content_type="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.last_status = status
        # Record before the answer leaves: a client that has its answer must find the request in the records
        # (the dict stays shared, so fields the handler adds afterwards still show).
        pending = getattr(self, "pending_record", None)
        if pending is not None:
            fake, rec = pending
            self.pending_record = None
            if rec.get("status") is None:
                rec["status"] = status
            fake.record(rec)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj, indent=1) + "\n", "application/json")

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > self.max_body:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(2)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if not 0 <= n <= self.max_body:
            raise ValueError("bad Content-Length")
        body = self.rfile.read(n)
        if len(body) != n:
            raise ValueError("body ended early")
        return body

    def abort(self):
        """Closes the connection without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def hold(self, fake, kind):
        """Never answers: keeps the connection until the client closes it, the fake goes down or stops hanging."""
        self.close_connection = True
        sock = self.connection
        sock.settimeout(0.1)
        while fake.hangs(kind):
            try:
                if not sock.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return
        self.abort()

    def handle_any(self):
        fake, world = self.server.fake, self.server.world
        path, _, query = self.raw_target.partition("?")
        self.last_status = None
        self.pending_record = None
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            return self.send(400, f"bad request body: {e}\n")
        if path == "/_control" or path.startswith("/_control/"):
            return self.handle_control(path, body)
        if fake is None:
            return self.send_json(404, {"error": "the control listener serves /_control/FAKE/ACTION only"})
        req = Request(self, path, query, body)
        rec = {"time": time.time(), "method": self.command, "path": path, "query": query, "forced": False}
        rec["kind"] = kind = fake.inspect(req, rec)
        self.pending_record = (fake, rec)
        try:
            with fake.lock:
                down, delay = fake.down, fake.config["delay_ms"]
            if down is not None:
                rec["status"] = "closed"
                return self.abort()
            if fake.hangs(kind):
                rec["status"] = "hung"
                self.pending_record = None
                fake.record(rec)
                world.log(f"{fake.name} {self.client_address[0]}:{self.client_address[1]} {self.command} {path} "
                          f"-> hung")
                rec = None
                return self.hold(fake, kind)
            if delay:
                time.sleep(delay / 1000.0)
            failure = fake.take_failure(kind)
            if failure is not None:
                rec["forced"] = True
                fake.send_failure(req, failure, rec)
            else:
                fake.handle(req, rec)
        finally:
            if rec is not None:
                if rec.get("status") is None:
                    rec["status"] = self.last_status if self.last_status is not None else "closed"
                if self.pending_record is not None:  # not recorded by send(): closed or aborted, no answer
                    self.pending_record = None
                    fake.record(rec)
                extra = "".join(f" {k}={rec[k]}" for k in ("token", "auth", "action", "error") if rec.get(k))
                world.log(f"{fake.name} {self.client_address[0]}:{self.client_address[1]} {self.command} {path} "
                          f"-> {rec['status']}{' (forced)' if rec['forced'] else ''}{extra}")

    def handle_control(self, path, body):
        world = self.server.world
        parts = [p for p in path.split("/")[2:] if p]
        target = self.server.fake
        if parts and parts[0] in world.fakes:
            target = world.fakes[parts.pop(0)]
        action = parts[0] if len(parts) == 1 else ""
        if action == "ports":
            return self.send_json(200, world.ports())
        if target is None or not action:
            return self.send_json(404, {"error": "use /_control/ACTION on a fake's port or /_control/FAKE/ACTION; "
                                                 f"fakes: {sorted(world.fakes)}"})
        try:
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("a JSON object")
        except ValueError as e:
            return self.send_json(400, {"error": f"control body must be a JSON object: {e}"})
        if action == "down":
            self.close_connection = True
        try:
            result = target.control(action, self.command, args, self.connection)
        except ControlError as e:
            return self.send_json(e.status, {"error": str(e)})
        world.log(f"control {target.name} {action} {json.dumps(args)[:200] if action != 'rotate' else ''}")
        self.send_json(200, result)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, world, fake):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.world, self.fake = world, fake
        self.label = fake.name if fake is not None else "control"
        super().__init__(address, Handler)

    def server_bind(self):  # no reverse DNS lookup
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def handle_error(self, request, client_address):
        self.world.log(f"{self.label} {client_address[0]}:{client_address[1]} handler error: {sys.exc_info()[1]!r}")


class World:
    """The fakes of one process, the identities they share, and the control listener."""

    def __init__(self, host="127.0.0.1", account=ACCOUNT_ID, log=True):
        if not is_loopback(host):
            raise ValueError(f"fake_aws listens on loopback only, not {host!r}")
        self.host, self.account = host, account
        self.registry = Registry()
        self.fakes = {}
        self.control_server = None
        self._log = log
        self._log_lock = threading.Lock()

    def add(self, fake):
        self.fakes[fake.name] = fake

    def start(self):
        for fake in self.fakes.values():
            fake.start()
        self.control_server = FakeServer((self.host, 0), self, None)
        threading.Thread(target=self.control_server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True, name="control-serve").start()
        return self.ports()

    def ports(self):
        out = {name: fake.port for name, fake in self.fakes.items()}
        if self.control_server is not None:
            out["control"] = self.control_server.server_address[1]
        return out

    def stop(self):
        for fake in self.fakes.values():
            fake.stop_listening()
        if self.control_server is not None:
            self.control_server.shutdown()
            self.control_server.server_close()

    def log(self, line):
        if not self._log:
            return
        stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        with self._log_lock:
            sys.stderr.write(f"{stamp} fake_aws: {line}\n")
            sys.stderr.flush()


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------------------
# client side, for tests


class ControlCallError(Exception):
    def __init__(self, status, body):
        super().__init__(f"control call failed with {status}: {body}")
        self.status, self.body = status, body


class Client:
    """Talks to a running fake_aws process through its control listener (which stays up while fakes are down)."""

    def __init__(self, ports, host="127.0.0.1", timeout=10.0):
        self.ports, self.host, self.timeout = dict(ports), host, timeout

    @classmethod
    def from_ports_file(cls, path, host="127.0.0.1"):
        with open(path) as f:
            return cls(json.loads(f.read()), host)

    def url(self, fake, path=""):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.ports[fake]}{path}"

    def call(self, fake, action, body=None, method="POST"):
        conn = http.client.HTTPConnection(self.host, self.ports["control"], timeout=self.timeout)
        try:
            data = json.dumps(body or {}).encode() if method == "POST" else None
            conn.request(method, f"/_control/{fake}/{action}", body=data,
                         headers={"Content-Type": "application/json"} if data is not None else {})
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        if resp.status != 200:
            raise ControlCallError(resp.status, text)
        return json.loads(text)

    def state(self, fake):
        return self.call(fake, "state", method="GET")

    def requests(self, fake):
        return self.call(fake, "requests", method="GET")["requests"]

    def reset(self, fake):
        return self.call(fake, "reset")

    def configure(self, fake, **config):
        return self.call(fake, "config", config)["config"]

    def rotate(self, fake, **args):
        return self.call(fake, "rotate", args)["credentials"]

    def fail(self, fake, **spec):
        return self.call(fake, "fail", spec)["failure"]

    def clear_failures(self, fake):
        return self.call(fake, "clear_failures")

    def down(self, fake, how="refuse"):
        return self.call(fake, "down", {"how": how})

    def up(self, fake):
        return self.call(fake, "up")

    def invalidate_tokens(self):
        return self.call("imds", "invalidate_tokens")

    def add_credentials(self, **args):
        return self.call("sts", "add_credentials", args)


def imds_env(aws):
    """The environment of a sidecar whose credentials come from the imds fake (no static keys, IMDS not
    disabled) and whose STS calls go to the sts fake: testlib.credential_env's base."""
    import testlib
    env = testlib.credential_env(akid=None)
    env.pop("AWS_EC2_METADATA_DISABLED", None)
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = aws.url("imds")
    env["AWS_ENDPOINT_URL_STS"] = aws.url("sts")
    return env


def start(args=(), timeout=15.0, name="fake_aws", log_path=None):
    """Starts fake_aws.py (testlib.start_process: stopped at exit) and waits for its ports file.
    Returns (Process, Client)."""
    import tempfile
    import testlib
    ports_file = tempfile.mktemp(prefix="fake-aws-", suffix=".ports", dir=testlib.work_dir())
    proc = testlib.start_process([testlib.PYTHON, os.path.abspath(__file__), "--ports-file", ports_file,
                                  *[str(a) for a in args]], log_path=log_path, name=name)
    text = testlib.wait_file(ports_file, timeout, proc)
    args = [str(a) for a in args]
    host = args[args.index("--host") + 1].strip("[]") if "--host" in args[:-1] else "127.0.0.1"
    return proc, Client(json.loads(text), "127.0.0.1" if host == "localhost" else host)


# ---------------------------------------------------------------------------------------------------------
# command line


def _triple(text, what):
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise SystemExit(f"fake_aws: {what} wants AKID:SECRET:TOKEN")
    return tuple(parts)


def _sts_credentials(text):
    creds, _, arn = text.partition(",")
    parts = creds.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise SystemExit("fake_aws: --sts-credentials wants AKID:SECRET[:TOKEN][,ARN]")
    return Identity(parts[0], parts[1], parts[2] if len(parts) == 3 else None, arn or BASE_ARN)


def main(argv=None):
    p = argparse.ArgumentParser(description="Fakes of the AWS credential endpoints (IMDS, STS, container) for "
                                            "loopback tests. See the module docstring.")
    p.add_argument("--ports-file", required=True, help='write {"imds": PORT, ..., "control": PORT} here when ready')
    p.add_argument("--fakes", default="imds,sts,ecs", help="which fakes to run (imds,sts,ecs)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (127.0.0.1)")
    p.add_argument("--account", default=ACCOUNT_ID)
    p.add_argument("--clock-skew", type=int, default=0, help="seconds added to every fake's clock (Date, STS)")
    p.add_argument("--imds-role", default=DEFAULT_IMDS_ROLE)
    p.add_argument("--imds-require-token", action="store_true", help="IMDSv2 only")
    p.add_argument("--imds-expires-in", type=int, default=21600)
    p.add_argument("--imds-credentials", metavar="AKID:SECRET:TOKEN")
    p.add_argument("--sts-credentials", action="append", metavar="AKID:SECRET[:TOKEN][,ARN]")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--web-identity-token")
    g.add_argument("--web-identity-token-file")
    p.add_argument("--sts-require-external-id")
    p.add_argument("--sts-region")
    p.add_argument("--sts-credential-lifetime", type=int)
    p.add_argument("--ecs-path", default="/creds")
    p.add_argument("--ecs-auth-token")
    p.add_argument("--ecs-role-arn", default=DEFAULT_ECS_ROLE_ARN)
    p.add_argument("--ecs-style", choices=("ecs", "eks"), default="ecs")
    p.add_argument("--ecs-expires-in", type=int, default=21600)
    p.add_argument("--ecs-credentials", metavar="AKID:SECRET:TOKEN")
    p.add_argument("--set", action="append", default=[], metavar="FAKE.KEY=JSON")
    args = p.parse_args(argv)

    names = [n.strip() for n in args.fakes.split(",") if n.strip()]
    if not names or any(n not in FAKE_NAMES for n in names):
        p.error(f"--fakes wants a comma-separated subset of {','.join(FAKE_NAMES)}")
    host = args.host.strip("[]")
    if not is_loopback(host):
        p.error("--host must be a loopback address")
    world = World("127.0.0.1" if host == "localhost" else host, args.account)
    common = {"clock_skew": args.clock_skew}
    try:
        if "imds" in names:
            ImdsFake(world, _triple(args.imds_credentials, "--imds-credentials") if args.imds_credentials else None,
                     role=args.imds_role, require_token=args.imds_require_token, expires_in=args.imds_expires_in,
                     **common)
        if "sts" in names:
            cfg = dict(common)
            if args.web_identity_token is not None:
                cfg["web_identity_token"] = args.web_identity_token
            if args.web_identity_token_file is not None:
                cfg["web_identity_token_file"] = args.web_identity_token_file
            for key, value in (("require_external_id", args.sts_require_external_id), ("region", args.sts_region),
                               ("credential_lifetime", args.sts_credential_lifetime)):
                if value is not None:
                    cfg[key] = value
            if args.account != ACCOUNT_ID:
                cfg["account"] = args.account
            StsFake(world, [_sts_credentials(c) for c in args.sts_credentials] if args.sts_credentials else None,
                    **cfg)
        if "ecs" in names:
            ContainerFake(world, _triple(args.ecs_credentials, "--ecs-credentials") if args.ecs_credentials else None,
                          path=args.ecs_path, auth_token=args.ecs_auth_token, role_arn=args.ecs_role_arn,
                          style=args.ecs_style, expires_in=args.ecs_expires_in, **common)
        for item in args.set:
            target, _, value = item.partition("=")
            fake_name, _, key = target.partition(".")
            if fake_name not in world.fakes or not key or not _:
                p.error(f"--set wants FAKE.KEY=JSON with FAKE one of {sorted(world.fakes)}, got {item!r}")
            try:
                world.fakes[fake_name].configure({key: json.loads(value)})
            except ValueError as e:
                p.error(f"--set {item!r}: {e}")
    except ControlError as e:
        p.error(str(e))

    ports = world.start()
    tmp = f"{args.ports_file}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(json.dumps(ports) + "\n")
    os.replace(tmp, args.ports_file)
    world.log(f"listening on {world.host}: {json.dumps(ports)}")

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.2):
        pass
    world.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
