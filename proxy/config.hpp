#pragma once
// The proxy's configuration: the YAML file (yaml-cpp), the aws-sigv4-proxy drop-in flags, and the checks that
// turn either into a config the proxy can run, or into errors that name their line.
#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/values.hpp"
#include "net/url.hpp"
#include "scraper/config.hpp"

namespace sigv4::app {

using namespace std::chrono_literals;
using env_lookup = conf::env_lookup;
using config_error = conf::config_error;
using conf::format_errors;
using conf::infer_sigv4;
using conf::inferred_sigv4;
using conf::parse_duration;
using conf::parse_size;

struct sigv4_config {
  std::string region;   // inferred from the upstream host when the file leaves it out
  std::string service;  // likewise
  bool unsigned_payload = false;
  std::vector<std::string> sign_headers;  // extra headers to sign (lower-case), on top of the default policy
  // Assume this role (STS AssumeRole, signed with the `credentials:` identity) for this route only.
  std::string role_arn;
  std::string external_id;
  // Sign with this profile's credentials (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE) instead of the
  // `credentials:` identity; role_arn, if any, is assumed with them. Own refresher.
  std::string profile;
};

struct route_config {
  std::string name;                // defaults to "route-N" (N = 1-based index)
  std::string path_prefix = "/";   // request path must start with this
  std::string host;                // incoming Host to match, lower-case, port ignored; empty = any
  net::url upstream;               // where to send; its path replaces the matched path_prefix
  std::string sign_host;           // Host sent upstream and signed; empty = upstream.host_header()
  sigv4_config sigv4;
  std::vector<std::string> strip_headers;                         // lower-case; removed before signing
  // aws-sigv4-proxy's --duplicate-headers: copy each to "X-Original-<Name>" before stripping (lower-case).
  std::vector<std::string> duplicate_headers;
  std::vector<std::pair<std::string, std::string>> add_headers;   // set before signing (and signed if policy says)
  // "host:port" to open connections to instead of the upstream URL's host (a VPC endpoint, a test server);
  // Host, SNI, certificate checks and signing still use the upstream URL's host. Empty = none.
  std::string connect_to;
  int line = 0;                    // 1-based line of the route in the file; 0 when it came from flags
};

struct forward_proxy_config {
  // Hosts a client may reach with an absolute-form request (Prometheus proxy_url): "host" (exact) or
  // "*.suffix" (any host ending in ".suffix"). Lower-case. Empty = forward-proxy mode off.
  std::vector<std::string> allow;
  std::string upstream_scheme = "https";
  std::string connect_to;  // as in route_config, for every allowed host
};

struct limits_config {
  std::size_t max_request_body = 16u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_connections = 1024;
};

struct timeouts_config {
  std::chrono::milliseconds client_header = 10s;   // whole request header must arrive within this
  std::chrono::milliseconds client_body = 60s;     // whole request body
  std::chrono::milliseconds client_idle = 60s;     // keep-alive wait for the next request
  std::chrono::milliseconds upstream_connect = 5s; // TCP + TLS handshake
  std::chrono::milliseconds upstream_response_header = 60s;
  std::chrono::milliseconds upstream_idle = 30s;   // pooled connection lifetime while idle
  std::chrono::milliseconds shutdown_grace = 15s;
  // After an early error (413, 431, 400, 408, 503) the client may still be sending: keep reading and
  // discarding for at most this long (and at most 64 MiB) so that the kernel does not reset the
  // connection over unread bytes before the client has read the answer (nginx's lingering_close). 0: close.
  std::chrono::milliseconds lingering_close = 5s;
};

struct tls_config {
  std::string ca_file;               // empty = system store
  bool insecure_skip_verify = false; // --no-verify-ssl
};

// Where the base identity comes from. "default" walks the SDKs' chain; any other source is the only one tried.
struct credentials_config {
  std::string source = "default";  // default, environment, profile, web_identity, container, imds
  std::string profile;             // for default and profile: the profile to read (empty: AWS_PROFILE, else default)
  std::string role_arn;            // assume this role on top of the source, for every route
  std::string external_id;
  std::string session_name;        // empty: sigv4-sidecar-<unix seconds>
  std::optional<std::chrono::seconds> duration;  // AssumeRole DurationSeconds; empty: STS's default (1 h)
  std::string sts_region;          // region of the STS endpoint; empty: AWS_REGION, then the first route's region
  bool imds_v1_fallback = false;   // allow IMDSv1 when the IMDSv2 token PUT fails
  int line = 0;
};
inline constexpr std::string_view credential_sources[] = {"default", "environment", "profile", "web_identity",
                                                           "container", "imds"};

struct pool_config {
  std::size_t max_idle_per_upstream = 64;
};

struct config {
  std::string listen = "127.0.0.1:8005";
  std::string admin_listen = "127.0.0.1:8006";
  std::string log_level = "info";      // debug, info, warn, error
  std::string log_format = "logfmt";   // logfmt, json
  int threads = 0;                     // 0 = number of cores, at most 2
  int busy_poll_us = -1;  // longest spin of an idle worker before it sleeps; 0 = never; -1 = 200 unless a CPU
                          // limit leaves less than one core per worker (then 0): see proxy/cpu_limit.hpp
  bool log_failed_requests = false;    // log upstream 4xx/5xx answers (status, route) at warn
  bool log_signing = false;            // log each canonical request and string to sign (token redacted)
  limits_config limits;
  timeouts_config timeouts;
  tls_config tls;
  pool_config pool;
  credentials_config credentials;
  std::vector<route_config> routes;
  forward_proxy_config forward_proxy;
  // global, scrape_configs, remote_write or metrics: the bundled scraper's section (scraper/config.hpp).
  scraper::scraper_config scrape;
};

struct config_result {
  std::optional<config> cfg;  // set only when errors is empty
  std::vector<config_error> errors;
  std::vector<config_error> warnings;  // keys that load but mean nothing here, discouraged settings
};

// Parses YAML text. ${VAR} expands from env; an unset variable is an error. Unknown keys are errors.
config_result parse_config(std::string_view yaml_text, const env_lookup& env);
config_result load_config_file(const std::string& path, const env_lookup& env);

// Whether a forward-proxy host (lower-case, no port) is allowed by the allowlist.
bool host_allowed(const forward_proxy_config& fp, std::string_view host);

// The command line of the `run` mode (args after the program name): --config FILE plus the aws-sigv4-proxy
// drop-in flags and ours. Flags override the file's top-level settings; --host appends a route.
struct cli_result {
  std::optional<config> cfg;
  std::vector<config_error> errors;  // line > 0 only for errors inside the --config file
  std::string config_path;           // empty when no --config (SIGHUP then has nothing to reload)
  std::vector<config_error> warnings = {};  // the file's: logged at start and on reload, never fatal
};
cli_result config_from_args(std::span<const std::string_view> args, const env_lookup& env);

// `sigv4-sidecar check-config FILE`: prints every error with its line to err; exit 1 if any, 0 if none.
// Warnings go to err too ("FILE: line N: warning: ...") and do not fail the check.
int run_check_config(std::span<const std::string_view> args, std::ostream& out, std::ostream& err,
                     const env_lookup& env);

}  // namespace sigv4::app
