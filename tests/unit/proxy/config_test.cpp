// The configuration contract: YAML keys and their errors (with lines), ${VAR} expansion, region/service
// inference, the forward-proxy allowlist, durations and sizes, the drop-in flags, and check-config.
#include "proxy/config.hpp"

#include "conf/values.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace sigv4::app {
namespace {

using std::chrono::milliseconds;

env_lookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// Raw-string YAML starts on the line after R"( so that line numbers in the tests read like the text.
config_result parse(std::string_view yaml, const env_lookup& env = env_of({})) {
  if (yaml.starts_with('\n')) yaml.remove_prefix(1);
  return parse_config(yaml, env);
}

std::string dump(const std::vector<config_error>& errors) {
  return format_errors(errors, "");
}

// Whether some error sits on `line` and contains `text`.
bool has_error(const std::vector<config_error>& errors, int line, std::string_view text) {
  for (const auto& e : errors) {
    if (e.line == line && e.message.find(text) != std::string::npos) return true;
  }
  return false;
}

#define EXPECT_ERROR(result, line, text)                        \
  EXPECT_TRUE(has_error((result).errors, line, text))           \
      << "want line " << (line) << ": " << (text) << "\ngot:\n" \
      << dump((result).errors)

constexpr std::string_view a_route = R"(
routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
)";

std::string with_route(std::string_view yaml) {
  if (yaml.starts_with('\n')) yaml.remove_prefix(1);
  return std::string(yaml) + std::string(a_route.substr(1));
}

class temp_file {
 public:
  explicit temp_file(std::string_view text) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("sigv4_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".yaml"))
                .string();
    std::ofstream(path_) << text;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- the file: a valid config, every key ----

TEST(config_file, full_file_round_trip) {
  auto r = load_config_file(SIGV4_TEST_DATA_DIR "/config/full.yaml",
                            env_of({{"ROLE_NAME", "writer"}, {"TENANT", "team-a"}}));
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  const config& c = *r.cfg;
  EXPECT_EQ(c.listen, "[::1]:9005");
  EXPECT_EQ(c.admin_listen, "127.0.0.1:9006");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.limits.max_request_body, 8u << 20);
  EXPECT_EQ(c.limits.max_header_bytes, 32u << 10);
  EXPECT_EQ(c.limits.max_connections, 256u);
  EXPECT_EQ(c.timeouts.client_header, milliseconds(5000));
  EXPECT_EQ(c.timeouts.client_body, milliseconds(120'000));
  EXPECT_EQ(c.timeouts.client_idle, milliseconds(90'000));
  EXPECT_EQ(c.timeouts.upstream_connect, milliseconds(1500));
  EXPECT_EQ(c.timeouts.upstream_response_header, milliseconds(90'000));
  EXPECT_EQ(c.timeouts.upstream_idle, milliseconds(0));
  EXPECT_EQ(c.timeouts.shutdown_grace, milliseconds(3'600'000));
  EXPECT_EQ(c.tls.ca_file, "/etc/ssl/custom-ca.pem");
  EXPECT_TRUE(c.tls.insecure_skip_verify);
  EXPECT_EQ(c.pool.max_idle_per_upstream, 8u);

  ASSERT_EQ(c.routes.size(), 2u);
  const route_config& amp = c.routes[0];
  EXPECT_EQ(amp.name, "amp");
  EXPECT_EQ(amp.line, 25);
  EXPECT_EQ(amp.path_prefix, "/workspaces/");
  EXPECT_EQ(amp.host, "sidecar.local");
  EXPECT_EQ(amp.upstream.scheme, "https");
  EXPECT_EQ(amp.upstream.host, "aps-workspaces.us-east-1.amazonaws.com");
  EXPECT_EQ(amp.upstream.port, 443);
  EXPECT_EQ(amp.upstream.target, "/base");
  EXPECT_EQ(amp.sign_host, "aps-workspaces.us-east-1.amazonaws.com");
  EXPECT_EQ(amp.connect_to, "vpce.internal:8443");
  EXPECT_EQ(amp.sigv4.region, "us-east-1");
  EXPECT_EQ(amp.sigv4.service, "aps");
  EXPECT_TRUE(amp.sigv4.unsigned_payload);
  EXPECT_EQ(amp.sigv4.sign_headers, (std::vector<std::string>{"content-md5", "x-amz-target"}));
  EXPECT_EQ(amp.sigv4.role_arn, "arn:aws:iam::123456789012:role/writer");
  EXPECT_EQ(amp.sigv4.external_id, "ext-42");
  EXPECT_EQ(amp.strip_headers, (std::vector<std::string>{"x-foo", "authorization"}));
  using header = std::pair<std::string, std::string>;
  EXPECT_EQ(amp.add_headers, (std::vector<header>{{"X-Custom", "value"}, {"X-Tenant", "team-a"}}));

  const route_config& second = c.routes[1];
  EXPECT_EQ(second.name, "route-2");
  EXPECT_EQ(second.line, 39);
  EXPECT_EQ(second.connect_to, "");
  EXPECT_EQ(second.path_prefix, "/");
  EXPECT_EQ(second.host, "");
  EXPECT_EQ(second.upstream.port, 9100);
  EXPECT_EQ(second.sign_host, "");
  EXPECT_EQ(second.sigv4.region, "eu-west-1");
  EXPECT_EQ(second.sigv4.service, "execute-api");
  EXPECT_FALSE(second.sigv4.unsigned_payload);

  EXPECT_EQ(c.forward_proxy.allow,
            (std::vector<std::string>{"*.execute-api.us-east-1.amazonaws.com", "example.com"}));
  EXPECT_EQ(c.forward_proxy.upstream_scheme, "http");
  EXPECT_EQ(c.forward_proxy.connect_to, "[::1]:9443");
}

TEST(config_file, defaults_for_what_the_file_leaves_out) {
  auto r = parse(a_route);
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  config defaults;
  EXPECT_EQ(r.cfg->listen, "127.0.0.1:8005");
  EXPECT_EQ(r.cfg->admin_listen, "127.0.0.1:8006");
  EXPECT_EQ(r.cfg->log_level, "info");
  EXPECT_EQ(r.cfg->threads, 0);
  EXPECT_EQ(r.cfg->busy_poll_us, -1);  // automatic
  EXPECT_EQ(r.cfg->limits.max_request_body, defaults.limits.max_request_body);
  EXPECT_EQ(r.cfg->timeouts.client_header, defaults.timeouts.client_header);
  EXPECT_TRUE(r.cfg->forward_proxy.allow.empty());
  ASSERT_EQ(r.cfg->routes.size(), 1u);
  EXPECT_EQ(r.cfg->routes[0].name, "route-1");
  EXPECT_EQ(r.cfg->routes[0].line, 2);
}

TEST(config_file, listen_address_forms) {
  auto listen = [](std::string value) {
    auto r = parse(with_route("listen: \"" + value + "\"\nadmin_listen: 127.0.0.1:1\n"));
    return r.cfg ? r.cfg->listen : dump(r.errors);
  };
  EXPECT_EQ(listen(":9000"), "127.0.0.1:9000");
  EXPECT_EQ(listen("0.0.0.0:9000"), "0.0.0.0:9000");
  EXPECT_EQ(listen("[::1]:9000"), "[::1]:9000");
  EXPECT_EQ(listen("LocalHost:0"), "localhost:0");
  for (auto bad :
       {"9000", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "[::1]9000", "a b:80", ":x"}) {
    EXPECT_TRUE(listen(bad).starts_with("error: line 1: 'listen': listen address"))
        << bad << " → " << listen(bad);
  }
}

TEST(config_file, scraper_keys_are_checked_by_the_scraper) {
  auto r = parse(with_route(R"(
global: {whatever: [1, 2]}
scrape_configs: not even a list
remote_write:
  - {url: 5}
)"));
  EXPECT_FALSE(r.cfg);
  EXPECT_ERROR(r, 1, "unknown key 'whatever' in global");
  EXPECT_ERROR(r, 2, "'scrape_configs' must be a list");
  EXPECT_ERROR(r, 4, "'url' '5' must be an http or https URL with a host");
  EXPECT_EQ(r.errors.size(), 3u) << dump(r.errors);

  auto ok = parse(with_route(R"(
global: {scrape_interval: 15s, evaluation_interval: 1m}
scrape_configs: [{job_name: node, static_configs: [{targets: ['localhost:9100']}]}]
remote_write: [{url: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write', sigv4: {}}]
)"));
  ASSERT_TRUE(ok.cfg) << dump(ok.errors);
  EXPECT_EQ(ok.cfg->scrape.job_count(), 1u);
  EXPECT_EQ(ok.cfg->scrape.instances[0].jobs[0].scrape_interval, milliseconds(15'000));
  EXPECT_EQ(ok.cfg->scrape.instances[0].remotes[0].sigv4.service, "aps");
  ASSERT_EQ(ok.warnings.size(), 1u);
  EXPECT_EQ(ok.warnings[0].line, 1);
  EXPECT_NE(ok.warnings[0].message.find("global.evaluation_interval"), std::string::npos);
}

TEST(config_file, a_scraper_alone_needs_no_routes) {
  auto r = parse(R"(
scrape_configs: [{job_name: node, static_configs: [{targets: ['localhost:9100']}]}]
remote_write: [{url: 'http://127.0.0.1:9090/api/v1/write'}]
)");
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_TRUE(r.cfg->routes.empty());
  // remote_write alone scrapes nothing and forwards nothing.
  auto idle = parse("remote_write: [{url: 'http://127.0.0.1:9090/api/v1/write'}]\n");
  EXPECT_ERROR(idle, 0, "no upstream configured");
}

TEST(config_file, forward_proxy_alone_is_an_upstream) {
  auto r = parse(R"(
forward_proxy:
  allow: [example.com]
)");
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_TRUE(r.cfg->routes.empty());
  EXPECT_EQ(r.cfg->forward_proxy.upstream_scheme, "https");
}

TEST(config_file, explicit_region_and_service_allow_any_upstream_host) {
  auto r = parse(R"(
routes:
  - upstream: http://127.0.0.1:18080/
    sigv4: {region: us-west-2, service: aps}
)");
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.cfg->routes[0].sigv4.region, "us-west-2");
  EXPECT_EQ(r.cfg->routes[0].sigv4.service, "aps");
}

TEST(config_file, inference_fills_only_what_is_missing_and_may_use_sign_host) {
  auto r = parse(R"(
routes:
  - upstream: https://aps-workspaces.eu-west-1.amazonaws.com
    sigv4: {region: eu-west-2}
  - upstream: https://10.0.0.5
    sign_host: abc.execute-api.ap-southeast-2.amazonaws.com
)");
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.cfg->routes[0].sigv4.region, "eu-west-2");
  EXPECT_EQ(r.cfg->routes[0].sigv4.service, "aps");
  EXPECT_EQ(r.cfg->routes[1].sigv4.region, "ap-southeast-2");
  EXPECT_EQ(r.cfg->routes[1].sigv4.service, "execute-api");
}

// ---- the file: errors, each with its line ----

TEST(config_errors, unknown_keys_name_their_line_and_suggest) {
  auto r = parse(R"(
listen: 127.0.0.1:8005
lsten: 127.0.0.1:8005
limits:
  max_request_bdy: 1MiB
routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
    match: {path_prefx: /x}
    sigv4:
      regin: us-east-1
    totally_unrelated: 1
tls: {ca: /x}
)");
  EXPECT_FALSE(r.cfg);
  EXPECT_ERROR(r, 2, "unknown key 'lsten' in the top level; did you mean 'listen'?");
  EXPECT_ERROR(r, 4, "unknown key 'max_request_bdy' in limits; did you mean 'max_request_body'?");
  EXPECT_ERROR(r, 7, "unknown key 'path_prefx' in match; did you mean 'path_prefix'?");
  EXPECT_ERROR(r, 9, "unknown key 'regin' in sigv4; did you mean 'region'?");
  EXPECT_ERROR(r, 10, "unknown key 'totally_unrelated' in route 1");
  EXPECT_FALSE(has_error(r.errors, 10, "did you mean"));
  EXPECT_ERROR(r, 11, "unknown key 'ca' in tls");
  EXPECT_EQ(r.errors.size(), 6u) << dump(r.errors);
}

TEST(config_file, busy_poll_us) {
  auto off = parse(with_route("busy_poll_us: 0\n"));
  ASSERT_TRUE(off.cfg) << dump(off.errors);
  EXPECT_EQ(off.cfg->busy_poll_us, 0);
  auto bad = parse(with_route("threads: 1\nbusy_poll_us: 50000\n"));
  EXPECT_FALSE(bad.cfg);
  EXPECT_ERROR(bad, 2, "'busy_poll_us' must be a whole number from 0 to 10000, not '50000'");
}

TEST(config_errors, wrong_types) {
  auto r = parse(with_route(R"(
listen: [127.0.0.1:8005]
threads: many
limits: 5
tls:
  insecure_skip_verify: maybe
log_level: loud
log_format: xml
admin_listen:
upstream_pool: {max_idle_per_upstream: -1}
)"));
  EXPECT_ERROR(r, 1, "'listen' must be a single value, not a list");
  EXPECT_ERROR(r, 2, "'threads' must be a whole number from 0 to 256, not 'many'");
  EXPECT_ERROR(r, 3, "limits must be a mapping of keys");
  EXPECT_ERROR(r, 5, "'tls.insecure_skip_verify' must be true or false, not 'maybe'");
  EXPECT_ERROR(r, 6, "log_level 'loud' is not one of debug, info, warn, error");
  EXPECT_ERROR(r, 7, "log_format 'xml' is not one of logfmt, json");
  EXPECT_ERROR(r, 8, "'admin_listen' needs a value");
  EXPECT_ERROR(r, 9, "'upstream_pool.max_idle_per_upstream' must be a whole number");
  EXPECT_EQ(r.errors.size(), 8u) << dump(r.errors);
}

TEST(config_errors, bad_durations_and_sizes) {
  auto r = parse(with_route(R"(
timeouts:
  client_header: 10
  client_body: -5s
  upstream_connect: 0s
  shutdown_grace: 0s
limits:
  max_request_body: 16 MiB
  max_header_bytes: 0
  max_connections: 0
)"));
  EXPECT_ERROR(r, 2, "'timeouts.client_header': invalid duration '10'");
  EXPECT_ERROR(r, 3, "'timeouts.client_body': invalid duration '-5s'");
  EXPECT_ERROR(r, 4, "'timeouts.upstream_connect' must be greater than 0");
  EXPECT_ERROR(r, 7, "'limits.max_request_body': invalid size '16 MiB'");
  EXPECT_ERROR(r, 8, "'limits.max_header_bytes' must be greater than 0");
  EXPECT_ERROR(r, 9, "'limits.max_connections' must be a whole number from 1");
  EXPECT_EQ(r.errors.size(), 6u) << dump(r.errors);  // shutdown_grace: 0s is fine
}

TEST(config_errors, routes_upstreams_and_inference) {
  auto r = parse(R"(
routes:
  - name: no-scheme
    upstream: aps-workspaces.us-east-1.amazonaws.com
  - name: query
    upstream: https://aps-workspaces.us-east-1.amazonaws.com/x?a=b
  - name: unknown-host
    upstream: https://example.com
  - name: missing
    match: {path_prefix: /m/}
  - name: bad prefix
    match: {path_prefix: nope, host: "bad host"}
    upstream: https://sts.amazonaws.com
    sign_host: "a/b"
  - just a string
  - upstream: http://127.0.0.1:8080
    sigv4: {region: us-east-1}
)");
  EXPECT_ERROR(
      r, 3, "'upstream' 'aps-workspaces.us-east-1.amazonaws.com': URL must start with http:// or https://");
  EXPECT_ERROR(r, 5, "must not have a query");
  EXPECT_ERROR(r, 7,
               "cannot infer region and service from host 'example.com'; set sigv4.region and sigv4.service");
  EXPECT_ERROR(r, 8, "route 4 ('missing') has no 'upstream'");
  EXPECT_ERROR(r, 10, "route name 'bad prefix' may only hold");
  EXPECT_ERROR(r, 11, "'match.path_prefix' must start with '/'");
  EXPECT_ERROR(r, 11, "'match.host': invalid host 'bad host'");
  EXPECT_ERROR(r, 13, "'sign_host': invalid host 'a/b'");
  EXPECT_ERROR(r, 14, "route 6 must be a mapping");
  EXPECT_ERROR(r, 15, "cannot infer region and service from host '127.0.0.1'");
  EXPECT_EQ(r.errors.size(), 10u) << dump(r.errors);
}

TEST(config_errors, duplicate_route_names_and_keys) {
  auto r = parse(R"(
routes:
  - name: amp
    upstream: https://aps-workspaces.us-east-1.amazonaws.com
  - name: amp
    upstream: https://aps-workspaces.us-west-2.amazonaws.com
    upstream: https://aps-workspaces.eu-west-1.amazonaws.com
listen: :1
)");
  EXPECT_ERROR(r, 4, "duplicate route name 'amp' (first on line 2)");
  EXPECT_ERROR(r, 6, "duplicate key 'upstream' in route 2 (first on line 5)");
  EXPECT_EQ(r.errors.size(), 2u) << dump(r.errors);
}

TEST(config_errors, forward_proxy_allow_entries) {
  auto r = parse(R"(
forward_proxy:
  allow:
    - ""
    - example.com/metrics
    - example.com:443
    - "*"
    - "*."
    - "a.*.example.com"
    - "**.example.com"
    - "foo*.example.com"
    - "*.example.com"
    - ok.example.com
  upstream_scheme: ftp
)");
  for (int line = 3; line <= 10; ++line) EXPECT_ERROR(r, line, "forward_proxy.allow entry");
  EXPECT_ERROR(r, 13, "'forward_proxy.upstream_scheme' must be http or https, not 'ftp'");
  EXPECT_EQ(r.errors.size(), 9u) << dump(r.errors);
}

TEST(config_errors, header_names_and_values) {
  auto r = parse(R"yaml(
routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
    strip_headers: [X-Ok, "Bad Header"]
    sigv4:
      sign_headers: ["x:y"]
    headers:
      "X(1)": v
      Host: other
      Authorization: x
      Content-Length: "5"
      X-Ok: a
      x-ok: b
)yaml");
  EXPECT_ERROR(r, 3, "'strip_headers': invalid header name 'Bad Header'");
  EXPECT_ERROR(r, 5, "'sigv4.sign_headers': invalid header name 'x:y'");
  EXPECT_ERROR(r, 7, "'headers': invalid header name 'X(1)'");
  EXPECT_ERROR(r, 8, "sign_host");
  EXPECT_ERROR(r, 9, "'authorization' is written by the signer");
  EXPECT_ERROR(r, 10, "'content-length' controls HTTP framing");
  EXPECT_ERROR(r, 12, "header 'x-ok' is set twice");
  EXPECT_EQ(r.errors.size(), 7u) << dump(r.errors);
}

TEST(config_errors, connect_to_needs_host_and_port) {
  auto r = parse(R"(
routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
    connect_to: 10.0.0.5
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
    connect_to: "a/b:443"
forward_proxy:
  allow: [example.com]
  connect_to: "::1:443"
)");
  EXPECT_ERROR(r, 3, "'connect_to' must be host:port (e.g. 10.0.0.5:443 or [::1]:8443), not '10.0.0.5'");
  EXPECT_ERROR(r, 5, "'connect_to' must be host:port");
  EXPECT_ERROR(r, 8, "'forward_proxy.connect_to' must be host:port");
  EXPECT_EQ(r.errors.size(), 3u) << dump(r.errors);
}

TEST(config_errors, static_credentials_are_refused) {
  auto r = parse(R"(
routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
    sigv4:
      access_key: AKIDEXAMPLE
      secret_key: wJalrXUtnFEMI
)");
  EXPECT_ERROR(r, 4, "'sigv4.access_key' is not supported: provide credentials through the environment");
  EXPECT_ERROR(r, 5, "'sigv4.secret_key' is not supported");
  EXPECT_EQ(r.errors.size(), 2u) << dump(r.errors);
}

TEST(config_file, credentials_block) {
  auto r = parse(with_route(R"(
credentials:
  source: profile
  profile: prod
  role_arn: arn:aws:iam::123456789012:role/base
  external_id: ext
  session_name: sidecar
  duration: 2h
  sts_region: eu-west-1
  imds_v1_fallback: true
)"));
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  const auto& c = r.cfg->credentials;
  EXPECT_EQ(c.source, "profile");
  EXPECT_EQ(c.profile, "prod");
  EXPECT_EQ(c.role_arn, "arn:aws:iam::123456789012:role/base");
  EXPECT_EQ(c.external_id, "ext");
  EXPECT_EQ(c.session_name, "sidecar");
  EXPECT_EQ(c.duration, std::chrono::seconds(7200));
  EXPECT_EQ(c.sts_region, "eu-west-1");
  EXPECT_TRUE(c.imds_v1_fallback);
  auto d = parse(with_route(""));
  ASSERT_TRUE(d.cfg) << dump(d.errors);
  EXPECT_EQ(d.cfg->credentials.source, "default");
  EXPECT_FALSE(d.cfg->credentials.duration);
}

TEST(config_errors, credentials_block) {
  auto r = parse(with_route(R"(
credentials:
  source: instance_profile
  duration: 5m
  role_arn: ""
  sorce: x
)"));
  EXPECT_ERROR(r, 2, "credentials.source 'instance_profile' is not one of default, environment, profile");
  EXPECT_ERROR(r, 3, "credentials.duration '5m' must be a duration from 15m to 12h");
  EXPECT_ERROR(r, 4, "credentials.role_arn is empty");
  EXPECT_ERROR(r, 5, "unknown key 'sorce' in credentials; did you mean 'source'?");
  auto p = parse(with_route(R"(
credentials:
  source: imds
  profile: prod
)"));
  EXPECT_ERROR(p, 1, "credentials.profile is only used with source default or profile, not imds");
}

TEST(config_errors, yaml_syntax_error_has_its_line) {
  auto r = parse(R"(
listen: 127.0.0.1:8005
routes:
  - upstream: [unclosed
)");
  ASSERT_EQ(r.errors.size(), 1u) << dump(r.errors);
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_TRUE(r.errors[0].message.starts_with("YAML syntax error: ")) << r.errors[0].message;
}

TEST(config_errors, not_a_mapping_and_empty) {
  auto scalar = parse("just words\n");
  EXPECT_ERROR(scalar, 1, "the config must be a mapping of keys");
  EXPECT_EQ(scalar.errors.size(), 1u) << dump(scalar.errors);
  auto empty = parse("# nothing yet\n");
  ASSERT_EQ(empty.errors.size(), 1u) << dump(empty.errors);
  EXPECT_EQ(empty.errors[0].line, 0);
  EXPECT_EQ(empty.errors[0].message, "no upstream configured: add routes or forward_proxy.allow");
}

TEST(config_errors, listen_and_admin_listen_must_differ) {
  auto r = parse(with_route("listen: :9000\nadmin_listen: 127.0.0.1:9000\n"));
  EXPECT_ERROR(r, 0, "listen and admin_listen are both 127.0.0.1:9000");
  EXPECT_TRUE(parse(with_route("listen: :0\nadmin_listen: :0\n")).cfg);
}

TEST(config_errors, many_errors_are_collected_in_one_pass) {
  auto r = parse(R"(
lsten: :8005
threads: -1
timeouts: {client_idle: soon}
routes:
  - upstream: https://example.com
    strip_headers: ["a b"]
forward_proxy: {allow: ["x/y"]}
)");
  EXPECT_EQ(r.errors.size(), 6u) << dump(r.errors);
  std::vector<int> lines;
  for (const auto& e : r.errors) lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 2, 3, 5, 6, 7}));  // file order, though checked in another
}

// ---- ${VAR} expansion ----

TEST(config_env, variables_expand_in_every_scalar) {
  auto r = parse(R"(
listen: ${HOST}:${PORT}
routes:
  - name: ${NAME}
    upstream: https://aps-workspaces.${AWS_REGION}.amazonaws.com/${PREFIX}
    strip_headers: ["X-${NAME}"]  # quoted: braces are flow syntax inside [ ]
    headers: {X-Token: "Bearer ${TOKEN}", X-Empty: "${EMPTY}"}
    sigv4: {unsigned_payload: "${UNSIGNED}"}
)",
                 env_of({{"HOST", "0.0.0.0"},
                         {"PORT", "9999"},
                         {"NAME", "amp"},
                         {"AWS_REGION", "eu-central-2"},
                         {"PREFIX", "p"},
                         {"TOKEN", "t0k${NOT_EXPANDED_AGAIN}"},
                         {"EMPTY", ""},
                         {"UNSIGNED", "true"}}));
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  const auto& route = r.cfg->routes[0];
  EXPECT_EQ(r.cfg->listen, "0.0.0.0:9999");
  EXPECT_EQ(route.name, "amp");
  EXPECT_EQ(route.upstream.host, "aps-workspaces.eu-central-2.amazonaws.com");
  EXPECT_EQ(route.upstream.target, "/p");
  EXPECT_EQ(route.sigv4.region, "eu-central-2");
  EXPECT_EQ(route.strip_headers, std::vector<std::string>{"x-amp"});
  EXPECT_EQ(route.add_headers[0].second, "Bearer t0k${NOT_EXPANDED_AGAIN}");
  EXPECT_EQ(route.add_headers[1].second, "");
  EXPECT_TRUE(route.sigv4.unsigned_payload);
}

TEST(config_env, unset_and_malformed_variables_are_errors_on_their_line) {
  auto r = parse(R"(
routes:
  - upstream: https://aps-workspaces.${AWS_REGION}.amazonaws.com
    headers:
      X-A: ${MISSING}
      X-B: ${1BAD}
      X-C: ${OPEN
      X-D: $HOME and $ are literal
)",
                 env_of({{"HOME", "/root"}}));
  EXPECT_ERROR(r, 2, "environment variable 'AWS_REGION' is not set");
  EXPECT_ERROR(r, 4, "environment variable 'MISSING' is not set");
  EXPECT_ERROR(r, 5, "invalid variable reference '${1BAD}'");
  EXPECT_ERROR(r, 6, "unterminated '${'");
  EXPECT_EQ(r.errors.size(), 4u) << dump(r.errors);
}

TEST(config_env, an_empty_env_lookup_means_nothing_is_set) {
  auto r = parse_config("listen: ${X}\n", env_lookup{});
  EXPECT_ERROR(r, 1, "environment variable 'X' is not set");
}

// ---- inference, allowlist, value syntaxes ----

TEST(config_infer, aws_hosts) {
  struct row {
    std::string_view host, region, service;
  };
  const row rows[] = {
      {"abc.execute-api.us-east-1.amazonaws.com", "us-east-1", "execute-api"},
      {"aps-workspaces.eu-west-1.amazonaws.com", "eu-west-1", "aps"},
      {"sts.us-west-2.amazonaws.com", "us-west-2", "sts"},
      {"monitoring-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", "monitoring"},
      {"aps-workspaces-fips.us-east-1.amazonaws.com", "us-east-1", "aps"},
      {"search-d.us-east-1.es.amazonaws.com", "us-east-1", "es"},
      {"x.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1", "execute-api"},
      {"sts.amazonaws.com", "us-east-1", "sts"},
      {"sts.amazonaws.com:443", "us-east-1", "sts"},
      {"ABC.Execute-Api.AP-Southeast-2.amazonaws.com:8443", "ap-southeast-2", "execute-api"},
      {"logs.il-central-1.amazonaws.com", "il-central-1", "logs"},
      {"aps-workspaces.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1", "aps"},
      {"vpce-0a1b-xyz.execute-api.us-east-1.vpce.amazonaws.com", "us-east-1", "execute-api"},
      {"bucket.s3.dualstack.eu-central-2.amazonaws.com", "eu-central-2", "s3"},
  };
  for (const auto& r : rows) {
    auto got = infer_sigv4(r.host);
    ASSERT_TRUE(got) << r.host;
    EXPECT_EQ(got->region, r.region) << r.host;
    EXPECT_EQ(got->service, r.service) << r.host;
  }
  for (auto host : {"example.com", "amazonaws.com", "127.0.0.1", "", "us-east-1.amazonaws.com",
                    "aps-workspaces.amazonaws.com", "aps.us-east-1.amazonaws.com.evil.com",
                    "x.us-east-1.es.extra.amazonaws.com", "[::1]:443"}) {
    EXPECT_FALSE(infer_sigv4(host)) << host;
  }
}

TEST(config_allowlist, exact_and_suffix_matches) {
  forward_proxy_config fp;
  fp.allow = {"example.com", "*.execute-api.us-east-1.amazonaws.com"};
  EXPECT_TRUE(host_allowed(fp, "example.com"));
  EXPECT_TRUE(host_allowed(fp, "Example.COM:8443"));
  EXPECT_TRUE(host_allowed(fp, "example.com."));
  EXPECT_TRUE(host_allowed(fp, "abc.execute-api.us-east-1.amazonaws.com"));
  EXPECT_TRUE(host_allowed(fp, "a.b.execute-api.us-east-1.amazonaws.com:443"));
  EXPECT_FALSE(host_allowed(fp, "execute-api.us-east-1.amazonaws.com"));  // the bare suffix
  EXPECT_FALSE(host_allowed(fp, "www.example.com"));
  EXPECT_FALSE(host_allowed(fp, "notexample.com"));
  EXPECT_FALSE(host_allowed(fp, "example.com.evil.net"));
  EXPECT_FALSE(host_allowed(fp, "abcexecute-api.us-east-1.amazonaws.com"));
  EXPECT_FALSE(host_allowed(fp, "abc.execute-api.us-east-2.amazonaws.com"));
  EXPECT_FALSE(host_allowed(fp, ""));
  EXPECT_FALSE(host_allowed(forward_proxy_config{}, "example.com"));
}

TEST(config_values, closest_word_suggests_a_key_within_two_edits) {
  const std::vector<std::string_view> known = {"listen", "limits", "max_request_body", "max_header_bytes", "region"};
  EXPECT_EQ(conf::closest_word("lsten", known), "listen");
  EXPECT_EQ(conf::closest_word("limts", known), "limits");
  EXPECT_EQ(conf::closest_word("max_request_bdy", known), "max_request_body");
  EXPECT_EQ(conf::closest_word("max_header_byte", known), "max_header_bytes");
  EXPECT_EQ(conf::closest_word("rgion", known), "region");
  EXPECT_EQ(conf::closest_word("regoin", known), "region");            // a swap is two edits
  EXPECT_EQ(conf::closest_word("listn", {"lisen", "listen"}), "lisen");  // a tie: the first known
  EXPECT_EQ(conf::closest_word("lst", known), std::nullopt);          // three edits
  EXPECT_EQ(conf::closest_word("", known), std::nullopt);
  EXPECT_EQ(conf::closest_word("listen", {}), std::nullopt);
  // A long key is cut short by its length (and its rows), not compared cell by cell: same answer.
  EXPECT_EQ(conf::closest_word(std::string(100000, 'x'), known), std::nullopt);
  EXPECT_EQ(conf::closest_word("max_request_bodyxx", known), "max_request_body");
  EXPECT_EQ(conf::closest_word("max_request_bodyxxx", known), std::nullopt);
}

TEST(config_values, durations) {
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("0"), milliseconds(0));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), milliseconds(30'000));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120'000));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(parse_duration("1w"), milliseconds(7 * 86'400'000LL));
  EXPECT_EQ(parse_duration("1y"), milliseconds(365 * 86'400'000LL));
  EXPECT_EQ(parse_duration("1m30s250ms"), milliseconds(90'250));
  for (auto bad : {"", "10", "-1s", "+1s", "1.5s", "s", "1x", "30m1h", "1s1s", "1ms1s", "1 s", " 1s", "1s ",
                   "1S", "99999999999999999999s", "9999999999999999y"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(config_values, sizes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("16KiB"), 16u << 10);
  EXPECT_EQ(parse_size("16MiB"), 16u << 20);
  EXPECT_EQ(parse_size("1GiB"), std::size_t{1} << 30);
  EXPECT_EQ(parse_size("10KB"), 10'000u);
  EXPECT_EQ(parse_size("10MB"), 10'000'000u);
  EXPECT_EQ(parse_size("1GB"), 1'000'000'000u);
  EXPECT_EQ(parse_size("2mib"), 2u << 20);
  for (auto bad : {"", "MiB", "-1", "1.5MiB", "16 MiB", "16MiBs", "16XB", "0x10", " 1", "16777216TiB",
                   "99999999999999999999"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
}

TEST(config_errors, format_errors_prefixes_and_lines) {
  std::vector<config_error> errors = {{3, "bad thing"}, {0, "no upstream"}};
  EXPECT_EQ(format_errors(errors, "cfg.yaml"), "cfg.yaml: line 3: bad thing\ncfg.yaml: no upstream\n");
  EXPECT_EQ(format_errors(errors, ""), "error: line 3: bad thing\nerror: no upstream\n");
  EXPECT_EQ(format_errors({}, "x"), "");
}

// ---- the command line ----

cli_result from_args(std::vector<std::string> args, const env_lookup& env = env_of({})) {
  std::vector<std::string_view> views(args.begin(), args.end());
  return config_from_args(views, env);
}

TEST(config_flags, aws_sigv4_proxy_invocation) {
  auto r = from_args({"--name", "aps", "--region", "us-west-2", "--host",
                      "aps-workspaces.us-west-2.amazonaws.com", "--port", ":8005"});
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.config_path, "");
  EXPECT_EQ(r.cfg->listen, "127.0.0.1:8005");  // not all interfaces, unlike aws-sigv4-proxy
  ASSERT_EQ(r.cfg->routes.size(), 1u);
  const auto& route = r.cfg->routes[0];
  EXPECT_EQ(route.name, "route-1");
  EXPECT_EQ(route.line, 0);
  EXPECT_EQ(route.path_prefix, "/");
  EXPECT_EQ(route.upstream.scheme, "https");
  EXPECT_EQ(route.upstream.host, "aps-workspaces.us-west-2.amazonaws.com");
  EXPECT_EQ(route.upstream.port, 443);
  EXPECT_EQ(route.upstream.target, "/");
  EXPECT_EQ(route.sigv4.region, "us-west-2");
  EXPECT_EQ(route.sigv4.service, "aps");
  EXPECT_FALSE(route.sigv4.unsigned_payload);
  EXPECT_FALSE(r.cfg->tls.insecure_skip_verify);
}

TEST(config_flags, every_drop_in_flag_in_both_spellings) {
  auto r = from_args({"--host=backend.internal:9443", "--name=execute-api", "--region", "eu-west-1",
                      "--sign-host", "Abc.execute-api.eu-west-1.amazonaws.com", "--port=0.0.0.0:8080",
                      "--upstream-url-scheme=http", "--strip", "X-Forwarded-For", "--strip=Authorization",
                      "--unsigned-payload", "--no-verify-ssl", "--custom-headers", "X-A=1,X-B=two=2",
                      "--custom-headers=X-C=", "--role-arn", "arn:aws:iam::123456789012:role/r", "-v"});
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  const auto& route = r.cfg->routes[0];
  EXPECT_EQ(r.cfg->listen, "0.0.0.0:8080");
  EXPECT_EQ(route.upstream.scheme, "http");
  EXPECT_EQ(route.upstream.host, "backend.internal");
  EXPECT_EQ(route.upstream.port, 9443);
  EXPECT_EQ(route.sign_host, "abc.execute-api.eu-west-1.amazonaws.com");
  EXPECT_EQ(route.sigv4.service, "execute-api");
  EXPECT_EQ(route.sigv4.region, "eu-west-1");
  EXPECT_EQ(route.strip_headers, (std::vector<std::string>{"x-forwarded-for", "authorization"}));
  EXPECT_TRUE(route.sigv4.unsigned_payload);
  EXPECT_TRUE(r.cfg->tls.insecure_skip_verify);
  using header = std::pair<std::string, std::string>;
  EXPECT_EQ(route.add_headers, (std::vector<header>{{"X-A", "1"}, {"X-B", "two=2"}, {"X-C", ""}}));
  EXPECT_EQ(route.sigv4.role_arn, "arn:aws:iam::123456789012:role/r");
  EXPECT_EQ(r.cfg->log_level, "debug");
}

TEST(config_flags, our_flags) {
  auto r = from_args({"--host", "sts.amazonaws.com", "--listen", "[::1]:7000", "--admin-listen=:7001",
                      "--max-request-body", "4MiB", "--log-level=warn", "--log-format", "json", "--ca-file",
                      "/ca.pem", "--threads", "2", "--verbose=false", "--busy-poll-us", "0"});
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.cfg->listen, "[::1]:7000");
  EXPECT_EQ(r.cfg->admin_listen, "127.0.0.1:7001");
  EXPECT_EQ(r.cfg->limits.max_request_body, 4u << 20);
  EXPECT_EQ(r.cfg->log_level, "warn");
  EXPECT_EQ(r.cfg->log_format, "json");
  EXPECT_EQ(r.cfg->tls.ca_file, "/ca.pem");
  EXPECT_EQ(r.cfg->threads, 2);
  EXPECT_EQ(r.cfg->busy_poll_us, 0);
  EXPECT_EQ(r.cfg->routes[0].sigv4.region, "us-east-1");
  EXPECT_EQ(r.cfg->routes[0].sigv4.service, "sts");
}

TEST(config_flags, host_alone_infers_region_and_name) {
  auto r = from_args({"--host", "abc.execute-api.ap-southeast-2.amazonaws.com"});
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.cfg->routes[0].sigv4.region, "ap-southeast-2");
  EXPECT_EQ(r.cfg->routes[0].sigv4.service, "execute-api");
  auto partial = from_args({"--host", "aps-workspaces.eu-west-1.amazonaws.com", "--region", "eu-west-3"});
  ASSERT_TRUE(partial.cfg) << dump(partial.errors);
  EXPECT_EQ(partial.cfg->routes[0].sigv4.region, "eu-west-3");
  EXPECT_EQ(partial.cfg->routes[0].sigv4.service, "aps");
}

TEST(config_flags, errors) {
  auto uninferable = from_args({"--host", "example.com", "--name", "aps"});
  EXPECT_FALSE(uninferable.cfg);
  EXPECT_ERROR(uninferable, 0,
               "cannot infer region and service from --host example.com; pass --region and --name");

  auto nothing = from_args({"--port", ":8005"});
  EXPECT_ERROR(nothing, 0, "no upstream configured: pass --host (and --region, --name) or --config FILE");
  EXPECT_EQ(nothing.errors.size(), 1u) << dump(nothing.errors);

  auto bad = from_args({"--host", "sts.amazonaws.com", "--bogus", "--threads", "x", "--busy-poll-us", "20000",
                        "--port", "8080",
                        "--log-level=loud", "--upstream-url-scheme", "ftp", "--strip", "a b",
                        "--custom-headers", "novalue,Host=x", "--unsigned-payload=maybe", "stray",
                        "--max-request-body", "lots", "--log-format"});
  EXPECT_ERROR(bad, 0, "unknown flag '--bogus'");
  EXPECT_ERROR(bad, 0, "--threads: must be a whole number from 0 to 256, not 'x'");
  EXPECT_ERROR(bad, 0, "--busy-poll-us: must be a whole number from 0 to 10000, not '20000'");
  EXPECT_ERROR(bad, 0, "--port: listen address '8080' must be host:port or :port");
  EXPECT_ERROR(bad, 0, "--log-level: 'loud' is not one of");
  EXPECT_ERROR(bad, 0, "--upstream-url-scheme: must be http or https, not 'ftp'");
  EXPECT_ERROR(bad, 0, "--strip: invalid header name 'a b'");
  EXPECT_ERROR(bad, 0, "--custom-headers: 'novalue' must look like Name=value");
  EXPECT_ERROR(bad, 0, "--custom-headers: set the upstream Host with sign_host");
  EXPECT_ERROR(bad, 0, "--unsigned-payload takes true or false, not 'maybe'");
  EXPECT_ERROR(bad, 0, "unexpected argument 'stray'");
  EXPECT_ERROR(bad, 0, "--max-request-body: invalid size 'lots'");
  EXPECT_ERROR(bad, 0, "--log-format needs a value");
  EXPECT_EQ(bad.errors.size(), 13u) << dump(bad.errors);

  auto url_host = from_args({"--host", "https://sts.amazonaws.com"});
  EXPECT_ERROR(url_host, 0, "--host: takes a host name, not a URL");
}

TEST(config_flags, config_file_then_flags_override_and_host_appends) {
  temp_file file(R"(listen: :9000
log_level: warn
threads: 1
tls: {ca_file: /file-ca.pem}
limits: {max_request_body: 1MiB, max_connections: 10}
routes:
  - name: amp
    upstream: https://aps-workspaces.${REGION}.amazonaws.com
)");
  auto env = env_of({{"REGION", "us-east-2"}});
  auto only_file = from_args({"--config", file.path()}, env);
  ASSERT_TRUE(only_file.cfg) << dump(only_file.errors);
  EXPECT_EQ(only_file.config_path, file.path());
  EXPECT_EQ(only_file.cfg->listen, "127.0.0.1:9000");
  EXPECT_EQ(only_file.cfg->routes.size(), 1u);

  auto r = from_args(
      {"--config=" + file.path(), "--port", ":9100", "-v", "--threads=2", "--ca-file", "/flag-ca.pem",
       "--max-request-body", "2MiB", "--host", "sts.us-west-2.amazonaws.com", "--no-verify-ssl"},
      env);
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_EQ(r.cfg->listen, "127.0.0.1:9100");
  EXPECT_EQ(r.cfg->log_level, "debug");
  EXPECT_EQ(r.cfg->threads, 2);
  EXPECT_EQ(r.cfg->tls.ca_file, "/flag-ca.pem");
  EXPECT_TRUE(r.cfg->tls.insecure_skip_verify);
  EXPECT_EQ(r.cfg->limits.max_request_body, 2u << 20);
  EXPECT_EQ(r.cfg->limits.max_connections, 10u);  // not overridden: the file's value stays
  ASSERT_EQ(r.cfg->routes.size(), 2u);
  EXPECT_EQ(r.cfg->routes[0].name, "amp");
  EXPECT_EQ(r.cfg->routes[0].sigv4.region, "us-east-2");
  EXPECT_EQ(r.cfg->routes[1].name, "route-2");
  EXPECT_EQ(r.cfg->routes[1].sigv4.service, "sts");
  EXPECT_EQ(r.cfg->routes[1].line, 0);
}

TEST(config_flags, a_file_without_routes_is_completed_by_host) {
  temp_file file("log_level: warn\n");
  auto alone = from_args({"--config", file.path()});
  EXPECT_ERROR(alone, 0, "no upstream configured: add routes or forward_proxy.allow");
  auto with_host = from_args({"--config", file.path(), "--host", "sts.amazonaws.com"});
  ASSERT_TRUE(with_host.cfg) << dump(with_host.errors);
  EXPECT_EQ(with_host.cfg->log_level, "warn");
}

TEST(config_flags, boolean_flags_take_an_explicit_false) {
  temp_file file(std::string(a_route.substr(1)) + "tls: {insecure_skip_verify: true}\n");
  auto r = from_args({"--config", file.path(), "--no-verify-ssl=false"});
  ASSERT_TRUE(r.cfg) << dump(r.errors);
  EXPECT_FALSE(r.cfg->tls.insecure_skip_verify);
}

TEST(config_flags, file_errors_keep_lines_and_flag_errors_have_none) {
  temp_file file("listen: :9000\nthreads: lots\nlsten: x\nroutes:\n  - upstream: https://example.com\n");
  auto r = from_args({"--config", file.path(), "--threads", "-3"});
  EXPECT_FALSE(r.cfg);
  EXPECT_ERROR(r, 2, "'threads' must be a whole number");
  EXPECT_ERROR(r, 3, "unknown key 'lsten' in the top level; did you mean 'listen'?");
  EXPECT_ERROR(r, 5, "cannot infer region and service from host 'example.com'");
  EXPECT_ERROR(r, 0, "--threads: must be a whole number");
  EXPECT_EQ(r.errors.size(), 4u) << dump(r.errors);

  auto missing = from_args({"--config", "/nonexistent/sigv4.yaml"});
  EXPECT_ERROR(missing, 0, "--config: cannot open '/nonexistent/sigv4.yaml'");
  EXPECT_EQ(missing.errors.size(), 1u) << dump(missing.errors);
}

TEST(config_flags, route_flags_need_host) {
  temp_file file(std::string(a_route.substr(1)));
  auto r = from_args({"--config", file.path(), "--region", "us-east-1", "--strip", "x-a"});
  EXPECT_ERROR(r, 0, "--region configures the --host route; pass --host too");
  EXPECT_ERROR(r, 0, "--strip configures the --host route");
  EXPECT_EQ(r.errors.size(), 2u) << dump(r.errors);
}

// ---- check-config ----

struct check_result {
  int code;
  std::string out, err;
};

check_result check(std::vector<std::string> args, const env_lookup& env = env_of({})) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::ostringstream out, err;
  int code = run_check_config(views, out, err, env);
  return {code, out.str(), err.str()};
}

TEST(check_config, ok_prints_a_summary) {
  temp_file file(R"(routes:
  - upstream: https://aps-workspaces.us-east-1.amazonaws.com
  - upstream: https://sts.amazonaws.com
forward_proxy: {allow: ["*.example.com"]}
)");
  auto r = check({file.path()});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, file.path() + ": OK, 2 routes, forward proxy allows 1 host pattern\n");
  EXPECT_EQ(r.err, "");

  temp_file one(std::string(a_route.substr(1)) + "scrape_configs: []\nremote_write: []\n");
  auto r1 = check({one.path()});
  EXPECT_EQ(r1.code, 0) << r1.err;
  EXPECT_EQ(r1.out, one.path() + ": OK, 1 route, forward proxy off\n");
}

TEST(check_config, scraper_only_config_with_warnings) {
  temp_file file(R"(global:
  evaluation_interval: 1m
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['localhost:9100']}]
  - job_name: api
    static_configs: [{targets: ['abc.execute-api.us-east-1.amazonaws.com']}]
    sigv4: {}
remote_write:
  - url: https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write
    sigv4: {}
rule_files: [a.yml]
)");
  auto r = check({file.path()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, file.path() + ": OK, 0 routes, forward proxy off, 2 scrape jobs, 1 remote_write\n");
  EXPECT_EQ(r.err, file.path() +
                       ": line 2: warning: 'global.evaluation_interval' is a Prometheus server setting (rules); "
                       "the sidecar ignores it\n" +
                       file.path() +
                       ": line 12: warning: 'rule_files' is a Prometheus server setting (rules, alerts, storage, "
                       "tracing); the sidecar ignores it\n");

  temp_file agent(R"(metrics:
  configs:
    - name: a
      scrape_configs: [{job_name: x, static_configs: [{targets: ['h:1']}]}]
      remote_write: [{url: 'http://127.0.0.1:9090/w'}]
    - name: b
      remote_write: [{url: 'http://127.0.0.1:9091/w'}]
)");
  auto a = check({agent.path()});
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, agent.path() +
                       ": OK, 0 routes, forward proxy off, 1 scrape job, 2 remote_write (2 Grafana Agent instances)\n");

  temp_file bad("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: pod}]\n");
  auto b = check({bad.path()});
  EXPECT_EQ(b.code, 1);
  EXPECT_NE(b.err.find(bad.path() + ": line 3: 'kubernetes_sd_configs' is not supported: use file_sd_configs"),
            std::string::npos)
      << b.err;
}

TEST(check_config, errors_with_lines_and_exit_1) {
  temp_file file("lsten: :8005\nthreads: x\n");
  auto r = check({file.path()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, file.path() + ": line 1: unknown key 'lsten' in the top level; did you mean 'listen'?\n" +
                       file.path() + ": line 2: 'threads' must be a whole number from 0 to 256, not 'x'\n" +
                       file.path() + ": no upstream configured: add routes or forward_proxy.allow\n");
}

TEST(check_config, unreadable_file_and_usage) {
  auto missing = check({"/nonexistent/sigv4.yaml"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err,
            "/nonexistent/sigv4.yaml: cannot open '/nonexistent/sigv4.yaml': No such file or directory\n");
  auto directory = check({std::filesystem::temp_directory_path().string()});
  EXPECT_EQ(directory.code, 1);
  EXPECT_NE(directory.err.find("cannot read"), std::string::npos) << directory.err;

  EXPECT_EQ(check({}).code, 2);
  EXPECT_EQ(check({"a.yaml", "b.yaml"}).code, 2);
  auto flag = check({"--strict"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_EQ(flag.err, "usage: sigv4-sidecar check-config FILE\n");
  EXPECT_EQ(check({"--help"}).code, 0);
}

// ---- shipped examples ----

TEST(config_examples, every_example_config_is_valid) {
  auto env = env_of({{"AWS_REGION", "us-west-2"}, {"CLUSTER_NAME", "prod"}});
  int checked = 0;
  for (const auto& dir : {std::string(SIGV4_TEST_DATA_DIR "/../../deploy/examples")}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".yaml") continue;
      auto r = load_config_file(entry.path().string(), env);
      EXPECT_TRUE(r.cfg) << entry.path() << "\n" << format_errors(r.errors, entry.path().string());
      ++checked;
    }
  }
  EXPECT_GE(checked, 4);
}

TEST(config_examples, scraper_examples_say_what_they_claim) {
  auto env = env_of({{"CLUSTER_NAME", "prod"}});
  auto alone = load_config_file(SIGV4_TEST_DATA_DIR "/../../deploy/examples/scraper-apigw-amp.yaml", env);
  ASSERT_TRUE(alone.cfg) << dump(alone.errors);
  EXPECT_TRUE(alone.cfg->routes.empty());
  ASSERT_EQ(alone.cfg->scrape.instances.size(), 1u);
  const auto& inst = alone.cfg->scrape.instances[0];
  ASSERT_EQ(inst.jobs.size(), 3u);
  EXPECT_TRUE(inst.jobs[0].sigv4.enabled);
  EXPECT_FALSE(inst.jobs[1].sigv4.enabled);
  ASSERT_EQ(inst.remotes.size(), 1u);
  EXPECT_EQ(inst.remotes[0].sigv4.service, "aps");
  EXPECT_EQ(inst.remotes[0].sigv4.region, "us-east-1");
  EXPECT_EQ(scraper::get(alone.cfg->scrape.global.external_labels, "cluster"), "prod");

  auto agent = load_config_file(SIGV4_TEST_DATA_DIR "/../../deploy/examples/grafana-agent-static.yaml", env);
  ASSERT_TRUE(agent.cfg) << dump(agent.errors);
  ASSERT_EQ(agent.cfg->scrape.instances.size(), 1u);
  const auto& job = agent.cfg->scrape.instances[0].jobs.at(0);
  EXPECT_TRUE(job.sigv4.enabled);
  EXPECT_EQ(job.sigv4.service, "execute-api");
  EXPECT_EQ(agent.cfg->scrape.wal_directory, "/var/lib/sigv4-sidecar");
  EXPECT_GE(agent.warnings.size(), 2u);  // authorization.type ignored; __host__ is no Prometheus label
}

TEST(config_examples, amp_and_api_gateway_examples_say_what_they_claim) {
  auto env = env_of({{"AWS_REGION", "us-west-2"}});
  auto amp = load_config_file(SIGV4_TEST_DATA_DIR "/../../deploy/examples/amp-remote-write.yaml", env);
  ASSERT_TRUE(amp.cfg) << dump(amp.errors);
  EXPECT_EQ(amp.cfg->routes.at(0).sigv4.service, "aps");
  EXPECT_EQ(amp.cfg->routes.at(0).sigv4.region, "us-west-2");
  auto api = load_config_file(SIGV4_TEST_DATA_DIR "/../../deploy/examples/api-gateway-scrape.yaml", env);
  ASSERT_TRUE(api.cfg) << dump(api.errors);
  EXPECT_EQ(api.cfg->routes.at(0).sigv4.service, "execute-api");
  EXPECT_TRUE(host_allowed(api.cfg->forward_proxy, "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"));
  EXPECT_FALSE(host_allowed(api.cfg->forward_proxy, "a1b2c3d4e5.execute-api.us-east-2.amazonaws.com"));
}

}  // namespace
}  // namespace sigv4::app

namespace sigv4::app {
namespace {

// The rest of aws-sigv4-proxy's flags are accepted and mean what they meant there.
TEST(flags, aws_sigv4_proxy_logging_and_transport_flags) {
  auto r = from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com", "--duplicate-headers", "Authorization",
                      "--duplicate-headers=X-Trace", "--transport.idle-conn-timeout", "40s",
                      "--log-failed-requests", "--log-signing-process"});
  ASSERT_TRUE(r.cfg) << format_errors(r.errors, "flags");
  EXPECT_EQ(r.cfg->routes[0].duplicate_headers, (std::vector<std::string>{"authorization", "x-trace"}));
  EXPECT_EQ(r.cfg->timeouts.upstream_idle, std::chrono::seconds(40));
  EXPECT_TRUE(r.cfg->log_failed_requests);
  EXPECT_TRUE(r.cfg->log_signing);

  auto verbose = from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com", "-v"});
  ASSERT_TRUE(verbose.cfg);
  EXPECT_EQ(verbose.cfg->log_level, "debug");
  EXPECT_TRUE(verbose.cfg->log_failed_requests && verbose.cfg->log_signing);

  auto bad = from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com", "--transport.idle-conn-timeout",
                        "soon", "--duplicate-headers", "bad header"});
  EXPECT_FALSE(bad.cfg);
  EXPECT_EQ(bad.errors.size(), 2u);
}

// --storage.path (the scraper's spool) wins over the file's storage.path.
TEST(flags, storage_path_wins_over_the_file) {
  auto plain = from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com", "--storage.path", "/var/lib/s"});
  ASSERT_TRUE(plain.cfg) << format_errors(plain.errors, "flags");
  EXPECT_EQ(plain.cfg->scrape.storage.path, "/var/lib/s");
  EXPECT_EQ(from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com"}).cfg->scrape.storage.path, "");
  auto empty = from_args({"--host", "abc.execute-api.us-east-1.amazonaws.com", "--storage.path="});
  EXPECT_FALSE(empty.cfg);

  auto file = parse_config("storage: {path: /from/file, max_age: 10m}\nroutes:\n  - upstream: https://x.example\n"
                           "    sigv4: {region: us-east-1, service: s3}\n",
                           env_of({}));
  ASSERT_TRUE(file.cfg) << format_errors(file.errors, "x");
  EXPECT_EQ(file.cfg->scrape.storage.path, "/from/file");
  EXPECT_EQ(file.cfg->scrape.storage.max_age, std::chrono::minutes(10));

  const std::string path = ::testing::TempDir() + "storage_flag.yaml";
  {
    std::ofstream out(path);
    out << "storage: {path: /from/file}\nroutes:\n  - upstream: https://x.example\n"
           "    sigv4: {region: us-east-1, service: s3}\n";
  }
  auto both = from_args({"--config", path, "--storage.path", "/from/flag"});
  ASSERT_TRUE(both.cfg) << format_errors(both.errors, "flags");
  EXPECT_EQ(both.cfg->scrape.storage.path, "/from/flag");
  EXPECT_EQ(from_args({"--config", path}).cfg->scrape.storage.path, "/from/file");
  std::remove(path.c_str());
}

TEST(config_file, logging_keys_and_duplicate_headers) {
  auto r = parse_config(R"(
log_signing: true
log_failed_requests: true
routes:
  - upstream: https://abc.execute-api.us-east-1.amazonaws.com
    duplicate_headers: [Authorization]
)",
                        env_of({}));
  ASSERT_TRUE(r.cfg) << format_errors(r.errors, "x");
  EXPECT_TRUE(r.cfg->log_signing);
  EXPECT_TRUE(r.cfg->log_failed_requests);
  EXPECT_EQ(r.cfg->routes[0].duplicate_headers, std::vector<std::string>{"authorization"});
  auto bad = parse_config("log_signing: maybe\nroutes: []\n", env_of({}));
  ASSERT_FALSE(bad.errors.empty());
  EXPECT_EQ(bad.errors[0].line, 1);
}

}  // namespace
}  // namespace sigv4::app
