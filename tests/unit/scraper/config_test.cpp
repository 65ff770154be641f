// The scraper's config section: Prometheus 2.42's defaults and inheritance, every error and warning with its
// line, service discovery refusals, sigv4 inference, Grafana Agent's static shape (the AWS guide's file as
// written) and a whole Prometheus agent-mode file.
#include "scraper/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace sigv4::scraper {
namespace {

using std::chrono::milliseconds;

struct loaded {
  scraper_config cfg;
  std::vector<conf::config_error> errors, warnings;
};

// The proxy's read_top_level in miniature: the scraper's keys only, then finish().
loaded load(std::string_view yaml, std::map<std::string, std::string> env = {}) {
  if (yaml.starts_with('\n')) yaml.remove_prefix(1);
  loaded out;
  conf::env_lookup lookup = [env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  conf::yaml_reader r(lookup, out.errors, &out.warnings);
  YAML::Node root = YAML::Load(std::string(yaml));
  std::vector<std::string_view> keys(std::begin(top_level_keys), std::end(top_level_keys));
  r.for_each_key(root, 1, "the top level", keys, [&](std::string_view key, const YAML::Node& v, int line) {
    read_top_level_key(r, key, v, line, out.cfg);
  });
  finish(r, out.cfg);
  return out;
}

loaded load_file(const std::string& name) {
  std::ifstream in(std::string(SIGV4_TEST_DATA_DIR "/scrape_config/") + name);
  std::stringstream text;
  text << in.rdbuf();
  return load(text.str());
}

std::string dump(const std::vector<conf::config_error>& errors) {
  return conf::format_errors(errors, "");
}

bool has(const std::vector<conf::config_error>& list, int line, std::string_view text) {
  return std::ranges::any_of(
      list, [&](const auto& e) { return e.line == line && e.message.find(text) != std::string::npos; });
}

#define EXPECT_ERROR(l, line, text)                                                                  \
  EXPECT_TRUE(has((l).errors, line, text)) << "want line " << (line) << ": " << (text) << "\ngot:\n" \
                                           << dump((l).errors)
#define EXPECT_WARNING(l, line, text)                                                                  \
  EXPECT_TRUE(has((l).warnings, line, text)) << "want line " << (line) << ": " << (text) << "\ngot:\n" \
                                             << dump((l).warnings)

constexpr std::string_view amp_remote = R"(
remote_write:
  - url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
    sigv4: {}
)";

// The YAML, then a remote_write so that jobs have somewhere to send.
loaded load_jobs(std::string_view yaml) {
  if (yaml.starts_with('\n')) yaml.remove_prefix(1);
  return load(std::string(yaml) + std::string(amp_remote.substr(1)));
}

// ---- defaults and inheritance ----

TEST(scrape_config, every_default) {
  auto l = load_jobs("scrape_configs:\n  - job_name: a\n");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_TRUE(l.warnings.empty()) << dump(l.warnings);
  EXPECT_EQ(l.cfg.global.scrape_interval, milliseconds(60'000));
  EXPECT_EQ(l.cfg.global.scrape_timeout, milliseconds(10'000));
  EXPECT_TRUE(l.cfg.global.external_labels.empty());
  ASSERT_EQ(l.cfg.instances.size(), 1u);
  EXPECT_EQ(l.cfg.instances[0].name, "default");
  ASSERT_EQ(l.cfg.instances[0].jobs.size(), 1u);
  const scrape_job& j = l.cfg.instances[0].jobs[0];
  EXPECT_EQ(j.job_name, "a");
  EXPECT_EQ(j.line, 2);
  EXPECT_EQ(j.scrape_interval, milliseconds(60'000));
  EXPECT_EQ(j.scrape_timeout, milliseconds(10'000));
  EXPECT_EQ(j.metrics_path, "/metrics");
  EXPECT_EQ(j.scheme, "http");
  EXPECT_TRUE(j.params.empty());
  EXPECT_FALSE(j.honor_labels);
  EXPECT_TRUE(j.honor_timestamps);
  EXPECT_EQ(j.sample_limit + j.target_limit + j.label_limit + j.label_name_length_limit +
                j.label_value_length_limit + j.body_size_limit,
            0u);
  EXPECT_TRUE(j.follow_redirects);
  EXPECT_FALSE(j.sigv4.enabled);
  EXPECT_FALSE(j.basic_auth);
  EXPECT_FALSE(j.authorization);
  EXPECT_FALSE(j.tls.insecure_skip_verify);

  ASSERT_EQ(l.cfg.instances[0].remotes.size(), 1u);
  const remote_write_settings& rw = l.cfg.instances[0].remotes[0];
  EXPECT_EQ(rw.remote_timeout, milliseconds(30'000));
  EXPECT_EQ(rw.line, 4);
  queue_settings q;
  EXPECT_EQ(rw.queue.capacity, q.capacity);
  EXPECT_EQ(rw.queue.max_shards, q.max_shards);
  EXPECT_EQ(rw.queue.max_samples_per_send, q.max_samples_per_send);
  EXPECT_EQ(rw.queue.batch_send_deadline, q.batch_send_deadline);
  EXPECT_FALSE(rw.queue.retry_on_http_429);
  EXPECT_TRUE(rw.sigv4.enabled);
  EXPECT_EQ(rw.sigv4.region, "us-east-1");
  EXPECT_EQ(rw.sigv4.service, "aps");
  EXPECT_FALSE(l.cfg.empty());
  EXPECT_TRUE(load("").cfg.empty());
}

TEST(scrape_config, interval_and_timeout_inherit_as_prometheus_2_42) {
  auto l = load_jobs(R"(
global:
  scrape_interval: 30s
  scrape_timeout: 20s
scrape_configs:
  - job_name: inherits
  - job_name: short
    scrape_interval: 15s
  - job_name: longer
    scrape_interval: 2m
  - job_name: both
    scrape_interval: 10s
    scrape_timeout: 3s
)");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  const auto& jobs = l.cfg.instances[0].jobs;
  EXPECT_EQ(jobs[0].scrape_interval, milliseconds(30'000));
  EXPECT_EQ(jobs[0].scrape_timeout, milliseconds(20'000));
  // Only the interval set, and smaller than the global timeout: the timeout becomes the interval.
  EXPECT_EQ(jobs[1].scrape_timeout, milliseconds(15'000));
  EXPECT_EQ(jobs[2].scrape_timeout, milliseconds(20'000));
  EXPECT_EQ(jobs[3].scrape_timeout, milliseconds(3'000));

  // A global interval below the default timeout pulls the global timeout down with it.
  auto fast = load_jobs("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]\n");
  ASSERT_TRUE(fast.errors.empty()) << dump(fast.errors);
  EXPECT_EQ(fast.cfg.global.scrape_timeout, milliseconds(5'000));
  EXPECT_EQ(fast.cfg.instances[0].jobs[0].scrape_timeout, milliseconds(5'000));
}

TEST(scrape_config, timeout_greater_than_interval) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: ok
  - job_name: c
    scrape_interval: 5s
    scrape_timeout: 7s
)");
  EXPECT_ERROR(l, 3, "scrape timeout greater than scrape interval for scrape config with job name \"c\"");
  EXPECT_EQ(l.errors.size(), 1u) << dump(l.errors);

  auto g = load("global:\n  scrape_timeout: 2m\n");
  EXPECT_ERROR(g, 1, "global scrape timeout greater than scrape interval");
}

// ---- scrape job keys ----

TEST(scrape_config, job_keys_are_read) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: full
    metrics_path: /prod/metrics
    scheme: https
    honor_labels: true
    honor_timestamps: false
    params: {module: [http_2xx, tcp], target: [x]}
    sample_limit: 100
    target_limit: 5
    label_limit: 30
    label_name_length_limit: 200
    label_value_length_limit: 2048
    body_size_limit: 10MB
    follow_redirects: false
    enable_http2: false
    bearer_token_file: /run/token
    tls_config: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name: api.local}
    static_configs:
      - targets: ['a:9100', b]
        labels: {zone: eu, az: "1a"}
      - targets: [c:80]
)");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  const scrape_job& j = l.cfg.instances[0].jobs[0];
  EXPECT_EQ(j.metrics_path, "/prod/metrics");
  EXPECT_EQ(j.scheme, "https");
  EXPECT_TRUE(j.honor_labels);
  EXPECT_FALSE(j.honor_timestamps);
  using p = std::pair<std::string, std::string>;
  EXPECT_EQ(j.params, (std::vector<p>{{"module", "http_2xx"}, {"module", "tcp"}, {"target", "x"}}));
  EXPECT_EQ(j.sample_limit, 100u);
  EXPECT_EQ(j.target_limit, 5u);
  EXPECT_EQ(j.label_limit, 30u);
  EXPECT_EQ(j.label_name_length_limit, 200u);
  EXPECT_EQ(j.label_value_length_limit, 2048u);
  EXPECT_EQ(j.body_size_limit, 10u << 20);  // units.Base2Bytes: MB is MiB
  EXPECT_FALSE(j.follow_redirects);
  ASSERT_TRUE(j.authorization);
  EXPECT_EQ(j.authorization->type, "Bearer");
  EXPECT_EQ(j.authorization->credentials_file, "/run/token");
  EXPECT_EQ(j.tls.server_name, "api.local");
  EXPECT_EQ(j.tls.key_file, "/k.pem");
  ASSERT_EQ(j.static_configs.size(), 2u);
  EXPECT_EQ(j.static_configs[0].targets, (std::vector<std::string>{"a:9100", "b"}));
  EXPECT_EQ(to_string(j.static_configs[0].lbls), "{az=\"1a\", zone=\"eu\"}");
  EXPECT_EQ(j.static_configs[0].line, 19);
  EXPECT_EQ(j.static_configs[1].source, "1");
}

TEST(scrape_config, sizes_are_prometheus_base2_bytes) {
  EXPECT_EQ(parse_base2_bytes("16MiB"), std::size_t{16} << 20);
  EXPECT_EQ(parse_base2_bytes("10MB"), std::size_t{10} << 20);
  EXPECT_EQ(parse_base2_bytes("512KB"), std::size_t{512} << 10);
  EXPECT_EQ(parse_base2_bytes("1.5MB"), std::size_t{3} << 19);
  EXPECT_EQ(parse_base2_bytes("0"), 0u);
  for (auto bad : {"1048576", "10mb", "10 MB", "10b", "-1", "MB", ""}) {
    EXPECT_FALSE(parse_base2_bytes(bad)) << bad;
  }
  auto l = load_jobs("scrape_configs:\n  - job_name: a\n    body_size_limit: 1048576\n");
  EXPECT_ERROR(l, 3, "'body_size_limit': invalid size '1048576'");
}

TEST(scrape_config, job_errors_with_their_lines) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: ""
  - scheme: https
  - job_name: dup
  - job_name: dup
    scheme: ftp
    metrics_path: metrics
    scrape_intervall: 5s
    sample_limit: -1
    params: {module: http_2xx}
    static_configs:
      - targets: ['http://host:80', 'host:80/metrics', good:80]
        labels: {"bad-name": x}
)");
  EXPECT_ERROR(l, 2, "job_name is empty");
  EXPECT_ERROR(l, 3, "job_name is empty");
  EXPECT_ERROR(l, 5, "found multiple scrape configs with job name \"dup\" (first on line 4)");
  EXPECT_ERROR(l, 6, "'scheme' must be http or https, not 'ftp'");
  EXPECT_ERROR(l, 7, "'metrics_path' must start with '/'");
  EXPECT_ERROR(l, 8, "unknown key 'scrape_intervall' in scrape_configs; did you mean 'scrape_interval'?");
  EXPECT_ERROR(l, 9, "'sample_limit' must be a whole number");
  EXPECT_ERROR(l, 10, "'params.module' must be a list of values");
  EXPECT_ERROR(l, 12, "\"http://host:80\" is not a valid hostname");
  EXPECT_ERROR(l, 12, "\"host:80/metrics\" is not a valid hostname");
  EXPECT_ERROR(l, 13, "\"bad-name\" is not a valid label name");
  EXPECT_EQ(l.errors.size(), 11u) << dump(l.errors);

  // With relabel_configs, __address__ may be rewritten, so Prometheus lets the targets be.
  auto relabeled = load_jobs(R"(
scrape_configs:
  - job_name: a
    static_configs: [{targets: ['http://host/x']}]
    relabel_configs: [{source_labels: [__address__], target_label: __param_target}]
)");
  EXPECT_TRUE(relabeled.errors.empty()) << dump(relabeled.errors);
}

TEST(scrape_config, other_service_discovery_is_refused_by_name) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: k8s
    kubernetes_sd_configs:
      - role: pod
    ec2_sd_configs: [{region: us-east-1}]
    oauth2: {client_id: x}
    proxy_url: http://proxy:3128
    native_histogram_bucket_limit: 100
)");
  EXPECT_ERROR(
      l, 3,
      "'kubernetes_sd_configs' is not supported: use file_sd_configs, or run Prometheus with this sidecar "
      "as its proxy_url");
  EXPECT_ERROR(l, 5, "'ec2_sd_configs' is not supported: use file_sd_configs");
  EXPECT_ERROR(l, 6, "'oauth2' is not supported");
  EXPECT_ERROR(l, 7, "'proxy_url' is not supported");
  EXPECT_ERROR(l, 8, "'native_histogram_bucket_limit' is not supported");
  EXPECT_EQ(l.errors.size(), 5u) << dump(l.errors);
}

TEST(scrape_config, file_sd_settings) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: a
    file_sd_configs:
      - files: [/etc/targets/*.json, b.yml]
      - files: [c.YAML]
        refresh_interval: 30s
  - job_name: b
    file_sd_configs:
      - files: [targets.txt, '/a/*/b.json', x*y*.yml]
      - files: []
      - files: [ok.json]
        refresh_interval: 0s
)");
  const auto& a = l.cfg.instances[0].jobs[0];
  ASSERT_EQ(a.file_sd.size(), 2u);
  EXPECT_EQ(a.file_sd[0].files, (std::vector<std::string>{"/etc/targets/*.json", "b.yml"}));
  EXPECT_EQ(a.file_sd[0].refresh_interval, milliseconds(300'000));
  EXPECT_EQ(a.file_sd[0].line, 4);
  EXPECT_EQ(a.file_sd[1].refresh_interval, milliseconds(30'000));
  EXPECT_ERROR(l, 9, "path name \"targets.txt\" is not valid for file discovery");
  EXPECT_ERROR(l, 9, "path name \"/a/*/b.json\" is not valid");
  EXPECT_ERROR(l, 9, "path name \"x*y*.yml\" is not valid");
  EXPECT_ERROR(l, 10, "file service discovery config must contain at least one path name");
  EXPECT_ERROR(l, 12, "'refresh_interval' must be greater than 0");
  EXPECT_EQ(l.errors.size(), 5u) << dump(l.errors);
}

TEST(scrape_config, relabel_specs_compile_and_errors_sit_at_their_entries) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: a
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.+):\d+'
        target_label: instance
        replacement: '${1}'
      - {action: hashmod, source_labels: [a], target_label: shard}
      - {regex: '(', target_label: x}
      - {action: explode}
      -
    metric_relabel_configs:
      - {action: labeldrop, regex: 'tmp_.*'}
      - {action: replace, target_label: '1bad'}
)");
  EXPECT_ERROR(l, 8, "hashmod requires non-zero modulus");
  EXPECT_ERROR(l, 9, "(");
  EXPECT_ERROR(l, 10, "unknown relabel action \"explode\"");
  EXPECT_ERROR(l, 3, "empty or null relabeling rule in relabel_configs (entry 5)");
  EXPECT_ERROR(l, 14, "1bad");
  EXPECT_EQ(l.errors.size(), 5u) << dump(l.errors);
  const auto& j = l.cfg.instances[0].jobs[0];
  ASSERT_GE(j.relabel_configs.size(), 1u);
  // ${1} is a capture group, not an environment variable.
  EXPECT_EQ(j.relabel_configs[0].replacement, "${1}");
  EXPECT_EQ(j.relabel_configs[0].regex, "(.+):\\d+");
  EXPECT_TRUE(j.relabel_configs[0].regex_set);
  ASSERT_EQ(j.metric_relabel_configs.size(), 1u);
  EXPECT_EQ(j.metric_relabel_configs[0].action, relabel_action::labeldrop);
  EXPECT_EQ(j.metric_relabel.size(), 1u);
}

TEST(scrape_config, auth_combinations_as_prometheus) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: a
    bearer_token: x
    bearer_token_file: /y
  - job_name: b
    basic_auth: {username: u, password: p, password_file: /f}
  - job_name: c
    basic_auth: {username: u}
    authorization: {credentials: x}
  - job_name: d
    authorization: {type: basic, credentials: x}
  - job_name: e
    authorization: {credentials: x}
    sigv4: {region: us-east-1, service: execute-api}
)");
  EXPECT_ERROR(l, 3, "at most one of bearer_token & bearer_token_file must be configured");
  EXPECT_ERROR(l, 6, "at most one of basic_auth password & password_file must be configured");
  EXPECT_ERROR(l, 9, "at most one of basic_auth, oauth2 & authorization must be configured");
  EXPECT_ERROR(l, 11, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
  EXPECT_ERROR(l, 14, "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured");
  EXPECT_EQ(l.errors.size(), 5u) << dump(l.errors);
}

// ---- sigv4 ----

TEST(scrape_config, sigv4_in_a_scrape_job_infers_per_host_or_needs_a_region) {
  auto l = load_jobs(R"(
scrape_configs:
  - job_name: apigw
    static_configs: [{targets: [abc.execute-api.eu-west-1.amazonaws.com]}]
    sigv4: {}
  - job_name: by_file
    file_sd_configs: [{files: [t.json]}]
    sigv4: {}
  - job_name: local
    static_configs: [{targets: ['10.0.0.5:8443']}]
    sigv4: {service: execute-api}
  - job_name: local_region
    static_configs: [{targets: ['10.0.0.5:8443']}]
    sigv4: {region: us-east-1}
  - job_name: local_both
    static_configs: [{targets: ['10.0.0.5:8443']}]
    sigv4: {region: us-east-1, service_name: execute-api, role_arn: 'arn:aws:iam::1:role/r', external_id: e}
)");
  EXPECT_ERROR(l, 10, "scrape job 'local': cannot infer the signing region and service");
  EXPECT_ERROR(l, 10, "set sigv4.region");
  EXPECT_ERROR(l, 13, "set sigv4.service");
  EXPECT_EQ(l.errors.size(), 2u) << dump(l.errors);
  const auto& jobs = l.cfg.instances[0].jobs;
  EXPECT_TRUE(jobs[0].sigv4.enabled);
  EXPECT_EQ(jobs[0].sigv4.region, "");  // decided per target host at run time
  EXPECT_EQ(jobs[0].sigv4.line, 4);
  EXPECT_EQ(jobs[4].sigv4.service, "execute-api");
  EXPECT_EQ(jobs[4].sigv4.role_arn, "arn:aws:iam::1:role/r");
  EXPECT_EQ(jobs[4].sigv4.external_id, "e");
}

TEST(scrape_config, remote_write_sigv4_defaults_to_aps_and_the_url_region) {
  auto l = load(R"(
remote_write:
  - url: https://aps-workspaces.ap-southeast-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write
    sigv4: {profile: writer}
  - url: http://127.0.0.1:9090/api/v1/write
    sigv4: {}
  - url: http://127.0.0.1:9090/api/v1/write
    name: local
    sigv4: {region: eu-west-1, access_key: AKIDEXAMPLE, secret_key: secret}
  - url: http://127.0.0.1:9091/write
    name: local
  - url: ftp://host/x
  - name: no_url
)");
  EXPECT_ERROR(l, 5, "cannot infer the sigv4 region from host '127.0.0.1'; set sigv4.region");
  EXPECT_ERROR(l, 9, "found multiple remote write configs with name \"local\" (first on line 6)");
  EXPECT_ERROR(l, 11, "'url' 'ftp://host/x' must be an http or https URL with a host");
  EXPECT_ERROR(l, 12, "url for remote_write is empty");
  EXPECT_EQ(l.errors.size(), 4u) << dump(l.errors);
  EXPECT_WARNING(l, 8, "'sigv4.access_key' puts a credential in the config file");
  EXPECT_WARNING(l, 8, "'sigv4.secret_key' puts a credential in the config file");
  const auto& rws = l.cfg.instances[0].remotes;
  EXPECT_EQ(rws[0].sigv4.region, "ap-southeast-2");
  EXPECT_EQ(rws[0].sigv4.service, "aps");
  EXPECT_EQ(rws[0].sigv4.profile, "writer");
  EXPECT_EQ(rws[2].sigv4.region, "eu-west-1");
  EXPECT_EQ(rws[2].sigv4.access_key, "AKIDEXAMPLE");
}

TEST(scrape_config, remote_write_headers_queue_and_metadata) {
  auto l = load(R"(
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
    remote_timeout: 5s
    headers:
      X-Scope-OrgID: a
      Authorization: Bearer x
      Host: other
      X-Amz-Date: now
      user-agent: me
    queue_config:
      capacity: 100
      min_shards: 2
      max_shards: 4
      max_samples_per_send: 50
      batch_send_deadline: 1s
      min_backoff: 10ms
      max_backoff: 1s
      retry_on_http_429: true
    metadata_config: {send: true, send_interval: 1m, max_samples_per_send: 500}
  - url: http://127.0.0.1:9090/api/v1/write
    queue_config: {min_shards: 5, max_shards: 2, capacity: 0}
)");
  EXPECT_ERROR(l, 6,
               "authorization header must be changed via the basic_auth, authorization, oauth2, or sigv4");
  EXPECT_ERROR(l, 7, "Host is a reserved header. It must not be changed");
  EXPECT_ERROR(l, 8, "X-Amz-Date is a reserved header");
  EXPECT_ERROR(l, 9, "user-agent is a reserved header");
  EXPECT_ERROR(l, 21, "'queue_config.capacity' must be a whole number from 1");
  EXPECT_ERROR(l, 21, "queue_config: min_shards is greater than max_shards");
  EXPECT_EQ(l.errors.size(), 6u) << dump(l.errors);
  EXPECT_TRUE(l.warnings.empty()) << dump(l.warnings);
  const auto& rw = l.cfg.instances[0].remotes[0];
  EXPECT_EQ(rw.remote_timeout, milliseconds(5'000));
  using p = std::pair<std::string, std::string>;
  EXPECT_EQ(rw.headers, (std::vector<p>{{"X-Scope-OrgID", "a"}}));
  EXPECT_EQ(rw.queue.capacity, 100u);
  EXPECT_EQ(rw.queue.min_shards, 2u);
  EXPECT_EQ(rw.queue.max_shards, 4u);
  EXPECT_EQ(rw.queue.max_samples_per_send, 50u);
  EXPECT_EQ(rw.queue.batch_send_deadline, milliseconds(1'000));
  EXPECT_EQ(rw.queue.min_backoff, milliseconds(10));
  EXPECT_EQ(rw.queue.max_backoff, milliseconds(1'000));
  EXPECT_TRUE(rw.queue.retry_on_http_429);
}

// ---- global ----

TEST(scrape_config, external_labels) {
  auto l = load(R"(
global:
  external_labels:
    region: ${REGION}
    cluster: prod
    empty: ""
)",
                {{"REGION", "eu-west-1"}});
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_EQ(to_string(l.cfg.global.external_labels), "{cluster=\"prod\", region=\"eu-west-1\"}");
  EXPECT_EQ(l.cfg.global.line, 1);

  auto bad = load("global:\n  external_labels:\n    __ok__: x\n    a.b: y\n    c: [1]\n");
  EXPECT_ERROR(bad, 4, "\"a.b\" is not a valid label name");
  EXPECT_ERROR(bad, 5, "'global.external_labels.c' must be a single value");
  EXPECT_EQ(bad.errors.size(), 2u) << dump(bad.errors);
}

TEST(scrape_config, jobs_need_a_remote_write) {
  auto l = load("scrape_configs:\n  - job_name: a\n");
  EXPECT_ERROR(l, 1, "instance 'default' has scrape jobs but no remote_write");
}

TEST(scrape_config, storage_is_the_spool) {
  auto none = load("");
  EXPECT_TRUE(none.cfg.storage.path.empty());
  EXPECT_EQ(none.cfg.storage.max_bytes, 0u);
  EXPECT_EQ(none.cfg.storage.max_age, milliseconds(3'600'000));  // what AMP accepts

  auto l = load("storage:\n  path: /var/lib/s\n  max_bytes: 512MiB\n  max_age: 30m\n");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_TRUE(l.warnings.empty()) << dump(l.warnings);
  EXPECT_EQ(l.cfg.storage.path, "/var/lib/s");
  EXPECT_EQ(l.cfg.storage.max_bytes, 512u << 20);
  EXPECT_EQ(l.cfg.storage.max_age, milliseconds(1'800'000));
  EXPECT_EQ(l.cfg.storage.line, 1);

  auto bad = load("storage:\n  path: ''\n  max_bytes: lots\n  max_age: 1 hour\n  retention: 1d\n");
  EXPECT_ERROR(bad, 2, "'storage.path' is empty");
  EXPECT_ERROR(bad, 3, "storage.max_bytes");
  EXPECT_ERROR(bad, 4, "storage.max_age");
  EXPECT_ERROR(bad, 5, "retention");
  EXPECT_EQ(bad.errors.size(), 4u) << dump(bad.errors);

  // The Agent's wal_directory gives way to storage.path.
  auto both = load("storage: {path: /a}\nmetrics:\n  wal_directory: /b\n");
  EXPECT_EQ(both.cfg.storage.path, "/a");
  EXPECT_WARNING(both, 3, "'metrics.wal_directory' is ignored: storage.path is set");
}

// ---- whole files ----

TEST(scrape_config, prometheus_agent_mode_file_loads_with_warnings) {
  auto l = load_file("prometheus_full.yaml");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_WARNING(l, 4, "'global.evaluation_interval' is a Prometheus server setting");
  EXPECT_WARNING(l, 8, "'rule_files' is a Prometheus server setting");
  EXPECT_WARNING(l, 10, "'alerting' is a Prometheus server setting");
  EXPECT_WARNING(l, 57, "'storage.tsdb' is a Prometheus server setting");
  EXPECT_EQ(l.warnings.size(), 4u) << dump(l.warnings);

  const auto& c = l.cfg;
  EXPECT_EQ(c.global.scrape_interval, milliseconds(30'000));
  EXPECT_EQ(c.global.scrape_timeout, milliseconds(10'000));
  EXPECT_EQ(to_string(c.global.external_labels), "{cluster=\"prod-eu\", replica=\"1\"}");
  ASSERT_EQ(c.instances.size(), 1u);
  const auto& jobs = c.instances[0].jobs;
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].static_configs[0].targets.size(), 2u);
  EXPECT_EQ(get(jobs[0].static_configs[0].lbls, "role"), "db");
  EXPECT_EQ(jobs[0].metric_relabel.size(), 1u);
  EXPECT_EQ(jobs[1].scrape_interval, milliseconds(5'000));
  EXPECT_EQ(jobs[1].scrape_timeout, milliseconds(5'000));
  EXPECT_EQ(jobs[1].params.size(), 3u);
  EXPECT_EQ(jobs[1].body_size_limit, 10u << 20);
  EXPECT_TRUE(jobs[1].sigv4.enabled);
  EXPECT_EQ(jobs[1].relabel_configs[0].replacement, "${1}");
  EXPECT_EQ(jobs[2].file_sd.size(), 2u);
  EXPECT_EQ(jobs[2].file_sd[0].refresh_interval, milliseconds(60'000));
  ASSERT_TRUE(jobs[2].basic_auth);
  EXPECT_EQ(jobs[2].basic_auth->password_file, "/run/secrets/pw");
  EXPECT_EQ(jobs[2].tls.ca_file, "/etc/ssl/ca.pem");
  const auto& rw = c.instances[0].remotes.at(0);
  EXPECT_EQ(rw.name, "amp");
  EXPECT_EQ(rw.sigv4.region, "eu-west-1");
  EXPECT_EQ(rw.sigv4.role_arn, "arn:aws:iam::123456789012:role/writer");
  EXPECT_EQ(rw.queue.capacity, 5000u);
  EXPECT_EQ(rw.write_relabel.size(), 1u);
}

TEST(scrape_config, grafana_agent_guide_file_loads_as_written) {
  auto l = load_file("grafana_agent_guide.yaml");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_WARNING(l, 12, "'__host__' is not a Prometheus label");
  EXPECT_WARNING(l, 14, "authorization.type is ignored when sigv4 is present");
  EXPECT_EQ(l.warnings.size(), 2u) << dump(l.warnings);
  const auto& c = l.cfg;
  EXPECT_EQ(c.agent_line, 1);
  EXPECT_EQ(c.global.scrape_interval, milliseconds(15'000));
  EXPECT_EQ(c.global.scrape_timeout, milliseconds(10'000));
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].name, "default");
  ASSERT_EQ(c.instances[0].jobs.size(), 1u);
  const auto& j = c.instances[0].jobs[0];
  EXPECT_EQ(j.job_name, "api_gateway_custom_metrics");
  EXPECT_EQ(j.metrics_path, "/prod/metrics");
  EXPECT_EQ(j.scheme, "https");
  EXPECT_EQ(j.scrape_interval, milliseconds(15'000));
  EXPECT_EQ(j.relabel.size(), 2u);
  EXPECT_TRUE(j.sigv4.enabled);
  EXPECT_EQ(j.sigv4.region, "us-east-1");
  EXPECT_EQ(j.sigv4.service, "execute-api");
  EXPECT_FALSE(j.authorization);  // signed, not a Bearer header
  ASSERT_EQ(c.instances[0].remotes.size(), 1u);
  EXPECT_EQ(c.instances[0].remotes[0].sigv4.service, "aps");
  EXPECT_EQ(c.instances[0].remotes[0].sigv4.region, "us-east-1");
}

TEST(scrape_config, agent_instances_and_their_remotes) {
  auto l = load(R"(
metrics:
  wal_directory: /var/lib/sidecar/wal
  wal_cleanup_age: 12h
  global:
    scrape_interval: 20s
    external_labels: {cluster: c1}
    remote_write:
      - url: https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-g/api/v1/remote_write
        sigv4: {}
  configs:
    - name: a
      scrape_configs: [{job_name: x}]
    - name: b
      wal_truncate_frequency: 30m
      scrape_configs: [{job_name: x}]
      remote_write:
        - url: http://127.0.0.1:9090/api/v1/write
)");
  ASSERT_TRUE(l.errors.empty()) << dump(l.errors);
  EXPECT_WARNING(l, 3, "'metrics.wal_cleanup_age' is a Grafana Agent setting");
  EXPECT_WARNING(l, 14, "'wal_truncate_frequency' is a Grafana Agent WAL setting");
  EXPECT_EQ(l.cfg.wal_directory, "/var/lib/sidecar/wal");
  EXPECT_EQ(l.cfg.storage.path, "/var/lib/sidecar/wal");
  EXPECT_WARNING(l, 2, "'metrics.wal_directory' is used as storage.path");
  ASSERT_EQ(l.cfg.instances.size(), 2u);
  // The same job name in two instances is fine: each instance is its own Prometheus.
  EXPECT_EQ(l.cfg.instances[0].remotes.at(0).sigv4.region, "us-west-2");
  EXPECT_EQ(l.cfg.instances[1].remotes.at(0).url, "http://127.0.0.1:9090/api/v1/write");
  EXPECT_EQ(l.cfg.instances[1].remotes.size(), 1u);
  EXPECT_EQ(l.cfg.instances[0].jobs[0].scrape_interval, milliseconds(20'000));
  EXPECT_EQ(l.cfg.job_count(), 2u);
  EXPECT_EQ(l.cfg.remote_count(), 2u);
}

TEST(scrape_config, agent_errors) {
  auto l = load(R"(
metrics:
  scraping_service: {enabled: true}
  configs:
    - name: a
      remote_write: [{url: 'http://127.0.0.1:1/w'}]
    - name: a
      host_filter: true
    - scrape_configs: []
scrape_configs: []
)");
  EXPECT_ERROR(l, 2, "'metrics.scraping_service' is not supported");
  EXPECT_ERROR(l, 6, "prometheus instance names must be unique. found multiple instances with name a");
  EXPECT_ERROR(l, 7, "'host_filter' is not supported");
  EXPECT_ERROR(l, 8, "missing instance name");
  EXPECT_ERROR(l, 9, "'metrics' (Grafana Agent's shape) and global/scrape_configs/remote_write");
  EXPECT_EQ(l.errors.size(), 5u) << dump(l.errors);
}

}  // namespace
}  // namespace sigv4::scraper
