#!/usr/bin/python3
"""Differential test: the bundled scraper against Debian's Prometheus 2.42 in agent mode. Both run the same
scrape jobs (tests/data/scrape_diff/scrape_configs.yaml) on the same corpus pages (tests/data/scrape_diff/pages,
served here on loopback) and remote-write into one receiver (tests/support/remote_write_receiver.py) that
decodes every request; then, per job, the two recordings must agree.

  scraper_diff_test.py PATH/TO/sigv4-sidecar [PATH/TO/prometheus]

Compared per job: the set of label sets (series and synthetic series alike); per series the values in order
(stale markers told apart from other NaNs by their bits); timestamps exactly where the page sets them
(honor_timestamps), and within the run otherwise; up, scrape_samples_scraped,
scrape_samples_post_metric_relabeling and scrape_series_added values. The pages count scrapes per client and
path, so a page that changes between scrapes shows both agents the same sequence. Where Prometheus 2.42 breaks
its own spec, EXCEPTIONS below names the case, the reference and what is expected instead.
Last line: 'N passed, M failed'.
"""
import gzip
import http.server
import json
import math
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import remote_write_receiver as rwr  # noqa: E402
import testlib as t  # noqa: E402

L = t.LOOPBACK
DATA = os.path.join(HERE, "..", "data", "scrape_diff")
CONTENT_TYPES = {"text": "text/plain; version=0.0.4; charset=utf-8",
                 "om": "application/openmetrics-text; version=1.0.0; charset=utf-8",
                 "json": "application/json", "none": None}
MIN_SCRAPES = 7        # every page, by both clients, before the recordings are compared
MIN_SAMPLES = 3        # every compared series has at least this many samples in both
TIMESTAMPED = {"ts_moving", "ts_fixed", "ts_negative_value", "om_ts_moving", "om_ts_int", "om_ts_frac",
               "changing_vanishing_ts"}

# Named exceptions to "Prometheus 2.42 is the oracle". Each covers the series `match` selects (left out of the
# generic comparison on both sides); `check(prom, side)` then pins both behaviours: what 2.42 does, so the entry
# fails when a Prometheus upgrade no longer needs it, and what the reference asks for, which the sidecar must do.


def _words(rec):
    return {k: [w for _, w in v] for k, v in rec.items()}


def _named(rec, name):
    return {k: v for k, v in _words(rec).items() if dict(k).get("__name__") == name}


def _check_leading_blanks(prom, side):
    out = []
    if any(set(v) != {"0.0"} for v in _named(prom, "up").values()):
        out.append(f"prometheus no longer fails the page (up {list(_named(prom, 'up').values())})")
    want = {"before": "1.0", "spaced_metric": "2.0", "after_blank": "3.0", "up": "1.0", "scrape_samples_scraped": "3.0"}
    for name, value in want.items():
        got = list(_named(side, name).values())
        if len(got) != 1 or set(got[0]) != {value}:
            out.append(f"sidecar {name}: expected {value} in every scrape, got {got}")
    labels = [dict(k) for k in _named(side, "spaced_metric")]
    if labels and (labels[0].get("x"), labels[0].get("y")) != ("1", "2"):
        out.append(f"sidecar spaced_metric labels {labels}")
    return out


def _check_negative_zero(prom, side):
    out = []
    if set(prom) != set(side):
        out.append(f"series differ: prometheus {sorted(map(show, prom))}, sidecar {sorted(map(show, side))}")
    if any(set(v) != {"0.0"} for v in _words(prom).values()):
        out.append(f"prometheus now keeps -0: {list(_words(prom).values())}")
    if any(set(v) != {"-0.0"} for v in _words(side).values()):
        out.append(f"sidecar does not send -0 as -0: {list(_words(side).values())}")
    return out


def _check_empty_label_honor(prom, side):
    out = []
    p, s = [dict(k) for k in prom], [dict(k) for k in side]
    if len(p) != 1 or "env" in p[0]:
        out.append(f"prometheus no longer drops the target's env for env=\"\": {p}")
    if len(s) != 1 or s[0].get("env") != "target_env":
        out.append(f"sidecar: expected env=target_env as for a series without env, got {s}")
    if [v[:MIN_SAMPLES] for v in _words(prom).values()] != [v[:MIN_SAMPLES] for v in _words(side).values()]:
        out.append(f"values differ: prometheus {list(_words(prom).values())}, sidecar {list(_words(side).values())}")
    return out


def _check_duplicates(prom, side):
    out = []
    pv, sv = list(_words(prom).values()), list(_words(side).values())
    if len(pv) != 1 or pv[0][:4] != ["1.0", "2.0", "1.0", "2.0"]:
        out.append(f"prometheus no longer sends both samples of the repeated series: {pv}")
    if len(sv) != 1 or set(sv[0]) != {"1.0"}:
        out.append(f"sidecar: expected the first sample of each scrape only, got {sv}")
    return out


EXCEPTIONS = [
    {"name": "LEADING_BLANKS",
     "why": "exposition formats (text 0.0.4): 'Leading and trailing whitespace is ignored' "
            "(https://prometheus.io/docs/instrumenting/exposition_formats/#line-format). 2.42's text parser keeps "
            "the leading blanks in __name__ ('\\t  spaced_metric') and fails the scrape (up 0); the sidecar "
            "skips them.",
     "match": lambda lb: lb.get("job") == "text_leading_blank", "check": _check_leading_blanks},
    {"name": "NEGATIVE_ZERO",
     "why": "a sample value is a float64 (remote-write 1.0: 'Sample's values MUST be float64'; the page says -0, "
            "Go's ParseFloat gives -0). libprotobuf writes a double field whose bits are not +0.0, so -0.0 goes on "
            "the wire (checked below with python3-protobuf); 2.42's gogo-generated Marshal skips the field when "
            "'m.Value != 0' is false, which it is for -0.0, so the receiver decodes +0.",
     "match": lambda lb: "negzero" in (lb.get("kind"), lb.get("v")), "check": _check_negative_zero},
    {"name": "EMPTY_LABEL_HONOR_LABELS",
     "why": "data model: 'Labels with an empty label value are considered equivalent to labels that do not exist' "
            "(https://prometheus.io/docs/concepts/data_model/). With honor_labels: true, 2.42 treats the page's "
            "env=\"\" as present (lset.Has) and drops the target's env, so conflict_empty{env=\"\"} and "
            "conflict_none{} (which gets env) come out differently; the sidecar treats them alike.",
     "match": lambda lb: lb.get("job") == "honor_true" and lb.get("__name__") == "conflict_empty",
     "check": _check_empty_label_honor},
    {"name": "DUPLICATE_SERIES_ON_PAGE",
     "why": "exposition formats: 'Each line must have a unique combination of a metric name and labels. "
            "Otherwise, the ingestion behavior is undefined.' The spec leaves it open, and 2.42 itself answers "
            "two ways: in server mode its TSDB appender rejects the repeat (ErrDuplicateSampleForTimestamp: the "
            "first sample kept, the repeat counted), in agent mode both samples go out with one timestamp and "
            "different values, which a TSDB receiver cannot keep both of. The sidecar keeps 2.42 server mode's "
            "answer: NOT a spec violation by 2.42, a documented choice between its two modes.",
     "match": lambda lb: lb.get("job") == "duplicates" and lb.get("__name__") == "dup_metric" and lb.get("a") == "1",
     "check": _check_duplicates},
]


def apply_exceptions(prom, side):
    """Takes each exception's series out of both recordings and checks them by its own rule."""
    for ex in EXCEPTIONS:
        p = {k: prom.pop(k) for k in list(prom) if ex["match"](dict(k))}
        s = {k: side.pop(k) for k in list(side) if ex["match"](dict(k))}
        problems = ex["check"](p, s) if p or s else ["no series matched"]
        t.check(not problems, f"exception {ex['name']} ({len(p)}/{len(s)} series): {ex['why']}",
                "\n        ".join(problems))


# --- the corpus server ---------------------------------------------------------------------------------------

class Pages:
    """Serves the corpus: /<job>/.../<page>; counts scrapes per (User-Agent, path?query)."""

    def __init__(self):
        with open(os.path.join(DATA, "pages.json")) as f:
            self.manifest = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
        self.texts = {}
        for name, m in self.manifest.items():
            if "file" in m:
                # surrogateescape: a page may hold bytes that are not UTF-8 on purpose
                with open(os.path.join(DATA, "pages", m["file"]), encoding="utf-8", errors="surrogateescape",
                          newline="") as f:
                    self.texts[name] = f.read()
        self.lock = threading.Lock()
        self.counts = {}  # (user agent, target) -> scrapes
        # Page timestamps start at the first request, after both agents started: 2.42's remote write sends
        # nothing older than its queue's start (the WAL watcher's startTimestamp), the sidecar would.
        self.t0_ms = None
        pages = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                code, headers, body = pages.answer(self.path, self.headers.get("User-Agent", ""))
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = rwr.QuietServer((L, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self, name, n, path, query):
        if name == "echo":
            esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
            return f'echo_request{{path="{esc(path)}",query="{esc(query)}"}} {n}\n'
        ts_ms = self.t0_ms + n * 1000
        subst = {"@N@": str(n), "@TS_MS@": str(ts_ms), "@TS_S@": f"{ts_ms // 1000}.{ts_ms % 1000:03d}",
                 "@TS_S_INT@": str(ts_ms // 1000), "@TS_S_FRAC@": f"{ts_ms // 1000}.123",
                 "@FIXED_MS@": str(self.t0_ms)}
        out = []
        for line in self.texts[name].splitlines(keepends=True):
            if line.startswith("@UPTO3@"):
                if n > 3:
                    continue
                line = line[len("@UPTO3@"):]
            elif line.startswith("@FROM4@"):
                if n < 4:
                    continue
                line = line[len("@FROM4@"):]
            out.append(re.sub(r"@[A-Z_0-9]+@", lambda m: subst[m.group(0)], line))
        return "".join(out)

    def answer(self, target, user_agent):
        split = urllib.parse.urlsplit(target)
        name = split.path.rsplit("/", 1)[-1]
        with self.lock:
            n = self.counts[(user_agent, target)] = self.counts.get((user_agent, target), 0) + 1
            if self.t0_ms is None:
                self.t0_ms = (int(time.time()) + 1) * 1000
        m = self.manifest.get(name)
        if m is None:
            return 404, [("Content-Type", "text/plain")], b"no such page\n"
        if "fail_after" in m and n > m["fail_after"]:
            return 500, [("Content-Type", "text/plain")], b"failing on purpose\n"
        body = self.render(name, n, split.path, split.query).encode("utf-8", errors="surrogateescape")
        headers = [("Content-Type", CONTENT_TYPES[m["type"]])] if CONTENT_TYPES[m["type"]] else []
        if m.get("gzip"):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        return 200, headers, body

    def scrapes(self):
        """{user agent: {target: count}}"""
        with self.lock:
            out = {}
            for (ua, target), n in self.counts.items():
                out.setdefault(ua, {})[target] = n
            return out


# --- the two agents -------------------------------------------------------------------------------------------

def config_text(pages_addr, fsd_path, receiver_port, writer, extra=""):
    with open(os.path.join(DATA, "scrape_configs.yaml"), encoding="utf-8") as f:
        jobs = f.read().replace("@ADDR@", pages_addr).replace("@FSD@", fsd_path)
    return (extra +
            "global: {scrape_interval: 1s, scrape_timeout: 1s, external_labels: {cluster: diff, pair: same}}\n" +
            jobs +
            "remote_write:\n"
            f"  - url: http://{L}:{receiver_port}/receive/{writer}\n"
            "    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 500ms}\n"
            "    metadata_config: {send: false}\n")


def wait_http_ok(proc, port, path, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        try:
            if t.http_request(L, port, "GET", path, [("Host", f"{L}:{port}")], timeout=2).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.name} not ready:\n{proc.log_tail()}")
        time.sleep(0.1)


def start_prometheus_agent(binary, config):
    d = os.path.join(t.work_dir(), "prometheus-agent")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "prometheus.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(config)
    port = t.free_port()
    proc = t.start_process([binary, "--enable-feature=agent", f"--config.file={path}",
                            f"--storage.agent.path={d}/wal", f"--web.listen-address={L}:{port}",
                            "--log.level=debug"], name="prometheus-agent")
    wait_http_ok(proc, port, "/-/ready")
    return proc


def start_sidecar(binary, config):
    admin = t.free_port()
    path = os.path.join(t.work_dir(), "sidecar.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.replace("@ADMIN@", f"{L}:{admin}"))
    proc = t.start_process([binary, "--config", path], env=t.credential_env(), name="sidecar")
    wait_http_ok(proc, admin, "/-/ready")
    return proc


# --- comparison -----------------------------------------------------------------------------------------------

def value_word(sample):
    _, text, bits = sample
    if int(bits, 16) == rwr.STALE_BITS:
        return "STALE"
    return "NaN" if math.isnan(float(text)) else text


def recording(dump):
    """{frozenset(labels.items()): [(ts, word)]}"""
    return {frozenset(s["labels"].items()): [(x[0], value_word(x)) for x in s["samples"]] for s in dump["series"]}


def show(key):
    d = dict(key)
    name = d.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items())) + "}"


def compare_series(key, p, s, run_window):
    """A list of mismatch lines for one series present in both."""
    name = dict(key).get("__name__", "")
    out = []
    if min(len(p), len(s)) < MIN_SAMPLES:
        return [f"{show(key)}: too few samples to compare (prometheus {len(p)}, sidecar {len(s)})"]
    n = min(len(p), len(s))
    pv, sv = [w for _, w in p], [w for _, w in s]
    if name == "scrape_duration_seconds":
        pass  # a duration: present in both is all that can match
    elif pv[:n] != sv[:n]:
        at = next(i for i in range(n) if pv[i] != sv[i])
        out.append(f"{show(key)}: values differ from sample {at}:\n"
                   f"          prometheus {pv[max(0, at - 2):at + 4]}\n"
                   f"          sidecar    {sv[max(0, at - 2):at + 4]}")
    tail = (pv if len(pv) > n else sv)[n:]
    if "STALE" in tail:
        out.append(f"{show(key)}: only {'prometheus' if len(pv) > n else 'sidecar'} has a stale marker: "
                   f"prometheus {pv}, sidecar {sv}")
    if name in TIMESTAMPED and "job" in dict(key) and not dict(key)["job"].startswith("ts_ignore"):
        pt, st = [x for x, _ in p[:n]], [x for x, _ in s[:n]]
        if pt != st:
            out.append(f"{show(key)}: page timestamps differ: prometheus {pt}, sidecar {st}")
    else:
        lo, hi = run_window
        bad = [x for x, _ in s if not lo <= x <= hi]
        if bad:
            out.append(f"{show(key)}: sidecar timestamps outside the run [{lo}, {hi}]: {bad[:3]}")
    return out


def label_diffs(only_prom, only_side):
    """Pairs each series only the sidecar has with the closest one only Prometheus has (same name, most labels in
    common) and says which labels differ: the readable part of a label-set mismatch."""
    out = []
    for sk in only_side:
        sd = dict(sk)
        peers = [dict(pk) for pk in only_prom if dict(pk).get("__name__") == sd.get("__name__")]
        if not peers:
            continue
        pd = max(peers, key=lambda d: len(set(d.items()) & set(sd.items())))
        diff = {n: (pd.get(n, "<none>"), sd.get(n, "<none>")) for n in sorted(set(pd) | set(sd))
                if pd.get(n) != sd.get(n)}
        out.append(f"  {sd.get('__name__')}: labels prometheus -> sidecar: " +
                   ", ".join(f"{n}: {a!r} -> {b!r}" for n, (a, b) in diff.items()))
    return out


def compare(prom, side, run_window):
    by_job = {}
    for key in set(prom) | set(side):
        by_job.setdefault(dict(key).get("job", "<no job>"), []).append(key)
    for job in sorted(by_job):
        problems = []
        for key in sorted(by_job[job], key=show):
            if key not in side:
                problems.append(f"only prometheus: {show(key)} {[w for _, w in prom[key]][:6]}")
            elif key not in prom:
                problems.append(f"only sidecar:    {show(key)} {[w for _, w in side[key]][:6]}")
            else:
                problems += compare_series(key, prom[key], side[key], run_window)
        problems += label_diffs([k for k in by_job[job] if k not in side], [k for k in by_job[job] if k not in prom])
        t.check(not problems, f"job {job}: {len(by_job[job])} series agree",
                "\n        ".join(problems))


def values(rec, name, job):
    return [[w for _, w in v] for k, v in rec.items() if dict(k).get("__name__") == name and dict(k).get("job") == job]


def sanity(prom, side, pages):
    """The diff alone would pass if both agents were wrong the same way (or recorded nothing): these pin what the
    corpus is there to show."""
    for rec, who in ((prom, "prometheus"), (side, "sidecar")):
        up_jobs = ("text_basic", "om_gzip", "limit_exact", "limit_after_relabel", "no_content_type",
                   "json_content_type", "body_limit_ok")
        down_jobs = ("text_malformed", "om_malformed", "limit_exceeded", "gone_target", "text_bad_utf8", "text_crlf",
                     "body_limit", "body_limit_gzip", "label_limit", "label_length_limits")
        ups = {j: values(rec, "up", j) for j in up_jobs + down_jobs + ("failing", "file_sd", "relabel_target_dropped")}
        ok = (all(ups[j] and set(ups[j][0]) == {"1.0"} for j in up_jobs)
              and all(ups[j] and set(ups[j][0]) == {"0.0"} for j in down_jobs)
              and ups["failing"] and ups["failing"][0][:4] == ["1.0", "1.0", "1.0", "0.0"] and len(ups["file_sd"]) == 3
              and ups["relabel_target_dropped"] == [])
        t.check(ok, f"{who}: up as the corpus intends (pages up; malformed, over a limit, 404 down; "
                    "failing 1,1,1,0)", ups)
        stale = values(rec, "changing_vanishing", "changing") + values(rec, "failing_metric", "failing")
        t.check(len(stale) == 4 and all(v[3:] == ["STALE"] for v in stale),
                f"{who}: vanished and failed series end with one stale marker", stale)
        ts = {j: [[x for x, _ in v] for k, v in rec.items() if dict(k).get("job") == j and
                  dict(k).get("__name__") == "ts_fixed"] for j in ("ts_honor", "ts_ignore")}
        t.check(len(ts["ts_honor"]) == 1 and set(ts["ts_honor"][0]) == {pages.t0_ms} and len(ts["ts_ignore"]) == 1
                and len(set(ts["ts_ignore"][0])) == len(ts["ts_ignore"][0]) > 1,
                f"{who}: a page timestamp is kept with honor_timestamps, the scrape time used without", ts)
        echo = [dict(k)["query"] for k in rec if dict(k).get("__name__") == "echo_request" and
                dict(k).get("job") == "params"]
        t.check(len(echo) == 1 and "multi=b&multi=a%26b%3Dc" in echo[0] and "sp+ace=x+y" in echo[0],
                f"{who}: params and __param_ labels reach the URL, escaped", echo)


def main():
    binary = os.path.abspath(sys.argv[1])
    prometheus = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("prometheus") or "/usr/bin/prometheus")
    if not os.path.exists(prometheus):
        t.check(False, f"{prometheus} present; install Debian's 'prometheus' package")
        return
    started = time.monotonic()
    t.section("start: corpus server, receiver, Prometheus 2.42 (agent) and the sidecar on the same jobs")
    pages = Pages()
    addr = f"{L}:{pages.port}"
    rx = rwr.Receiver(t.work_dir()).start()
    fsd = os.path.join(t.work_dir(), "file_sd.json")
    with open(os.path.join(DATA, "file_sd.json")) as f, open(fsd, "w") as out:
        out.write(f.read().replace("@ADDR@", addr))
    run_lo = int(time.time() * 1000)
    prom = start_prometheus_agent(prometheus, config_text(addr, fsd, rx.port, "prom"))
    side = start_sidecar(binary, config_text(addr, fsd, rx.port, "sidecar", "admin_listen: '@ADMIN@'\n"))
    t.check(True, f"pages :{pages.port}, receiver :{rx.port}, prometheus pid {prom.pid}, sidecar pid {side.pid}")

    t.section(f"scraping: every page at least {MIN_SCRAPES} times by both")
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        seen = pages.scrapes()
        uas = sorted(seen)
        if len(uas) == 2 and set(seen[uas[0]]) == set(seen[uas[1]]) and \
                all(n >= MIN_SCRAPES for ua in uas for n in seen[ua].values()):
            break
        time.sleep(0.5)
    seen = pages.scrapes()
    t.check_eq(sorted(ua.split("/")[0] for ua in seen), ["Prometheus", "sigv4-sidecar"], "two clients scraped")
    if len(seen) == 2:
        a, b = sorted(seen)
        t.check_eq(sorted(seen[b]), sorted(seen[a]), "both scraped the same URLs")
        t.check(all(n >= MIN_SCRAPES for ua in seen for n in seen[ua].values()),
                f"every URL scraped {MIN_SCRAPES}+ times by both", seen)
    time.sleep(2.5)  # the last batches (batch_send_deadline 500ms)
    run_hi = int(time.time() * 1000) + 1000
    dp, ds = rx.dump("prom"), rx.dump("sidecar")
    if os.environ.get("SCRAPER_DIFF_DUMP"):  # both recordings as JSON, to look at by hand
        with open(os.environ["SCRAPER_DIFF_DUMP"], "w") as f:
            json.dump({"prometheus": dp, "sidecar": ds, "t0_ms": pages.t0_ms}, f, indent=1)
    for who, d in (("prometheus", dp), ("sidecar", ds)):
        t.check(not d["errors"] and d["requests"] > 0, f"{who}: {d['requests']} requests decoded, none bad",
                d["errors"][:3])

    t.section("per job: label sets, values in order, page timestamps, staleness, synthetic series")
    p, s = recording(dp), recording(ds)
    t.check(rx.pb2.Sample(value=-0.0).SerializeToString() != b"", "libprotobuf puts a -0.0 double on the wire")
    apply_exceptions(p, s)
    compare(p, s, (run_lo, run_hi))
    sanity(p, s, pages)
    t.check(prom.alive() and side.alive(), "both agents still running")
    t.check(time.monotonic() - started < 90, f"whole run in {time.monotonic() - started:.1f} s (< 90 s)")


if __name__ == "__main__":
    t.run_main(main)
