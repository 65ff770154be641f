#!/usr/bin/python3
"""The credential chain of sigv4-sidecar against botocore's (Debian's python3-botocore), through `doctor`.

  creds_chain_test.py PATH/TO/sigv4-sidecar

1. Chain parity: a table of scenarios, each an environment plus a temporary ~/.aws/config and
   ~/.aws/credentials. botocore's default chain (session.get_component('credential_provider')) and
   `sigv4-sidecar doctor` run with the same environment and files; both must pick the same kind of provider
   (ours mapped to botocore's `method`), end with the same access key (the last 4 characters doctor prints;
   for keys STS issues, which differ per call, the same AssumeRole calls with the same parameters signed by
   the same base key, and the same identity), and agree on the session token. When botocore finds nothing or
   fails, doctor must fail too (exit 1, a FAILED line). STS, IMDS and the container endpoint are
   tests/support/fake_aws.py; the fake STS checks every signature ours sends.
2. doctor's output on an IMDS-only host: the six decision lines in order, the provider, the masked key, the
   identity the fake STS verified, the clock skew (and a fake 600 s ahead: TOO LARGE, exit 1); no secret key
   or session token anywhere in its output; an STS error shown verbatim (code and message), exit 1.
3. Explicit sources: `credentials: {source: imds}` ignores environment keys; `source: container` with no
   container variables fails naming container as not configured.

Nothing leaves loopback: every environment has AWS_EC2_METADATA_DISABLED=true (plus a dead loopback IMDS
endpoint) unless it points IMDS at the fake, HOME is a temporary directory, STS is the fake
(AWS_ENDPOINT_URL_STS for ours; botocore 1.29 ignores that variable, so its STS clients get endpoint_url),
and this process refuses any non-loopback connect().
Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import datetime
import hashlib
import ipaddress
import os
import re
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import testlib as t  # noqa: E402
import fake_aws  # noqa: E402
from fake_aws import fake_credentials  # noqa: E402

import botocore  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402
from botocore.config import Config  # noqa: E402

BINARY = None
aws = None  # fake_aws.Client
ACCOUNT = fake_aws.ACCOUNT_ID
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/chain-role-a"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/chain-role-b"
ROLE_W = f"arn:aws:iam::{ACCOUNT}:role/chain-web-identity"
ECS_TOKEN = "chain-ecs-auth-token-7"
IMDS_CREDS = ("ASIACHAINTESTXIMD1", "chainImdsSECRET/0123456789abcdefghEXAMPLE", "chainImdsTOKEN+/0123456789==")
ECS_CREDS = ("ASIACHAINTESTXECS1", "chainEcsSECRET/0123456789abcdefghiEXAMPLE", "chainEcsTOKEN+/0123456789==")
RETRIES_OFF = Config(retries={"total_max_attempts": 1})
# doctor's decision lines, in the chain's (botocore's) order
DECISION_ORDER = ["environment", "profile_assume_role", "web_identity", "profile", "container", "imds"]
DEFAULT_SESSION_RE = re.compile(r"^(botocore-session-|sigv4-sidecar-)\d+$")

# ---------------------------------------------------------------------------------------------------------
# nothing leaves loopback from this process (botocore included)

_blocked = []
_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    if isinstance(address, tuple) and address:
        try:
            loopback = ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            _blocked.append(address)
            raise OSError(f"creds_chain_test: refusing a non-loopback connect to {address}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only_connect
# botocore 1.29 sleeps 1 s between container endpoint attempts; the attempts themselves are unchanged
botocore.utils.ContainerMetadataFetcher.SLEEP_TIME = 0.05

# ---------------------------------------------------------------------------------------------------------
# keys: static ones registered with the fake STS (so that GetCallerIdentity and AssumeRole accept them)


class Key:
    def __init__(self, tag, token=False):
        self.tag = tag
        self.akid = ("ASIA" if token else "AKIA") + "CHAINTEST0" + tag
        self.secret = f"chain{tag}SECRET/0123456789abcdefghijEXAMPLE"
        self.token = f"chain{tag}TOKEN+/0123456789abcdefghij==" if token else None
        self.arn = f"arn:aws:iam::{ACCOUNT}:user/chain-{tag.lower()}"

    def env(self, token_var="AWS_SESSION_TOKEN"):
        e = {"AWS_ACCESS_KEY_ID": self.akid, "AWS_SECRET_ACCESS_KEY": self.secret}
        if self.token:
            e[token_var] = self.token
        return e

    def ini(self):
        text = f"aws_access_key_id = {self.akid}\naws_secret_access_key = {self.secret}\n"
        if self.token:
            text += f"aws_session_token = {self.token}\n"
        return text


KEYS = {k.tag: k for k in [Key("ENV1"), Key("ENV2", token=True), Key("LEG1", token=True), Key("CRD0"),
                           Key("CRD2"), Key("CFG0"), Key("CFG2"), Key("PRC1", token=True), Key("SRC1"),
                           Key("SRC2"), Key("SLF1")]}
ENV1, ENV2, LEG1, CRD0, CRD2, CFG0, CFG2, PRC1, SRC1, SRC2, SLF1 = (KEYS[k] for k in [
    "ENV1", "ENV2", "LEG1", "CRD0", "CRD2", "CFG0", "CFG2", "PRC1", "SRC1", "SRC2", "SLF1"])


def known_secrets():
    """Every secret key and session token a scenario can hand out (none may ever appear in doctor's output)."""
    out = [IMDS_CREDS[1], IMDS_CREDS[2], ECS_CREDS[1], ECS_CREDS[2], fake_aws.DEFAULT_WEB_IDENTITY_TOKEN,
           ECS_TOKEN]
    for k in KEYS.values():
        out.append(k.secret)
        if k.token:
            out.append(k.token)
    for n in range(1, aws.state("sts")["generation"] + 1):
        _, s, tok = fake_credentials("sts", n)
        out += [s, tok]
    for n in range(1, 3):
        _, s, tok = fake_credentials("imds", n)
        out += [s, tok]
    return out


# ---------------------------------------------------------------------------------------------------------
# scenarios


class Scenario:
    """expect: botocore's `method` (or "fail"). env values and file texts may use {dir} (the scenario's
    directory), {ecs} (the container fake's URL). imds: point IMDS at the fake (else it is disabled).
    quirk: (botocore's outcome on 1.29, why) when 1.29 does not implement something the spec has; ours is then
    held to `expect`. reason_names: what ours's FAILED line must name when it fails."""

    def __init__(self, name, expect, env=None, config=None, credentials=None, imds=False, files=None,
                 quirk=None, reason_names=()):
        self.name, self.expect, self.env, self.config, self.credentials = name, expect, env or {}, config, credentials
        self.imds, self.files, self.quirk, self.reason_names = imds, files or {}, quirk, reason_names


def process_script(key, expires):
    return ("#!/bin/sh\n# credential_process, Version 1\ncat <<'EOF'\n"
            f'{{"Version": 1, "AccessKeyId": "{key.akid}", "SecretAccessKey": "{key.secret}", '
            f'"SessionToken": "{key.token}", "Expiration": "{expires}"}}\nEOF\n')


# no trailing newline: botocore sends the file verbatim (as a projected service account token has none)
TOKEN_FILE = {"token": fake_aws.DEFAULT_WEB_IDENTITY_TOKEN}
WEB_ENV = {"AWS_WEB_IDENTITY_TOKEN_FILE": "{dir}/token", "AWS_ROLE_ARN": ROLE_W, "AWS_ROLE_SESSION_NAME": "irsa-env"}
ECS_ENV = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{ecs}/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": ECS_TOKEN}


def scenarios():
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    proc = {"creds.sh": process_script(PRC1, expires)}
    S = Scenario
    return [
        S("env keys only", "env", env=ENV1.env()),
        S("env keys + everything else (profile role, web identity, container, IMDS): env wins", "env",
          env={**ENV1.env(), "AWS_PROFILE": "dev", **WEB_ENV, **ECS_ENV},
          config=f"[profile dev]\nrole_arn = {ROLE_A}\nsource_profile = base\n[default]\n{CFG0.ini()}",
          credentials=f"[base]\n{SRC1.ini()}[default]\n{CRD0.ini()}", imds=True, files=TOKEN_FILE),
        S("env keys with AWS_SESSION_TOKEN", "env", env=ENV2.env()),
        S("env keys with the legacy AWS_SECURITY_TOKEN (botocore reads it when AWS_SESSION_TOKEN is unset)",
          "env", env=LEG1.env("AWS_SECURITY_TOKEN")),
        S("AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY, static keys in the default profile", "fail",
          env={"AWS_ACCESS_KEY_ID": ENV1.akid}, credentials=f"[default]\n{CRD0.ini()}"),
        S("AWS_PROFILE + env keys: env still wins (only an explicit session profile disables env)", "env",
          env={**ENV1.env(), "AWS_PROFILE": "dev"}, credentials=f"[dev]\n{CRD2.ini()}"),
        S("default profile, static keys in the credentials file", "shared-credentials-file",
          credentials=f"[default]\n{CRD0.ini()}"),
        S("AWS_PROFILE, static keys in the credentials file", "shared-credentials-file",
          env={"AWS_PROFILE": "dev"}, credentials=f"[default]\n{CRD0.ini()}[dev]\n{CRD2.ini()}"),
        S("AWS_PROFILE, static keys in the config file", "config-file", env={"AWS_PROFILE": "dev"},
          config=f"[default]\n{CFG0.ini()}[profile dev]\n{CFG2.ini()}"),
        S("the credentials file beats the config file for the same profile", "shared-credentials-file",
          env={"AWS_PROFILE": "dev"}, config=f"[profile dev]\n{CFG2.ini()}", credentials=f"[dev]\n{CRD2.ini()}"),
        S("AWS_PROFILE names a profile that does not exist", "fail", env={"AWS_PROFILE": "nope"},
          credentials=f"[default]\n{CRD0.ini()}"),
        S("credential_process (Version 1 JSON from a script)", "custom-process", env={"AWS_PROFILE": "dev"},
          config="[profile dev]\ncredential_process = {dir}/creds.sh\n", files=proc),
        S("credential_process beats static keys in the config file", "custom-process", env={"AWS_PROFILE": "dev"},
          config="[profile dev]\ncredential_process = {dir}/creds.sh\n" + CFG2.ini(), files=proc),
        S("static keys in the credentials file beat credential_process", "shared-credentials-file",
          env={"AWS_PROFILE": "dev"}, config="[profile dev]\ncredential_process = {dir}/creds.sh\n",
          credentials=f"[dev]\n{CRD2.ini()}", files=proc),
        S("role_arn + source_profile (static keys): AssumeRole at the fake STS", "assume-role",
          env={"AWS_PROFILE": "dev"},
          config=f"[profile dev]\nrole_arn = {ROLE_A}\nsource_profile = base\nrole_session_name = chain-dev\n",
          credentials=f"[base]\n{SRC1.ini()}"),
        S("role_arn + source_profile with external_id, duration_seconds, default session name", "assume-role",
          config=f"[default]\nrole_arn = {ROLE_A}\nsource_profile = base\nexternal_id = ext-42\n"
                 "duration_seconds = 1800\n", credentials=f"[base]\n{SRC1.ini()}"),
        S("role_arn + source_profile naming itself (its own static keys)", "assume-role",
          env={"AWS_PROFILE": "dev"}, config=f"[profile dev]\nrole_arn = {ROLE_B}\nsource_profile = dev\n"
                                             "role_session_name = chain-self\n", credentials=f"[dev]\n{SLF1.ini()}"),
        S("chained source_profile, 2 hops (dev -> mid -> base)", "assume-role", env={"AWS_PROFILE": "dev"},
          config=f"[profile dev]\nrole_arn = {ROLE_B}\nsource_profile = mid\nrole_session_name = hop-2\n"
                 f"[profile mid]\nrole_arn = {ROLE_A}\nsource_profile = base\nrole_session_name = hop-1\n",
          credentials=f"[base]\n{SRC2.ini()}"),
        S("role_arn + credential_source = Environment with env keys: the env provider comes first", "env",
          env={**ENV1.env(), "AWS_PROFILE": "dev"},
          config=f"[profile dev]\nrole_arn = {ROLE_A}\ncredential_source = Environment\n"),
        S("role_arn + credential_source = Environment without env keys", "fail", env={"AWS_PROFILE": "dev"},
          config=f"[profile dev]\nrole_arn = {ROLE_A}\ncredential_source = Environment\n"),
        S("role_arn + credential_source = Ec2InstanceMetadata", "assume-role", env={"AWS_PROFILE": "dev"},
          config=f"[profile dev]\nrole_arn = {ROLE_A}\ncredential_source = Ec2InstanceMetadata\n"
                 "role_session_name = from-imds\n", imds=True),
        S("role_arn + credential_source = EcsContainer", "assume-role", env={"AWS_PROFILE": "dev", **ECS_ENV},
          config=f"[profile dev]\nrole_arn = {ROLE_B}\ncredential_source = EcsContainer\n"
                 "role_session_name = from-ecs\n"),
        S("env web identity (token file + AWS_ROLE_ARN) beats the profile's static keys",
          "assume-role-with-web-identity", env=WEB_ENV, credentials=f"[default]\n{CRD0.ini()}", files=TOKEN_FILE),
        S("profile web_identity_token_file + role_arn", "assume-role-with-web-identity", env={"AWS_PROFILE": "dev"},
          config=f"[profile dev]\nweb_identity_token_file = {{dir}}/token\nrole_arn = {ROLE_W}\n"
                 "role_session_name = irsa-profile\n", files=TOKEN_FILE),
        S("env AWS_WEB_IDENTITY_TOKEN_FILE, role_arn only in the profile (AssumeRoleProvider claims the profile)",
          "fail", env={"AWS_WEB_IDENTITY_TOKEN_FILE": "{dir}/token"},
          config=f"[default]\nrole_arn = {ROLE_W}\nrole_session_name = irsa-profile\n", files=TOKEN_FILE),
        S("key by key: AWS_ROLE_ARN + AWS_ROLE_SESSION_NAME from env, web_identity_token_file from the profile",
          "assume-role-with-web-identity", env={"AWS_ROLE_ARN": ROLE_W, "AWS_ROLE_SESSION_NAME": "irsa-env"},
          config="[default]\nweb_identity_token_file = {dir}/token\nrole_session_name = irsa-profile\n",
          files=TOKEN_FILE),
        S("key by key: AWS_WEB_IDENTITY_TOKEN_FILE from env overrides the profile's, role_arn from the profile",
          "assume-role-with-web-identity", env={"AWS_WEB_IDENTITY_TOKEN_FILE": "{dir}/token"},
          config=f"[default]\nweb_identity_token_file = {{dir}}/no-such-token\nrole_arn = {ROLE_W}\n"
                 "role_session_name = irsa-profile\n", files=TOKEN_FILE),
        S("container FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-role", env=ECS_ENV),
        S("container FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "container-role",
          env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{ecs}/creds",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "{dir}/ecs-token"},
          files={"ecs-token": ECS_TOKEN + "\n"},
          quirk=("fail", "botocore 1.29 predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (added to botocore in "
                         "late 2023 with EKS Pod Identity), so it sends no Authorization and gets 401")),
        S("IMDS only", "iam-role", imds=True),
        S("nothing at all", "fail", reason_names=[f"{n}: skipped (" for n in DECISION_ORDER]),
    ]


# ---------------------------------------------------------------------------------------------------------
# running both sides


def scenario_env(sc, directory):
    home = os.path.join(directory, "home")
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_STS": aws.url("sts")}
    if sc.imds:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = aws.url("imds")
    else:
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:1"  # should the flag ever be ignored
    for k, v in sc.env.items():
        env[k] = v.replace("{dir}", directory).replace("{ecs}", aws.url("ecs"))
    return env


def write_files(sc, directory):
    aws_dir = os.path.join(directory, "home", ".aws")
    os.makedirs(aws_dir, exist_ok=True)
    for name, text in (("config", sc.config), ("credentials", sc.credentials)):
        if text is not None:
            with open(os.path.join(aws_dir, name), "w") as f:
                f.write(text.replace("{dir}", directory))
    for name, text in sc.files.items():
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        if text.startswith("#!"):
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class Botocore:
    """What botocore's default chain did: method, akid, secret, token, error, identity."""

    def __init__(self):
        self.method = self.akid = self.secret = self.token = self.error = self.identity = None


def run_botocore(env, profile=None):
    saved = dict(os.environ)
    out = Botocore()
    try:
        os.environ.clear()
        os.environ.update(env)
        session = botocore.session.Session(profile=profile)
        create = session.create_client

        def create_client(service, *args, **kw):  # botocore 1.29 ignores AWS_ENDPOINT_URL_STS
            if service == "sts":
                kw["endpoint_url"] = aws.url("sts")
                kw["config"] = RETRIES_OFF.merge(kw["config"]) if kw.get("config") else RETRIES_OFF
            return create(service, *args, **kw)
        session.create_client = create_client
        try:
            creds = session.get_component("credential_provider").load_credentials()
            if creds is not None:
                frozen = creds.get_frozen_credentials()
                out.method, out.akid, out.secret, out.token = creds.method, frozen.access_key, frozen.secret_key, \
                    frozen.token
        except Exception as e:  # noqa: BLE001  (botocore's chain raises on configuration errors)
            out.error = f"{type(e).__name__}: {e}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if out.akid:
        try:
            client = botocore.session.Session().create_client(
                "sts", region_name="us-east-1", endpoint_url=aws.url("sts"), config=RETRIES_OFF,
                aws_access_key_id=out.akid, aws_secret_access_key=out.secret, aws_session_token=out.token)
            out.identity = client.get_caller_identity()["Arn"]
        except Exception as e:  # noqa: BLE001
            out.identity = f"error: {type(e).__name__}: {e}"
    return out


class Doctor:
    """doctor's output, parsed."""

    def __init__(self, proc):
        self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.lines = self.stdout.splitlines()
        self.decisions = [m.groups() for m in (re.match(r"^  (\w+): (skipped|used|failed)\b", ln)
                                               for ln in self.lines) if m]

        def field(label):
            for ln in self.lines:
                if ln.startswith(f"  {label}: "):
                    return ln[len(label) + 4:]
            return None
        self.provider, self.arn, self.skew = field("provider"), field("arn"), field("clock skew vs STS")
        self.akid4 = (field("access key id") or "").replace("****", "") or None
        self.token = field("session token")
        self.failed = field("FAILED")
        self.result = next((ln for ln in self.lines if ln.startswith("result: ")), None)

    def text(self):
        return self.stdout + (("\n[stderr]\n" + self.stderr) if self.stderr.strip() else "")


def run_doctor(env, args=()):
    proc = subprocess.run([BINARY, "doctor", *args], env=env, capture_output=True, text=True, timeout=60)
    return Doctor(proc)


def our_kind(provider):
    """botocore's `method` for the provider name doctor printed ("profile-static" for either file)."""
    if provider is None:
        return None
    simple = {"environment": "env", "web_identity": "assume-role-with-web-identity", "container": "container-role",
              "imds": "iam-role"}
    if provider in simple:
        return simple[provider]
    m = re.fullmatch(r"profile:([^/]+)(?:/(.*))?", provider)
    if m:
        rest = m.group(2)
        if rest is None:
            return "profile-static"
        if rest == "process":
            return "custom-process"
        if rest.startswith("assume_role("):
            return "assume-role"
    if provider.startswith("assume_role("):
        return "assume-role"
    return f"unknown provider name {provider!r}"


def botocore_kind(method):
    return "profile-static" if method in ("shared-credentials-file", "config-file") else method


def sts_calls(records):
    """The credential calls in STS records, comparable between botocore and ours: (action, signer, params)
    with STS-issued signers and default session names normalised."""
    out = []
    for r in records:
        if r.get("action") not in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            continue
        params = dict(r.get("params") or {})
        if DEFAULT_SESSION_RE.match(params.get("RoleSessionName", "")):
            params["RoleSessionName"] = "<default>"
        if "WebIdentityToken" in params:
            digest = hashlib.sha256(params["WebIdentityToken"].encode()).hexdigest()
            params["WebIdentityToken"] = f"<sha256 {digest[:12]}>"
        signer = r.get("access_key_id")
        if signer and signer.startswith("ASIA-STSX-FAKE"):
            signer = "<issued by STS>"
        out.append((r["action"], signer, tuple(sorted(params.items()))))
    return out


def is_repetition(seq, unit):
    """seq is unit repeated k >= 1 times (doctor runs the chain once for its decision lines, once to use)."""
    return bool(unit) and len(seq) % len(unit) == 0 and seq == unit * (len(seq) // len(unit))


def normalise_arn(arn):
    if not arn:
        return arn
    head, _, session = arn.rpartition("/")
    return f"{head}/<default>" if DEFAULT_SESSION_RE.match(session) else arn


def issued(akid):
    return akid is not None and akid.startswith("ASIA-STSX-FAKE")


# ---------------------------------------------------------------------------------------------------------
# 1. parity


disagreements = {}  # scenario name -> {"sc", "env", "doctor", "botocore", "what": [...]}


def parity(sc, index):
    t.section(f"parity {index}: {sc.name}")

    def check(cond, message, detail=None):  # the scenario's number in every message (and the failure list)
        return t.check(cond, f"#{index} {message}", detail)

    def check_eq(actual, expected, message):
        return t.check_eq(actual, expected, f"#{index} {message}")

    directory = os.path.join(t.work_dir(), f"scenario-{index:02d}")
    os.makedirs(directory, exist_ok=True)
    write_files(sc, directory)
    env = scenario_env(sc, directory)

    aws.reset("sts")
    aws.reset("ecs")
    b = run_botocore(env)
    b_records = aws.requests("sts")
    b_kind = b.method if b.method else "fail"
    b_detail = b.error or (f"method {b.method}, key {b.akid}" if b.method else "no credentials")
    if b.method and sts_calls(b_records):
        b_detail += f", via {sts_calls(b_records)}"
    print(f"  botocore: {b_detail}")

    aws.reset("sts")
    aws.reset("ecs")
    d = run_doctor(env)
    o_records = aws.requests("sts")
    ecs_records = aws.requests("ecs")
    print(f"  ours:     provider {d.provider}, key ****{d.akid4}, exit {d.rc}"
          + (f", FAILED: {d.failed}" if d.failed else ""))

    spec = sc.expect
    if sc.quirk and b_kind == sc.quirk[0] and b_kind != spec:
        print(f"  note: botocore quirk, held to the spec ({spec}) instead: {sc.quirk[1]}")
        check(True, f"botocore {botocore.__version__} shows the known quirk ({b_detail})")
        reference = spec
    else:
        check_eq(b_kind, spec, "botocore picks what the scenario is about")
        reference = b_kind

    secrets = [s for s in known_secrets() if s and (s in d.stdout or s in d.stderr)]
    check(not secrets, "doctor prints no secret key or session token", f"found {len(secrets)} secret(s)")

    def disagree(what, ours, theirs):
        entry = disagreements.setdefault(sc.name, {"sc": sc, "env": env, "doctor": d.text(), "botocore": b_detail,
                                                   "dir": directory, "what": []})
        entry["what"].append(f"{what}: ours {ours!r}, botocore {theirs!r}")

    if reference == "fail":
        ok = check(d.rc == 1 and d.failed is not None and d.result is not None
                   and d.result.startswith("result: no usable credentials"),
                   "ours fails too (exit 1, FAILED, no usable credentials)", d.text())
        if not ok:
            disagree("botocore finds no usable credentials, ours does", f"{d.provider} ****{d.akid4} exit {d.rc}",
                     b_detail)
        for name in sc.reason_names:
            check(d.failed is not None and name in d.failed, f"the reason names {name.split(':')[0]}", d.failed)
        return d, b
    kind_ok = check_eq(our_kind(d.provider), botocore_kind(reference), f"same provider kind ({d.provider})")
    if not kind_ok:
        disagree("provider kind", d.provider if d.provider else f"none, FAILED: {d.failed}", reference)
        return d, b  # everything after this would only repeat the difference
    doctor_ok = check(d.rc == 0 and d.result == "result: OK", "doctor: exit 0, result: OK", d.text())
    if not doctor_ok:
        disagree("doctor did not pass", f"{d.result} ({d.failed})", "credentials botocore can use")
    if reference != b_kind:  # a quirk: no botocore key to compare with; the fakes know what ours should hold
        if reference == "container-role":
            check_eq(d.akid4, ECS_CREDS[0][-4:], "ours ends with the container fake's key")
            check(any(r.get("auth") == "valid" for r in ecs_records),
                  "the container endpoint saw our valid Authorization (from the token file)",
                  [(r.get("auth"), r.get("status")) for r in ecs_records])
        return d, b

    check_eq(d.token, "present" if b.token else "none", "same session token presence")
    if d.token != ("present" if b.token else "none"):
        disagree("session token", d.token, "present" if b.token else "none")
    b_calls, o_calls = sts_calls(b_records), sts_calls(o_records)
    if issued(b.akid):
        # STS issues a new key per call: compare how it was obtained and what doctor ends with
        if not check(is_repetition(o_calls, b_calls), "same STS credential calls (action, signer, parameters)",
                     f"botocore {b_calls}\n        ours     {o_calls}"):
            disagree("STS calls", o_calls, b_calls)
        last = fake_credentials("sts", aws.state("sts")["generation"])[0]
        check_eq(d.akid4, last[-4:], "ours ends with the key of its last STS call")
    else:
        if not check_eq(d.akid4, (b.akid or "")[-4:], f"same access key (botocore {b.akid})"):
            disagree("access key", d.akid4, (b.akid or "")[-4:])
        check_eq(o_calls, [], "no STS credential calls (none by botocore either)") if not b_calls else \
            check(is_repetition(o_calls, b_calls), "same STS calls as botocore", f"{b_calls} / {o_calls}")
    if not doctor_ok:
        return d, b  # the identity checks below would only repeat doctor's failure, shown above
    if not check_eq(normalise_arn(d.arn), normalise_arn(b.identity), "same identity (GetCallerIdentity ARN)"):
        disagree("identity", d.arn, b.identity)
    signed = [r for r in o_records if r.get("action") in ("AssumeRole", "GetCallerIdentity")]
    check(signed and all(r.get("signed") and r.get("identity") and not r.get("error") for r in signed),
          f"the fake STS verified all {len(signed)} signed call(s) of ours",
          [(r.get("action"), r.get("signed"), r.get("identity"), r.get("error")) for r in signed])
    unsigned = [r for r in o_records if r.get("action") == "AssumeRoleWithWebIdentity"]
    if unsigned:
        check(all(not r.get("signed") and not r.get("error") for r in unsigned),
              "AssumeRoleWithWebIdentity: unsigned, accepted", [(r.get("signed"), r.get("error")) for r in unsigned])
    return d, b


def parity_explicit_profile():
    """botocore's Session(profile=...) drops the env provider, and credential_source = Environment then feeds
    AssumeRole; ours: `credentials: {source: profile, profile: dev}`."""
    t.section("parity: explicit profile with credential_source = Environment (Session(profile) / source: profile)")
    sc = Scenario("explicit profile", "assume-role", env={**ENV1.env()},
                  config=f"[profile dev]\nrole_arn = {ROLE_A}\ncredential_source = Environment\n"
                         "role_session_name = from-env\n")
    directory = os.path.join(t.work_dir(), "scenario-explicit")
    os.makedirs(directory, exist_ok=True)
    write_files(sc, directory)
    env = scenario_env(sc, directory)
    aws.reset("sts")
    b = run_botocore(env, profile="dev")
    b_calls = sts_calls(aws.requests("sts"))
    print(f"  botocore: {b.error or (b.method, b.akid)}")
    t.check_eq(b.method, "assume-role", "botocore: assume-role from the environment's keys")
    cfg = write_config(directory, {"source": "profile", "profile": "dev"})
    aws.reset("sts")
    d = run_doctor(env, ["--config", cfg])
    o_calls = sts_calls(aws.requests("sts"))
    print(f"  ours:     provider {d.provider}, key ****{d.akid4}, exit {d.rc}")
    t.check_eq(our_kind(d.provider), "assume-role", f"ours: assume-role ({d.provider})")
    t.check("environment" in (d.provider or ""), "ours names the environment as the base", d.provider)
    t.check(d.rc == 0 and d.result == "result: OK", "doctor: OK", d.text())
    t.check(is_repetition(o_calls, b_calls) and b_calls and b_calls[0][1] == ENV1.akid,
            "same AssumeRole, signed with the environment's key", f"{b_calls} / {o_calls}")
    t.check_eq(d.arn, b.identity, "same identity")


def write_config(directory, credentials):
    path = os.path.join(directory, "sidecar.yaml")
    with open(path, "w") as f:
        f.write(t.yaml_dump({"credentials": credentials, "routes": [
            {"name": "r", "upstream": aws.url("sts", "/"), "sigv4": {"region": "us-east-1", "service": "sts"}}]}))
    return path


# ---------------------------------------------------------------------------------------------------------
# 2. doctor's output



def imds_env(directory, client=None):
    client = client or aws
    os.makedirs(os.path.join(directory, "home"), exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": os.path.join(directory, "home"), "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": client.url("sts"), "AWS_EC2_METADATA_SERVICE_ENDPOINT": client.url("imds")}


def test_doctor_output():
    t.section("doctor: IMDS-only output")
    directory = os.path.join(t.work_dir(), "doctor-imds")
    env = imds_env(directory)
    aws.reset("sts")
    d = run_doctor(env)
    print("\n".join("  | " + ln for ln in d.lines))
    t.check_eq(d.rc, 0, "exit 0")
    t.check_eq(d.lines[0] if d.lines else None, "credentials (source: default)", "header line")
    t.check_eq(d.lines[1:7], [ln for ln in d.lines[1:7] if re.match(r"^  \w+: (skipped \(.+\)|used)$", ln)],
               "lines 2-7 are decision lines")
    t.check_eq(d.decisions, [(n, "skipped") for n in DECISION_ORDER[:-1]] + [("imds", "used")],
               "the six decisions in order, imds used")
    t.check_eq(d.lines[7] if len(d.lines) > 7 else None, "  provider: imds", "provider: imds after the decisions")
    fake_akid = aws.state("imds")["credentials"]["AccessKeyId"]
    t.check_eq(fake_akid, IMDS_CREDS[0], "(the IMDS fake hands out the test's key)")
    t.check("  access key id: ****" + fake_akid[-4:] in d.lines, "access key id: **** + the fake's last 4",
            f"fake {fake_akid}")
    t.check("  session token: present" in d.lines, "session token: present")
    calls = [r for r in aws.requests("sts") if r.get("action") == "GetCallerIdentity"]
    t.check(len(calls) == 1 and calls[0].get("signed") and calls[0].get("access_key_id") == fake_akid,
            "one GetCallerIdentity, signed with the IMDS key", calls)
    fake_arn = calls[0].get("identity") if calls else None
    t.check_eq(fake_arn, f"arn:aws:sts::{ACCOUNT}:assumed-role/sidecar-test-role/i-0fa4e5d1c0ffee001",
               "the fake STS verified the signature: IMDS role identity")
    t.check_eq(d.arn, fake_arn, "arn: what the fake STS answered")
    t.check_eq(next((ln for ln in d.lines if ln.startswith("  account: ")), None), f"  account: {ACCOUNT}",
               "account line")
    t.check(d.skew is not None and re.fullmatch(r"[+-]\d+\.\d s \(the server's clock minus ours\)", d.skew),
            "clock skew line", d.skew)
    t.check(d.skew is not None and abs(float(d.skew.split()[0])) < 5, "skew near 0 with an honest fake", d.skew)
    t.check(d.lines.index(f"identity (STS GetCallerIdentity at {aws.url('sts')})") > 7
            if f"identity (STS GetCallerIdentity at {aws.url('sts')})" in d.lines else False,
            "identity header names the fake STS URL")
    t.check_eq(d.result, "result: OK", "result: OK")
    leaked = [s for s in (IMDS_CREDS[1], IMDS_CREDS[2]) if s in d.stdout or s in d.stderr]
    t.check(not leaked, "neither the IMDS secret key nor its session token is printed")
    t.check(fake_akid not in d.stdout, "the full access key id is not printed either")

    t.section("doctor: STS errors verbatim")
    aws.fail("sts", code="AccessDenied", message="chain-test: explicitly denied by an SCP", on=["GetCallerIdentity"])
    d = run_doctor(env)
    t.check_eq(d.rc, 1, "exit 1")
    t.check(d.failed is not None and "AccessDenied" in d.failed and "chain-test: explicitly denied by an SCP"
            in d.failed and "403" in d.failed, "FAILED: names the code, the message and HTTP 403", d.failed)
    t.check(d.failed is not None and "GetCallerIdentity" in d.failed and aws.url("sts") in d.failed,
            "... the action and the endpoint", d.failed)
    t.check(d.result is not None and d.result.startswith("result: 1 problem"), "result: 1 problem(s)", d.result)
    aws.fail("sts", code="AccessDenied", on=["GetCallerIdentity"])
    d = run_doctor(env)
    t.check(d.rc == 1 and d.failed is not None and "AccessDenied" in d.failed
            and fake_aws.STS_ERRORS["AccessDenied"][2] in d.failed,
            "the fake's default AccessDenied message, verbatim", d.failed)
    aws.clear_failures("sts")
    leaked = [s for s in known_secrets() if s in d.stdout or s in d.stderr]
    t.check(not leaked, "no secrets in the error output")

    t.section("doctor: a fake clock 600 s ahead (--clock-skew 600)")
    proc, skewed = fake_aws.start(["--fakes", "imds,sts", "--clock-skew", "600"], name="fake_aws_skewed")
    try:
        directory = os.path.join(t.work_dir(), "doctor-skew")
        d = run_doctor(imds_env(directory, skewed))
        print("\n".join("  | " + ln for ln in d.lines[-5:]))
        t.check_eq(d.rc, 1, "exit 1")
        t.check(d.arn is not None, "the STS fake still accepts the signature (600 s < its 900 s window)", d.text())
        t.check(d.skew is not None and 595 <= float(d.skew.split()[0]) <= 605, "skew reported as about +600 s",
                d.skew)
        t.check(d.skew is not None and "TOO LARGE" in d.skew, "... and as too large", d.skew)
        t.check(d.result is not None and d.result.startswith("result: 1 problem"), "result: 1 problem(s)", d.result)
    finally:
        proc.stop()


# ---------------------------------------------------------------------------------------------------------
# 3. explicit sources


def test_explicit_sources():
    t.section("explicit source: imds with env keys present")
    directory = os.path.join(t.work_dir(), "explicit")
    env = {**imds_env(directory), **ENV1.env()}
    d = run_doctor(env, ["--config", write_config(directory, {"source": "imds"})])
    print("\n".join("  | " + ln for ln in d.lines[:4]))
    t.check_eq(d.lines[0] if d.lines else None, "credentials (source: imds)", "header names the source")
    t.check_eq(d.decisions, [], "no chain decisions for an explicit source")
    t.check_eq(d.provider, "imds", "imds used, the environment's keys ignored")
    t.check_eq(d.akid4, IMDS_CREDS[0][-4:], "the IMDS fake's key")
    t.check(d.rc == 0 and d.result == "result: OK", "doctor: OK", d.text())

    t.section("explicit source: container without container variables")
    env = {**imds_env(directory), **ENV1.env()}
    d = run_doctor(env, ["--config", write_config(directory, {"source": "container"})])
    print("\n".join("  | " + ln for ln in d.lines))
    t.check_eq(d.rc, 1, "exit 1")
    t.check(d.failed is not None and d.failed.startswith("container was chosen but is not configured")
            and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in d.failed, "FAILED names container as not configured",
            d.failed)
    t.check(d.provider is None, "no provider line")
    t.check(d.result is not None and d.result.startswith("result: no usable credentials"), "no usable credentials")


# ---------------------------------------------------------------------------------------------------------


def report_disagreements():
    t.section(f"disagreements with botocore {botocore.__version__}: {len(disagreements)}")
    for name, e in disagreements.items():
        print(f"  * {name}")
        for what in e["what"]:
            print(f"    {what}")
        print("    env: " + " ".join(f"{k}={v}" for k, v in sorted(e["env"].items()) if k.startswith("AWS_")))
        for file, text in (("config", e["sc"].config), ("credentials", e["sc"].credentials)):
            if text:
                print(f"    ~/.aws/{file}: " + text.replace("{dir}", e["dir"]).replace("\n", " | "))
        print(f"    botocore: {e['botocore']}")
        print("    doctor:\n" + "\n".join("      " + ln for ln in e["doctor"].splitlines()))


def main():
    global BINARY, aws
    if len(sys.argv) != 2:
        raise SystemExit("usage: creds_chain_test.py PATH/TO/sigv4-sidecar")
    BINARY = os.path.abspath(sys.argv[1])
    if not os.access(BINARY, os.X_OK):
        raise SystemExit(f"not an executable: {BINARY}")
    # the fakes inherit this environment: no AWS_* of whoever runs the test, no real IMDS, a scratch HOME
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ["HOME"] = t.work_dir()
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    started = time.monotonic()
    _, aws = fake_aws.start(["--imds-credentials", ":".join(IMDS_CREDS), "--ecs-credentials", ":".join(ECS_CREDS),
                             "--ecs-auth-token", ECS_TOKEN])
    for k in KEYS.values():
        aws.add_credentials(AccessKeyId=k.akid, SecretAccessKey=k.secret, Token=k.token, Arn=k.arn)
    print(f"botocore {botocore.__version__} from {os.path.dirname(botocore.__file__)}")

    table = scenarios()
    t.check(len(table) >= 12, f"{len(table)} parity scenarios")
    for i, sc in enumerate(table, 1):
        parity(sc, i)
    parity_explicit_profile()
    test_doctor_output()
    test_explicit_sources()
    report_disagreements()
    t.check_eq(_blocked, [], "no connection left loopback")
    print(f"elapsed {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    t.run_main(main)
