#!/usr/bin/python3
"""The deploy artifacts, checked offline with the real tools.

  deploy_test.py chart   BINARY   helm/sigv4-sidecar: helm lint --strict and helm template for every ci/ set,
                                  each rendered object against the Kubernetes schemas (kubernetes-models, with
                                  unknown fields refused), security context, probes, labels, selectors,
                                  NetworkPolicy rules, storage, identity, every rendered config through
                                  `BINARY check-config` and the probes against BINARY run on that config; the
                                  values schema refusing bad values; the Prometheus charts' example values files;
                                  the chart README naming every value
  deploy_test.py image   BINARY   Dockerfile and .dockerignore; the binary's shared libraries against what the
                                  final stage installs; the HEALTHCHECK command, as written, against a live
                                  sidecar (exit 0), a not-ready one and a stopped one (non-zero), in a network
                                  namespace of its own so that the default 127.0.0.1:8006 is ours
  deploy_test.py compose BINARY   docker-compose config of both stacks: 127.0.0.1-only ports, read_only,
                                  cap_drop ALL, no-new-privileges, non-root, healthchecks and depends_on,
                                  credentials only passed through; the mounted configs through check-config and
                                  promtool
  deploy_test.py healthcheck BINARY   only the HEALTHCHECK runs of `image` (for sanitizer builds)
  deploy_test.py systemd BINARY   systemd-analyze verify (any output fails) and security --offline (exposure
                                  at most 2.0) of deploy/systemd/sigv4-sidecar.service

BINARY is the sigv4-sidecar under test. helm and the validators come from tests/deploy/node_modules
(scripts/install-deps.sh). Last line: 'N passed, M failed'; exit 1 on any failure.
"""
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import testlib as t  # noqa: E402

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's python3-yaml
import yaml  # noqa: E402

CHART = os.path.join(ROOT, "helm", "sigv4-sidecar")
HELM = os.path.join(HERE, "node_modules", ".bin", "helm")
NODE = shutil.which("node") or "/usr/bin/node"
VALIDATE_JS = os.path.join(HERE, "k8s_validate.js")
NAMESPACE = "monitoring"
RELEASE = "sigv4"
STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by", "helm.sh/chart")
# Where an arch name would pin the image to one platform.
ARCH_WORDS = re.compile(r"amd64|x86_64|x86-64|aarch64|arm64|armhf|--platform", re.I)


def run(args, env=None, timeout=60, input_text=None):
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, input=input_text)


def clean_env(**extra):
    """The environment a tool runs with here: no AWS_* of whoever runs the tests, HOME in our scratch dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = t.work_dir()
    env.update(extra)
    return env


def write_temp(name, text):
    path = os.path.join(t.work_dir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(sigv4-sidecar VERSION ([0-9.]+)", f.read())
    return m.group(1) if m else None


def go_duration_seconds(text):
    """A Prometheus duration (15s, 1m30s, 500ms) in seconds."""
    total = 0.0
    for n, unit in re.findall(r"([0-9]+)(ms|s|m|h)", text):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


# ---------------------------------------------------------------------------------------------------------
# helpers: helm, the Kubernetes validators, check-config

def helm(*args, values=None, sets=()):
    argv = [HELM, *args]
    for v in values or ():
        argv += ["-f", v]
    for s in sets:
        argv += ["--set", s]
    return run(argv, env=clean_env(HELM_CACHE_HOME=os.path.join(t.work_dir(), "helm-cache"),
                                   HELM_CONFIG_HOME=os.path.join(t.work_dir(), "helm-config"),
                                   HELM_DATA_HOME=os.path.join(t.work_dir(), "helm-data")))


def render(values=None, sets=(), release=RELEASE):
    r = helm("template", release, CHART, "--namespace", NAMESPACE, values=values, sets=sets)
    if r.returncode != 0:
        return None, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d], r.stderr


def k8s_validate(items):
    """items: [(id, object, kind override or None)] -> {id: {"errors": [...], "unknown": [...]}}."""
    path = write_temp("validate-input.json", json.dumps(
        [{"id": i, "object": o, **({"kind": k} if k else {})} for i, o, k in items]))
    r = run([NODE, VALIDATE_JS, path])
    if r.returncode != 0:
        raise RuntimeError(f"k8s_validate.js failed: {r.stderr}")
    return {x["id"]: x for x in json.loads(r.stdout)}


def check_valid(items, what):
    results = k8s_validate(items)
    for i, _, _ in items:
        res = results[i]
        t.check(not res["errors"] and not res["unknown"], f"{what}: {i} valid against the Kubernetes schema, "
                "no unknown field", res)


def check_config(binary, text, env, what):
    path = write_temp("check-config.yaml", text)
    r = run([binary, "check-config", path], env=clean_env(**env))
    out = r.stdout + r.stderr
    t.check(r.returncode == 0 and "warning" not in out, f"{what}: sigv4-sidecar check-config passes with no "
            "warning", out.strip())


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind):
    xs = by_kind(docs, kind)
    return xs[0] if len(xs) == 1 else None


def container_env(container):
    """The literal env values of a container (valueFrom ones get a placeholder)."""
    out = {}
    for e in container.get("env") or []:
        out[e["name"]] = e.get("value", "from-" + next(iter(e.get("valueFrom", {"x": 0}))))
    return out


# ---------------------------------------------------------------------------------------------------------
# chart

def chart_rendered_set(binary, name, values_file, docs):
    """Every assertion on one rendered ci/ set."""
    values = yaml.safe_load(open(values_file)) or {}
    defaults = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    mode = values.get("mode", defaults["mode"])
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    selector = {"app.kubernetes.io/name": "sigv4-sidecar", "app.kubernetes.io/instance": RELEASE}

    check_valid([(f"{name}/{d['kind']}/{d['metadata']['name']}", d, None) for d in docs], name)
    for d in docs:
        labels = d["metadata"].get("labels", {})
        what = f"{name}/{d['kind']}"
        t.check(all(k in labels for k in STANDARD_LABELS), f"{what} carries the standard labels", labels)
        t.check(labels.get("app.kubernetes.io/instance") == RELEASE and labels.get("app.kubernetes.io/managed-by")
                == "Helm" and labels.get("helm.sh/chart") == f"sigv4-sidecar-{chart['version']}"
                and labels.get("app.kubernetes.io/version") == chart["appVersion"], f"{what}: label values", labels)
        t.check_eq(d["metadata"].get("namespace"), NAMESPACE, f"{what} is in the release namespace")

    cms = by_kind(docs, "ConfigMap")
    t.check_eq(len(cms), 1, f"{name}: one ConfigMap")
    config_text = cms[0]["data"]["config.yaml"] if cms else ""
    config = yaml.safe_load(config_text) or {}
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")

    if mode == "sidecar":
        t.check(not workloads and not by_kind(docs, "Service") and not by_kind(docs, "NetworkPolicy"),
                f"{name}: sidecar mode renders no workload, Service or NetworkPolicy",
                sorted(d["kind"] for d in docs))
        t.check_eq(config.get("listen"), "127.0.0.1:8005",
                   f"{name}: the sidecar's proxy listens on 127.0.0.1 (on the pod IP, anyone could sign as the role)")
        t.check(config.get("admin_listen", "").startswith("0.0.0.0:"), f"{name}: admin on a pod-reachable address",
                config.get("admin_listen"))
        return config_text, {}

    t.check_eq(len(workloads), 1, f"{name}: one workload")
    if not workloads:
        return config_text, {}
    w = workloads[0]
    spec = w["spec"]
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    what = f"{name}/{w['kind']}"
    t.check_eq(spec["selector"]["matchLabels"], selector, f"{what}: selector is name + instance only")
    tl = spec["template"]["metadata"]["labels"]
    t.check(all(tl.get(k) == v for k, v in selector.items()) and all(k in tl for k in STANDARD_LABELS),
            f"{what}: pod labels carry the selector and the standard labels", tl)
    svc = one(docs, "Service")
    if svc is not None:
        t.check_eq(svc["spec"]["selector"], selector, f"{name}: the Service selects the same pods")
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        t.check(ports.get("proxy", {}).get("targetPort") == "proxy" and ports.get("admin", {}).get("targetPort")
                == "admin", f"{name}: Service ports target the named container ports", ports)
    for kind in ("PodDisruptionBudget", "ServiceMonitor"):
        for d in by_kind(docs, kind):
            t.check_eq(d["spec"]["selector"]["matchLabels"], selector, f"{name}: the {kind} selects the same pods")
    pdb = one(docs, "PodDisruptionBudget")
    pdbv = values.get("podDisruptionBudget", {})
    t.check_eq(pdb is not None, bool(pdbv.get("enabled")), f"{name}: PodDisruptionBudget rendered iff enabled")
    if pdb is not None:
        t.check_eq(pdb["spec"].get("minAvailable"), pdbv.get("minAvailable", 1), f"{name}: PDB minAvailable")
    sm = one(docs, "ServiceMonitor")
    t.check_eq(sm is not None, bool(values.get("serviceMonitor", {}).get("enabled")),
               f"{name}: ServiceMonitor rendered iff enabled")
    if sm is not None:
        ep = sm["spec"]["endpoints"]
        t.check(len(ep) == 1 and ep[0]["port"] == "admin" and ep[0]["path"] == "/metrics",
                f"{name}: the ServiceMonitor scrapes the admin port's /metrics", ep)
        want_labels = values["serviceMonitor"].get("labels", {})
        t.check(all(sm["metadata"]["labels"].get(k) == v for k, v in want_labels.items()),
                f"{name}: the ServiceMonitor carries serviceMonitor.labels (for the operator's selector)")

    # security
    psc = pod.get("securityContext", {})
    t.check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65534 and psc.get("runAsGroup") == 65534
            and psc.get("fsGroup") == 65534 and psc.get("seccompProfile") == {"type": "RuntimeDefault"},
            f"{what}: pod runs as 65534 with fsGroup and RuntimeDefault seccomp", psc)
    csc = c.get("securityContext", {})
    t.check(csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True
            and csc.get("capabilities") == {"drop": ["ALL"]} and csc.get("runAsNonRoot") is True
            and csc.get("runAsUser") == 65534 and csc.get("seccompProfile") == {"type": "RuntimeDefault"},
            f"{what}: container read-only, no privilege escalation, every capability dropped", csc)
    t.check(pod.get("automountServiceAccountToken") is False, f"{what}: no automounted API token (IRSA and Pod "
            "Identity project their own)")
    res = c.get("resources", {})
    t.check("cpu" in res.get("requests", {}) and "memory" in res.get("requests", {})
            and "memory" in res.get("limits", {}) and "cpu" not in res.get("limits", {}),
            f"{what}: requests, a memory limit and no CPU limit", res)
    grace = go_duration_seconds(str(config.get("timeouts", {}).get("shutdown_grace", "15s")))
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[-1]) if pre and pre[0].endswith("sleep") else 0
    t.check(pod["terminationGracePeriodSeconds"] > grace + pre_s,
            f"{what}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} > preStop {pre_s} s + "
            f"shutdown_grace {grace:g} s")
    ann = spec["template"]["metadata"].get("annotations", {})
    t.check_eq(ann.get("checksum/config"), hashlib.sha256(config_text.rstrip("\n").encode()).hexdigest(),
               f"{what}: checksum/config is the rendered config's sha256")

    # ports and probes
    cports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    admin_host, admin_port = config["admin_listen"].rsplit(":", 1)
    t.check(admin_host in ("0.0.0.0", "[::]"), f"{what}: admin_listen {config['admin_listen']} is pod-reachable "
            "(kubelet probes the pod IP)")
    t.check_eq(cports.get("admin"), int(admin_port), f"{what}: container port 'admin' is admin_listen's port")
    listen_host, listen_port = config["listen"].rsplit(":", 1)
    t.check(listen_host in ("0.0.0.0", "[::]") and cports.get("proxy") == int(listen_port),
            f"{what}: standalone proxy listens on the pod IP at container port 'proxy'", (config["listen"], cports))
    lp, rp = c.get("livenessProbe", {}), c.get("readinessProbe", {})
    t.check(lp.get("httpGet") == {"path": "/-/healthy", "port": "admin"}, f"{what}: liveness /-/healthy on admin", lp)
    t.check(rp.get("httpGet") == {"path": "/-/ready", "port": "admin"}, f"{what}: readiness /-/ready on admin", rp)
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    t.check(mounts.get("config", {}).get("mountPath") == "/etc/sigv4-sidecar" and mounts["config"].get("readOnly"),
            f"{what}: the config mounted read-only at /etc/sigv4-sidecar", mounts)
    t.check("--config=/etc/sigv4-sidecar/config.yaml" in c.get("args", []), f"{what}: --config points at it",
            c.get("args"))
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    t.check_eq(vols.get("config", {}).get("configMap", {}).get("name"), cms[0]["metadata"]["name"],
               f"{what}: the config volume is the ConfigMap")

    # identity
    sa = one(docs, "ServiceAccount")
    sa_name = values.get("serviceAccount", {}).get("name") or f"{RELEASE}-sigv4-sidecar"
    if sa is not None:
        t.check_eq(sa["metadata"]["name"], sa_name, f"{name}: ServiceAccount name")
        t.check(sa.get("automountServiceAccountToken") is False, f"{name}: ServiceAccount does not automount")
    t.check_eq(pod.get("serviceAccountName"), sa_name, f"{what}: runs as that ServiceAccount")
    role = values.get("irsa", {}).get("roleArn")
    if role:
        t.check_eq((sa or {}).get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn"), role,
                   f"{name}: IRSA annotation eks.amazonaws.com/role-arn")
    if values.get("aws", {}).get("region"):
        t.check_eq(container_env(c).get("AWS_REGION"), values["aws"]["region"], f"{what}: AWS_REGION set")

    # storage
    st = values.get("storage", {})
    if st.get("enabled"):
        path = st.get("path", defaults["storage"]["path"])
        t.check_eq(mounts.get("storage", {}).get("mountPath"), path, f"{what}: spool volume mounted at {path}")
        t.check(f"--storage.path={path}" in c.get("args", []), f"{what}: --storage.path={path} passed",
                c.get("args"))
        if st.get("type", "emptyDir") == "emptyDir":
            t.check_eq(vols.get("storage", {}).get("emptyDir", {}).get("sizeLimit"),
                       st.get("emptyDir", {}).get("sizeLimit", defaults["storage"]["emptyDir"]["sizeLimit"]),
                       f"{what}: the spool is an emptyDir with its size limit")
        if st.get("type") == "statefulSet":
            t.check_eq(w["kind"], "StatefulSet", f"{name}: storage.type statefulSet renders a StatefulSet")
            vct = spec.get("volumeClaimTemplates", [{}])[0]
            t.check(vct.get("metadata", {}).get("name") == "storage" and vct["spec"]["resources"]["requests"]
                    ["storage"] == st["size"], f"{name}: a volumeClaimTemplate of {st.get('size')}", vct)
    else:
        t.check("storage" not in mounts and not any(a.startswith("--storage.path") for a in c.get("args", [])),
                f"{what}: no spool without storage.enabled")

    # NetworkPolicy
    np_ = one(docs, "NetworkPolicy")
    npv = values.get("networkPolicy", {})
    t.check_eq(np_ is not None, bool(npv.get("enabled")), f"{name}: NetworkPolicy rendered iff enabled")
    if np_ is not None:
        check_network_policy(name, np_, npv, selector)
    return config_text, container_env(c)


def check_network_policy(name, np_, npv, selector):
    s = np_["spec"]
    t.check_eq(s["podSelector"], {"matchLabels": selector}, f"{name}: NetworkPolicy selects the pods")
    t.check_eq(sorted(s["policyTypes"]), ["Egress", "Ingress"], f"{name}: NetworkPolicy governs both directions")
    proxy_rules = [r for r in s["ingress"] if any(p.get("port") == "proxy" for p in r.get("ports", []))]
    t.check(len(proxy_rules) == 1 and proxy_rules[0].get("from"), f"{name}: exactly one ingress rule for the proxy "
            "port, with a from list (never open to all)", proxy_rules)
    if proxy_rules:
        want = npv.get("allowedClients") or [{"podSelector": {"matchLabels": {f"{RELEASE}-sigv4-sidecar-client":
                                                                             "true"}}}]
        t.check_eq(proxy_rules[0]["from"], want, f"{name}: the proxy port admits only the allowed clients")
    admin_rules = [r for r in s["ingress"] if any(p.get("port") == "admin" for p in r.get("ports", []))]
    t.check(len(admin_rules) == 1 and admin_rules[0].get("from") == (npv.get("adminFrom") or None),
            f"{name}: the admin port's rule", admin_rules)
    egress = s["egress"]

    def allows(port, proto="TCP", cidr=None):
        for r in egress:
            if not any(p.get("port") == port and p.get("protocol", "TCP") == proto for p in r.get("ports", [])):
                continue
            if cidr is None or any(x.get("ipBlock", {}).get("cidr") == cidr for x in r.get("to", [])):
                return r
        return None

    dns = allows(53, "UDP")
    t.check(dns is not None and allows(53, "TCP") is not None, f"{name}: egress DNS on 53 UDP and TCP", egress)
    if dns is not None:
        t.check_eq(dns.get("to"), npv.get("dnsTo") or None, f"{name}: DNS peers")
    https = allows(443)
    t.check(https is not None and https.get("to") == (npv.get("httpsTo") or None), f"{name}: egress 443 (AWS)",
            egress)
    t.check(allows(80, cidr="169.254.170.23/32") is not None and allows(80, cidr="fd00:ec2::23/128") is not None,
            f"{name}: egress to the EKS Pod Identity agent 169.254.170.23:80 and [fd00:ec2::23]:80", egress)
    others = [r for r in egress if not any(p.get("port") in (53, 443, 80) for p in r.get("ports", []))]
    t.check_eq(others, npv.get("extraEgress", []), f"{name}: no egress beyond DNS, 443, the agent and extraEgress")


def probes_live(binary, name, config_text, env, args):
    """The rendered config and arguments run for real (listen addresses moved to free loopback ports): the
    rendered probes' paths answer 200."""
    cfg = yaml.safe_load(config_text)
    port, admin = t.free_port(), t.free_port()
    cfg["listen"], cfg["admin_listen"] = f"127.0.0.1:{port}", f"127.0.0.1:{admin}"
    path = write_temp(f"{name}-live.yaml", yaml.safe_dump(cfg))
    # The pod's spool volume is a directory of this run's own (the rendered path exists only in the pod).
    spool = tempfile.mkdtemp(prefix=f"{name}-spool-", dir=t.work_dir())
    extra = [f"--storage.path={spool}" if a.startswith("--storage.path") else a
             for a in args if not a.startswith("--config=")]
    env = dict(t.credential_env(base=clean_env()), **env)
    proc = t.start_process([binary, f"--config={path}", *extra], env=env, name=f"sidecar-{name}")
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                t.wait_port(t.LOOPBACK, admin, timeout=0.2)
                break
            except TimeoutError:
                if not proc.alive() or time.monotonic() > deadline:
                    t.check(False, f"{name}: the sidecar starts with the rendered config", proc.log_tail())
                    return
        for probe in ("/-/healthy", "/-/ready"):
            r = t.http_request(t.LOOPBACK, admin, "GET", probe, [("Host", "probe")])
            t.check_eq(r.status, 200, f"{name}: the rendered config served, probe {probe} answers 200")
    finally:
        t.check_eq(proc.stop(timeout=20), 0, f"{name}: the sidecar exits 0 on SIGTERM")


def section_chart(binary):
    t.section("tools")
    if not t.check(os.access(HELM, os.X_OK), f"helm at {HELM} (scripts/install-deps.sh installs it)"):
        return
    r = run([HELM, "version", "--short"])
    t.check(r.stdout.startswith("v3.17."), f"helm is 3.17 ({r.stdout.strip()})")

    t.section("Chart.yaml and values.schema.json")
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    t.check_eq(chart.get("apiVersion"), "v2", "Chart apiVersion v2")
    t.check(re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?", str(chart.get("version"))),
            f"Chart version {chart.get('version')} is SemVer")
    t.check_eq(str(chart.get("appVersion")), project_version(), "appVersion is the project's version (CMakeLists)")
    schema_text = open(os.path.join(CHART, "values.schema.json")).read()
    schema = json.loads(schema_text)
    t.check_eq(schema.get("$schema"), "http://json-schema.org/draft-07/schema#", "values.schema.json is draft-07")
    refs = re.findall(r'"\$ref":\s*"([^"]*)"', schema_text)
    t.check(refs and all(x.startswith("#/") for x in refs), f"the schema's {len(refs)} $refs are all local "
            "(helm must validate offline)", [x for x in refs if not x.startswith("#/")])
    helpers = open(os.path.join(CHART, "templates", "_helpers.tpl")).read()
    for d in ("name", "fullname", "chart", "labels", "selectorLabels", "serviceAccountName"):
        t.check(f'define "sigv4-sidecar.{d}"' in helpers, f"_helpers.tpl defines sigv4-sidecar.{d}")

    ci_dir = os.path.join(CHART, "ci")
    ci_sets = sorted(f for f in os.listdir(ci_dir) if f.endswith("-values.yaml"))
    want = {"standalone", "sidecar", "irsa", "podidentity", "scraper", "networkpolicy"}
    t.check(want <= {f[:-len("-values.yaml")] for f in ci_sets}, f"ci/ has a set per mode: {ci_sets}")

    t.section("helm lint --strict")
    for f in [None] + ci_sets:
        r = helm("lint", "--strict", CHART, values=[os.path.join(ci_dir, f)] if f else None)
        bad = [line for line in r.stdout.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
        t.check(r.returncode == 0 and "0 chart(s) failed" in r.stdout and not bad,
                f"helm lint --strict {f or '(default values)'}", r.stdout + r.stderr)

    t.section("helm template: every ci/ set")
    for f in ci_sets:
        name = f[:-len("-values.yaml")]
        vf = os.path.join(ci_dir, f)
        docs, err = render([vf])
        if not t.check(docs is not None, f"helm template -f ci/{f}", err):
            continue
        t.check(True, f"{name}: rendered {', '.join(sorted(d['kind'] for d in docs))}")
        config_text, env = chart_rendered_set(binary, name, vf, docs)
        if name == "sidecar":
            continue  # checked with the env of the examples' containers below
        # IRSA's and Pod Identity's webhooks inject more env (AWS_ROLE_ARN, ...), never AWS_REGION: the
        # config's ${VARs} must be satisfied by the chart's own env.
        check_config(binary, config_text, env, f"{name}: rendered config")
        w = (by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"))
        if name in ("standalone", "scraper", "irsa") and w:
            probes_live(binary, name, config_text, env, w[0]["spec"]["template"]["spec"]["containers"][0]["args"])

    t.section("variants: an existing claim, IPv6, an image digest")
    digest = "sha256:" + "ab" * 32
    docs, err = render(sets=["aws.region=us-east-1", "replicaCount=1", "storage.enabled=true",
                             "storage.type=persistentVolumeClaim", "storage.existingClaim=spool",
                             "listenAddress=[::]", "adminListenAddress=[::]", f"image.digest={digest}"])
    if t.check(docs is not None, "helm template with storage.type=persistentVolumeClaim, [::], a digest", err):
        check_valid([(f"variant/{d['kind']}", d, None) for d in docs], "variant")
        dep = one(docs, "Deployment")
        pod = dep["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in pod["volumes"]}
        t.check_eq(vols.get("storage", {}).get("persistentVolumeClaim"), {"claimName": "spool"},
                   "the spool is the existing claim")
        t.check_eq(dep["spec"]["strategy"], {"type": "Recreate"}, "one ReadWriteOnce claim: Recreate")
        t.check_eq(pod["containers"][0]["image"], f"sigv4-sidecar@{digest}", "pulled by digest")
        cfg_text = one(docs, "ConfigMap")["data"]["config.yaml"]
        cfg = yaml.safe_load(cfg_text)
        t.check_eq((cfg["listen"], cfg["admin_listen"]), ("[::]:8005", "[::]:8006"), "IPv6 bind addresses")
        check_config(binary, cfg_text, container_env(pod["containers"][0]), "IPv6 variant")

    t.section("the validator catches what it must (a typo, a wrong type, a missing field)")
    base, _ = render([os.path.join(ci_dir, "standalone-values.yaml")])
    if base:
        dep = one(base, "Deployment")
        typo, wrong, missing = copy.deepcopy(dep), copy.deepcopy(dep), copy.deepcopy(dep)
        typo["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
        wrong["spec"]["replicas"] = "two"
        del missing["spec"]["template"]["spec"]["containers"][0]["name"]
        res = k8s_validate([("typo", typo, None), ("wrong", wrong, None), ("missing", missing, None)])
        t.check_eq(res["typo"]["unknown"], ["/spec/template/spec/containers/0/securityContext/runAsNonroot"],
                   "an unknown field is reported with its path")
        t.check(res["wrong"]["errors"] and "/spec/replicas" in res["wrong"]["errors"][0],
                "a wrong type is an error", res["wrong"])
        t.check(res["missing"]["errors"], "a missing required field is an error", res["missing"])

    t.section("a config change rolls the pods")
    base, _ = render([os.path.join(ci_dir, "standalone-values.yaml")])
    changed, _ = render([os.path.join(ci_dir, "standalone-values.yaml")], sets=["config.log_level=debug"])
    if base and changed:
        a = one(base, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        b = one(changed, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        t.check(a != b, "checksum/config changes with the config")

    t.section("the values schema and the chart refuse bad values")
    bad_values = [
        ("replicaCount: two", "replicaCount: Invalid type"),
        ("mode: daemonset", "mode must be one of"),
        ("image: {repository: x, registry: docker.io}", "Additional property registry is not allowed"),
        ("image: {pullPolicy: Sometimes}", "pullPolicy must be one of"),
        ("service: {port: http}", "port: Invalid type"),
        ("networkPolicy: {enabled: 'yes'}", "enabled: Invalid type"),
        ("replicas: 2", "Additional property replicas is not allowed"),
        ("storage: {enabled: true, type: hostPath}", "type must be one of"),
        ("irsa: {roleArn: amp-writer}", "roleArn: Does not match pattern"),
        ("listenAddress: 10.0.0.1", "listenAddress must be one of"),
        ("resources: {limits: {memory: lots}}", "Does not match pattern"),
        ("config: {listen: '0.0.0.0:9000'}", "config.listen and config.admin_listen are the chart's"),
        ("terminationGracePeriodSeconds: 10", "terminationGracePeriodSeconds (10) must be above"),
        ("config: {timeouts: {shutdown_grace: 1m}}", "terminationGracePeriodSeconds (30) must be above"),
        ("{mode: sidecar, networkPolicy: {enabled: true}}", "networkPolicy is for the standalone mode"),
        ("{podIdentity: {enabled: true}, serviceAccount: {create: false}}", "set serviceAccount.name"),
        ("{storage: {enabled: true, type: persistentVolumeClaim}}", "needs storage.existingClaim"),
    ]
    for i, (text, message) in enumerate(bad_values):
        docs, err = render([write_temp(f"bad-{i}.yaml", text + "\n")])
        t.check(docs is None and message in err, f"refused: {text!r} ({message})", err.strip()[-300:])

    t.section("examples: the sidecar in kube-prometheus-stack and prometheus-community/prometheus")
    check_examples(binary)

    t.section("README: every value documented")
    readme = open(os.path.join(CHART, "README.md")).read()
    defaults = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    missing = [k for k in leaf_keys(defaults) if f"`{k}`" not in readme]
    t.check(not missing, f"helm/sigv4-sidecar/README.md names each of the {len(leaf_keys(defaults))} values", missing)


def leaf_keys(d, prefix=""):
    """values.yaml's keys as dotted paths: maps are walked, except the free-form ones (config, resources, probes,
    security contexts), which are documented as a whole."""
    free = {"config", "resources", "podSecurityContext", "securityContext", "livenessProbe", "readinessProbe",
            "startupProbe"}
    out = []
    for k, v in d.items():
        path = prefix + k
        if isinstance(v, dict) and v and k not in free:
            out += leaf_keys(v, path + ".")
        else:
            out.append(path)
    return out


def check_examples(binary):
    docs, err = render([os.path.join(CHART, "ci", "sidecar-values.yaml")], release="sigv4-sidecar")
    if not t.check(docs is not None, "helm template sigv4-sidecar -f ci/sidecar-values.yaml", err):
        return
    cm = one(docs, "ConfigMap")
    config_text = cm["data"]["config.yaml"]
    config = yaml.safe_load(config_text)
    listen_port = int(config["listen"].rsplit(":", 1)[1])
    admin_port = int(config["admin_listen"].rsplit(":", 1)[1])
    prefixes = [r.get("match", {}).get("path_prefix", "/") for r in config.get("routes", [])]
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    ex = os.path.join(CHART, "examples")
    kps = yaml.safe_load(open(os.path.join(ex, "kube-prometheus-stack-values.yaml")))
    prom = yaml.safe_load(open(os.path.join(ex, "prometheus-values.yaml")))
    cases = [
        ("kube-prometheus-stack", kps["prometheus"]["prometheusSpec"]["containers"],
         kps["prometheus"]["prometheusSpec"]["volumes"], kps["prometheus"]["prometheusSpec"]["remoteWrite"],
         kps["prometheus"]["prometheusSpec"]["podMetadata"]["annotations"],
         kps["prometheus"]["serviceAccount"]["annotations"]),
        # The prometheus chart renders each sidecarContainers entry as `- name: KEY` plus the value.
        ("prometheus", [{"name": k, **v} for k, v in prom["server"]["sidecarContainers"].items()],
         prom["server"]["extraVolumes"], prom["server"]["remoteWrite"], prom["server"]["podAnnotations"],
         prom["serviceAccounts"]["server"]["annotations"]),
    ]
    for name, containers, volumes, remote_write, pod_ann, sa_ann in cases:
        sc = [c for c in containers if c["name"] == "sigv4-sidecar"]
        if not t.check(len(sc) == 1, f"{name}: one sigv4-sidecar container"):
            continue
        c = sc[0]
        check_valid([(f"{name}/container", c, "Container")] + [(f"{name}/volume/{v['name']}", v, "Volume")
                                                               for v in volumes], name)
        t.check_eq(c["image"], f"sigv4-sidecar:{chart['appVersion']}", f"{name}: the image is the chart's appVersion")
        t.check_eq(c.get("args"), ["--config=/etc/sigv4-sidecar/config.yaml"], f"{name}: args as the chart's")
        mount = next((m for m in c.get("volumeMounts", []) if m["mountPath"] == "/etc/sigv4-sidecar"), None)
        vol = next((v for v in volumes if mount and v["name"] == mount["name"]), None)
        t.check(mount is not None and mount.get("readOnly") and vol is not None
                and vol.get("configMap", {}).get("name") == cm["metadata"]["name"],
                f"{name}: the config mount is the ConfigMap the chart renders ({cm['metadata']['name']})", (mount, vol))
        csc = c.get("securityContext", {})
        t.check(csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True
                and csc.get("capabilities") == {"drop": ["ALL"]} and csc.get("runAsNonRoot") is True
                and csc.get("runAsUser") == 65534 and csc.get("seccompProfile") == {"type": "RuntimeDefault"},
                f"{name}: the container's security context", csc)
        t.check("cpu" not in c.get("resources", {}).get("limits", {}) and "memory" in c["resources"]["limits"],
                f"{name}: a memory limit, no CPU limit", c.get("resources"))
        t.check(c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": admin_port}
                and c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": admin_port},
                f"{name}: probes on the admin port {admin_port}")
        t.check(any(p["containerPort"] == admin_port for p in c.get("ports", []))
                and not any(p["containerPort"] == listen_port for p in c.get("ports", [])),
                f"{name}: the admin port is declared, the proxy port (loopback only) is not", c.get("ports"))
        for rw in remote_write:
            url = rw["url"]
            t.check(url.startswith(f"http://127.0.0.1:{listen_port}/") and "sigv4" not in rw
                    and any(url.split(str(listen_port), 1)[1].startswith(p) for p in prefixes),
                    f"{name}: remoteWrite {url} goes to the sidecar's route on loopback, with no sigv4 block")
        skip = pod_ann.get("eks.amazonaws.com/skip-containers", "")
        t.check(skip and "sigv4-sidecar" not in skip.split(","), f"{name}: IRSA's webhook skips the other "
                f"containers ({skip})")
        t.check(re.fullmatch(r"arn:aws:iam::[0-9]{12}:role/.+", sa_ann.get("eks.amazonaws.com/role-arn", "")),
                f"{name}: the Prometheus ServiceAccount carries the IRSA role")
        check_config(binary, config_text, container_env(c), f"{name}: the sidecar ConfigMap with this container's env")


# ---------------------------------------------------------------------------------------------------------
# image

def dockerfile():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    # join continuation lines, drop comments
    logical, cur = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not cur:
            continue
        cur += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            if cur.strip():
                logical.append(cur.strip())
            cur = ""
    return text, logical


def healthcheck_argv():
    _, lines = dockerfile()
    hc = [x for x in lines if x.upper().startswith("HEALTHCHECK")]
    if not hc:
        return None
    cmd = hc[-1].split(" CMD ", 1)[1].strip()
    return json.loads(cmd)


def section_image(binary, image_binary):
    t.section("Dockerfile")
    text, lines = dockerfile()
    froms = [x for x in lines if x.upper().startswith("FROM ")]
    t.check(len(froms) >= 2 and " AS " in froms[0].upper(), f"multi-stage ({len(froms)} stages)", froms)
    t.check(froms and froms[-1].split()[1] in ("debian:12-slim", "debian:bookworm-slim"),
            "the final stage is debian:12-slim", froms[-1:])
    final = lines[lines.index(froms[-1]):] if froms else []
    users = [x for x in final if x.upper().startswith("USER ")]
    t.check_eq(users[-1:] if users else None, ["USER 65534:65534"], "the final stage runs as numeric USER 65534:65534")
    t.check(any("scripts/build-image-steps.sh" in x for x in lines if x.upper().startswith("RUN ")),
            "the build stage runs scripts/build-image-steps.sh (the script CI runs)")
    t.check(any(x.upper().startswith("COPY --FROM=BUILD") for x in final), "the final stage copies the build's output")
    steps = open(os.path.join(ROOT, "scripts", "build-image-steps.sh")).read()
    t.check(not ARCH_WORDS.search(re.sub(r"(?m)^\s*#.*$", "", text)) and not ARCH_WORDS.search(
        re.sub(r"(?m)^\s*#.*$", "", steps)), "no architecture named in the Dockerfile or the build steps (amd64 and "
            "arm64 both build)", ARCH_WORDS.findall(text + steps))
    argv = healthcheck_argv()
    t.check(argv is not None and argv[:2] == ["/usr/local/bin/sigv4-sidecar", "healthcheck"],
            f"HEALTHCHECK runs the image's own binary: {argv}")
    t.check(any(x.upper().startswith("ENTRYPOINT") and "/usr/local/bin/sigv4-sidecar" in x for x in final),
            "ENTRYPOINT is the sidecar")
    ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
    for entry in ("build/", ".git/", "tests/deploy/node_modules/"):
        t.check(entry in ignore, f".dockerignore leaves out {entry}")

    t.section("the binary's shared libraries are in the final stage")
    r = run(["readelf", "-d", image_binary])
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", r.stdout)
    t.check(needed, f"{image_binary}: NEEDED {needed}")
    base = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}  # in debian:12-slim
    apt_line = " ".join(x for x in final if x.upper().startswith("RUN ") and "apt-get install" in x)
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", image_binary]).stdout, re.M))
    for lib in needed:
        path = resolved.get(lib, "")
        owners = [run(["dpkg", "-S", p]).stdout for p in (path, path.replace("/usr/lib/", "/lib/", 1),
                                                            os.path.realpath(path)) if p]
        pkg = next((o.split(":")[0] for o in owners if o), "")
        t.check(pkg in base or (pkg and re.search(rf"\b{re.escape(pkg)}\b", apt_line)),
                f"{lib} (Debian package {pkg or '?'}) is in debian:12-slim or installed by the final stage")

    section_healthcheck(image_binary)


def section_healthcheck(image_binary):
    t.section("HEALTHCHECK against a live, a not-ready and a stopped sidecar (own network namespace)")
    unshare = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    r = subprocess.run(unshare + ["/usr/bin/python3", os.path.abspath(__file__), "image-netns", image_binary],
                       capture_output=True, text=True, timeout=120)
    for line in r.stdout.splitlines():
        print(f"  [netns] {line}")
    t.check(r.returncode == 0, "the network-namespace checks passed", r.stderr[-2000:])


def section_image_netns(image_binary):
    """Runs inside `unshare --net`: 127.0.0.1:8006 (the HEALTHCHECK's default) belongs to this test alone."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    argv = healthcheck_argv()
    cmd = [image_binary] + argv[1:]
    config = {"admin_listen": "127.0.0.1:8006", "listen": "127.0.0.1:8005",
              "timeouts": {"shutdown_grace": "1s"},
              "routes": [{"name": "amp", "match": {"path_prefix": "/workspaces/"},
                          "upstream": "https://aps-workspaces.us-east-1.amazonaws.com"}]}
    proxy = t.start_proxy(image_binary, config, name="sidecar-healthcheck")
    r = run(cmd, timeout=10)
    t.check(r.returncode == 0 and not r.stderr, f"`{' '.join(argv)}` exits 0 against a ready sidecar", r.stderr)
    t.check_eq(proxy.stop(), 0, "the sidecar stops")
    start = time.monotonic()
    r = run(cmd, timeout=10)
    took = time.monotonic() - start
    lines = r.stderr.strip().splitlines()
    t.check(r.returncode == 1 and len(lines) == 1 and "refused" in lines[0],
            f"against a stopped sidecar: exit {r.returncode}, one line: {lines}")
    t.check(took < 3, f"and fast ({took:.2f} s)")
    # No credentials at all: /-/ready says 503 and why.
    env = t.credential_env(akid=None)
    proxy = t.start_proxy(image_binary, config, env=env, name="sidecar-notready")
    r = run(cmd, timeout=10)
    lines = r.stderr.strip().splitlines()
    t.check(r.returncode == 1 and len(lines) == 1 and "answered 503" in lines[0],
            f"against a sidecar without credentials: exit {r.returncode}, one line: {lines}")
    proxy.stop()
    r = run([image_binary, "healthcheck", "--timeout", "500ms", "http://127.0.0.1:8006/-/ready", "extra"])
    t.check_eq(r.returncode, 2, "bad arguments exit 2")


# ---------------------------------------------------------------------------------------------------------
# compose

SECRET_PATTERNS = re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}|aws_secret_access_key|AWS_SECRET_ACCESS_KEY\s*[=:]\s*\S"
                             r"|AWS_SESSION_TOKEN\s*[=:]\s*\S|AWS_ACCESS_KEY_ID\s*[=:]\s*\S")


def section_compose(binary):
    compose_dir = os.path.join(ROOT, "deploy", "compose")
    hc = healthcheck_argv()
    for fname, sidecar_cfg in (("compose.yaml", "sidecar.yaml"), ("compose.scraper.yaml", "scraper.yaml")):
        t.section(f"deploy/compose/{fname}")
        raw = open(os.path.join(compose_dir, fname)).read()
        t.check(not SECRET_PATTERNS.search(raw), f"{fname}: no credential written in the file",
                SECRET_PATTERNS.findall(raw))
        r = run(["docker-compose", "-f", os.path.join(compose_dir, fname), "config"], env=clean_env())
        if not t.check(r.returncode == 0 and "WARNING" not in r.stderr, f"docker-compose -f {fname} config",
                       r.stderr.strip()):
            continue
        cfg = yaml.safe_load(r.stdout)
        services = cfg["services"]
        for name, s in services.items():
            for p in s.get("ports", []):
                t.check(str(p).startswith("127.0.0.1:") or (isinstance(p, dict) and p.get("host_ip") == "127.0.0.1"),
                        f"{fname}/{name}: port {p} published on 127.0.0.1 only")
            t.check(s.get("read_only") is True and s.get("cap_drop") == ["ALL"]
                    and "no-new-privileges:true" in s.get("security_opt", []),
                    f"{fname}/{name}: read_only, cap_drop ALL, no-new-privileges", s)
            t.check(re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", str(s.get("user", ""))), f"{fname}/{name}: runs as a "
                    f"non-root numeric user ({s.get('user')})")
        sc = services.get("sigv4-sidecar", {})
        t.check_eq(sc.get("healthcheck", {}).get("test"), ["CMD"] + (hc or []),
                   f"{fname}: the sidecar's healthcheck is the image's HEALTHCHECK")
        t.check_eq(sc.get("depends_on", {}).get("receiver", {}).get("condition"), "service_healthy",
                   f"{fname}: the sidecar waits for a healthy receiver")
        for name, s in services.items():
            if "sigv4-sidecar" in s.get("depends_on", {}):
                t.check_eq(s["depends_on"]["sigv4-sidecar"].get("condition"), "service_healthy",
                           f"{fname}/{name} waits for a healthy sidecar")
        env = sc.get("environment", {})
        t.check(all(env.get(k) is None for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
                and all(k in env for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
                f"{fname}: credentials passed through from the environment by name only", env)
        aws_mounts = [v for v in sc.get("volumes", []) if str(v).split(":")[1:2] == ["/aws"]]
        t.check(aws_mounts and all(str(v).endswith(":ro") for v in aws_mounts), f"{fname}: ~/.aws mounted read-only",
                sc.get("volumes"))
        cfg_env = {k: v for k, v in env.items() if v is not None}
        check_config(binary, open(os.path.join(compose_dir, sidecar_cfg)).read(), cfg_env,
                     f"{fname}: the sidecar's {sidecar_cfg}")
    t.section("the Prometheus configs of the stacks (promtool)")
    for f, extra in (("agent.yml", ["--agent"]), ("receiver.yml", [])):
        r = run(["promtool", "check", "config", *extra, os.path.join(compose_dir, f)])
        t.check(r.returncode == 0, f"promtool check config {' '.join(extra)} {f}", r.stdout + r.stderr)
    agent = yaml.safe_load(open(os.path.join(compose_dir, "agent.yml")))
    sidecar = yaml.safe_load(open(os.path.join(compose_dir, "sidecar.yaml")))
    url = agent["remote_write"][0]["url"]
    prefixes = [r["match"]["path_prefix"] for r in sidecar["routes"]]
    t.check(url.startswith("http://sigv4-sidecar:8005/") and "sigv4" not in agent["remote_write"][0]
            and any(url.split(":8005", 1)[1].startswith(p) for p in prefixes),
            f"the agent remote-writes plainly to a sidecar route ({url})")


# ---------------------------------------------------------------------------------------------------------
# systemd

def section_systemd(binary):
    unit = os.path.join(ROOT, "deploy", "systemd", "sigv4-sidecar.service")
    text = open(unit).read()
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())

    t.section("systemd-analyze verify (any output fails)")
    # A scratch root with the system's units, the binary where ExecStart expects it and /bin/kill for ExecReload,
    # so that verify checks the commands too.
    root = tempfile.mkdtemp(prefix="unit-root-", dir=t.work_dir())
    for d in ("usr/local/bin", "usr/bin", "usr/lib/systemd", "etc/systemd/system"):
        os.makedirs(os.path.join(root, d))
    os.symlink("usr/bin", os.path.join(root, "bin"))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    shutil.copytree("/usr/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    shutil.copy(binary, os.path.join(root, "usr/local/bin/sigv4-sidecar"))
    shutil.copy("/bin/kill", os.path.join(root, "usr/bin/kill"))
    copy = os.path.join(root, "etc/systemd/system/sigv4-sidecar.service")
    shutil.copy(unit, copy)
    r = run(["systemd-analyze", "verify", f"--root={root}", copy])
    t.check(r.returncode == 0 and not (r.stdout + r.stderr).strip(), "systemd-analyze verify: no output, exit 0",
            r.stdout + r.stderr)
    with open(copy, "a") as f:
        f.write("ProtectSytem=strict\n")
    r = run(["systemd-analyze", "verify", f"--root={root}", copy])
    t.check("Unknown key" in r.stdout + r.stderr, "(the same check catches a misspelt key, which exits 0)",
            (r.returncode, r.stdout + r.stderr))

    t.section("systemd-analyze security --offline=true: exposure at most 2.0")
    r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", unit])
    m = re.search(r"Overall exposure level for sigv4-sidecar.service: ([0-9.]+)", r.stdout)
    exposure = float(m.group(1)) if m else None
    t.check(r.returncode == 0 and exposure is not None and exposure <= 2.0,
            f"exposure {exposure} <= 2.0 (threshold 20 passes)", r.stdout[-600:])

    t.section("the unit's settings")
    want = {"DynamicUser": "yes", "ConfigurationDirectory": "sigv4-sidecar", "StateDirectory": "sigv4-sidecar",
            "Restart": "on-failure", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectClock": "yes",
            "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": ""}
    for k, v in want.items():
        t.check_eq(keys.get(k, [None])[0], v, f"{k}={v}")
    t.check("@system-service" in keys.get("SystemCallFilter", []), "SystemCallFilter=@system-service")
    t.check(keys.get("RestrictAddressFamilies", [""])[0].split() == ["AF_INET", "AF_INET6", "AF_UNIX"],
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX")
    t.check(keys.get("ExecReload", [""])[0].endswith("kill -HUP $MAINPID"), "ExecReload sends SIGHUP")
    stop = go_duration_seconds(keys.get("TimeoutStopSec", ["0"])[0])
    t.check(stop > 15, f"TimeoutStopSec {stop:g} s > the default shutdown_grace 15 s")
    envs = " ".join(keys.get("Environment", []))
    t.check(not SECRET_PATTERNS.search(text) and not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)",
                                                               envs),
            "no credential in the unit (IMDS; LoadCredential= or a 0600 EnvironmentFile for static keys)")
    exec_start = keys.get("ExecStart", [""])[0].split()
    t.check(exec_start[:1] == ["/usr/local/bin/sigv4-sidecar"] and exec_start[1:2] == [
        "--config=${CONFIGURATION_DIRECTORY}/config.yaml"], f"ExecStart: {exec_start}")
    t.check("--storage.path=${STATE_DIRECTORY}" in exec_start and "StateDirectory" in keys,
            "the spool in the StateDirectory (--storage.path=${STATE_DIRECTORY})", exec_start)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    what, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    if what == "chart":
        section_chart(binary)
    elif what == "image":
        # The image's binary (scripts/build-image-steps.sh's output) when it was built, else the build's.
        image_binary = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else binary
        if not os.path.exists(image_binary):
            print(f"note: {image_binary} not built (scripts/build-image-steps.sh); using {binary}")
            image_binary = binary
        section_image(binary, image_binary)
    elif what == "healthcheck":  # the HEALTHCHECK part of "image" alone (sanitizer builds: their binary is no image's)
        section_healthcheck(binary)
    elif what == "image-netns":
        section_image_netns(binary)
    elif what == "compose":
        section_compose(binary)
    elif what == "systemd":
        section_systemd(binary)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    t.run_main(main)
