#pragma once
// Internals shared by the scraper config's files (config.cpp: top level, global, the Agent's shape;
// config_job.cpp: scrape jobs; config_remote.cpp: remote_write; config_client.cpp: the HTTP client blocks,
// sigv4, relabeling, labels). Not part of the public interface.
#include <string>
#include <string_view>
#include <vector>

#include "scraper/config.hpp"

namespace sigv4::scraper::detail {

using conf::yaml_reader;

// The HTTP client settings scrape jobs and remote_write share (Prometheus' inlined HTTPClientConfig).
struct http_client {
  tls_settings tls;
  std::optional<basic_auth_settings> basic_auth;
  std::optional<authorization_settings> authorization;
  bool follow_redirects = true;
  sigv4_settings sigv4;  // job-level `sigv4:`, or one nested in `authorization:` (an Agent guide writes that)
  int authorization_type_line = 0;
  bool authorization_has_credentials = false;
  bool sigv4_in_authorization = false;
  std::string bearer_token, bearer_token_file;  // folded into `authorization` by check_http_client
  int bearer_line = 0;
  int basic_auth_line = 0;
  int authorization_line = 0;
};

inline const std::vector<std::string_view> http_client_keys = {
    "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config", "follow_redirects",
    "enable_http2",
    // Refused by name (read_http_client_key says why).
    "oauth2", "proxy_url", "proxy_connect_header", "no_proxy", "proxy_from_environment"};

// One of http_client_keys; `where` names the block in messages ("scrape job 'x'").
void read_http_client_key(yaml_reader& r, std::string_view key, const YAML::Node& v, int line,
                          http_client& out);
// After the block: sigv4 against the other auth settings, and the Agent-guide warning.
void check_http_client(yaml_reader& r, http_client& c, int line);

void read_sigv4(yaml_reader& r, const YAML::Node& v, int line, sigv4_settings& out);

// A relabel_configs-like list: each entry read into a spec with Prometheus' defaults and compiled; compile
// errors at the entry's line. `target_relabel` adds the warning for `__*` target labels that mean nothing.
void read_relabel_list(yaml_reader& r, const YAML::Node& v, int line, std::string_view key,
                       bool target_relabel, std::vector<relabel_spec>& specs, relabel_rules& rules);

// A mapping of label name -> value (external_labels, a target group's labels), names checked.
void read_labels(yaml_reader& r, const YAML::Node& v, int line, std::string_view key, labels& out);

scrape_job read_job(yaml_reader& r, const YAML::Node& node, int line);
remote_write_settings read_remote(yaml_reader& r, const YAML::Node& node, int line);

std::string join(const std::vector<std::string_view>& words);

}  // namespace sigv4::scraper::detail
