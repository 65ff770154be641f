#pragma once
// The scraper's section of the sidecar's config file: Prometheus' `global`, `scrape_configs` and
// `remote_write` (a subset of 2.42's, with `sigv4:` also allowed in a scrape job), or Grafana Agent's static
// mode `metrics:` block. Read with conf::yaml_reader, so every error and warning names its line; the proxy's
// top-level reader hands the scraper's keys here. No I/O: file_sd files are read at run time.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/values.hpp"
#include "conf/yaml_reader.hpp"
#include "scraper/labels.hpp"
#include "scraper/queue.hpp"
#include "scraper/relabel.hpp"

namespace sigv4::scraper {

using namespace std::chrono_literals;

struct tls_settings {
  std::string ca_file, cert_file, key_file, server_name;
  bool insecure_skip_verify = false;
};

struct basic_auth_settings {
  std::string username, password, password_file;
};

struct authorization_settings {
  std::string type = "Bearer";
  std::string credentials, credentials_file;
};

struct sigv4_settings {
  bool enabled = false;
  // Empty region/service: a scrape job infers them per target host at run time (conf::infer_sigv4); a
  // remote_write has them filled in by the reader (service "aps", region from the URL host).
  std::string region, service;
  std::string access_key, secret_key;  // discouraged: they load with a warning
  std::string profile, role_arn, external_id;
  int line = 0;
};

struct target_group {
  std::vector<std::string> targets;  // "host[:port]"
  labels lbls;
  std::string source;  // the group's index in static_configs, as Prometheus names it
  int line = 0;
};

struct file_sd_settings {
  std::vector<std::string> files;  // paths, the last element may hold one '*'
  std::chrono::milliseconds refresh_interval{5min};
  int line = 0;
};

struct scrape_job {
  std::string job_name;
  // 0 in the file means "inherit"; after reading they hold the effective values (Prometheus' Validate).
  std::chrono::milliseconds scrape_interval{0};
  std::chrono::milliseconds scrape_timeout{0};
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::vector<std::pair<std::string, std::string>> params;  // in file order; a name may repeat
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::size_t sample_limit = 0;  // 0 = no limit, for every limit below
  std::size_t target_limit = 0;
  std::size_t label_limit = 0;
  std::size_t label_name_length_limit = 0;
  std::size_t label_value_length_limit = 0;
  std::size_t body_size_limit = 0;  // bytes
  std::vector<target_group> static_configs;
  std::vector<file_sd_settings> file_sd;
  std::vector<relabel_spec> relabel_configs;
  std::vector<relabel_spec> metric_relabel_configs;
  relabel_rules relabel;         // relabel_configs compiled (set only when the whole config is valid)
  relabel_rules metric_relabel;  // metric_relabel_configs compiled
  tls_settings tls;
  std::optional<basic_auth_settings> basic_auth;
  std::optional<authorization_settings> authorization;  // bearer_token(_file) land here too
  bool follow_redirects = true;
  sigv4_settings sigv4;
  int line = 0;
};

struct remote_write_settings {
  std::string url;  // http(s) with a host; parsed by the sender
  std::string name;
  std::chrono::milliseconds remote_timeout{30s};
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<relabel_spec> write_relabel_configs;
  relabel_rules write_relabel;
  queue_settings queue;
  sigv4_settings sigv4;
  tls_settings tls;
  std::optional<basic_auth_settings> basic_auth;
  std::optional<authorization_settings> authorization;
  bool follow_redirects = true;
  int line = 0;
};

// Each instance's jobs send only to that instance's remotes. The Prometheus shape is one instance named
// "default"; Grafana Agent's metrics.configs[] are several.
struct instance {
  std::string name;
  std::vector<scrape_job> jobs;
  std::vector<remote_write_settings> remotes;
  int line = 0;
};

struct global_settings {
  std::chrono::milliseconds scrape_interval{1min};
  std::chrono::milliseconds scrape_timeout{10s};
  labels external_labels;
  int line = 0;
};

// `storage:` (and the --storage.path flag, which wins): the durable spool behind remote_write. No path: the
// samples wait in memory only, and what is undelivered at exit is lost.
struct storage_settings {
  std::string path;
  std::uint64_t max_bytes = 0;  // 0: no limit
  // What AMP still accepts (spool.hpp's settings::max_age says where that comes from); 0: no limit.
  std::chrono::milliseconds max_age{1h};
  int line = 0;
};

struct scraper_config {
  global_settings global;
  std::vector<instance> instances;
  storage_settings storage;
  std::string wal_directory;  // Grafana Agent's metrics.wal_directory: finish() makes it storage.path
  int wal_directory_line = 0;

  // Which shape the file used (the line of its first key), so that mixing them is an error.
  int prometheus_line = 0;
  int agent_line = 0;
  // The agent's metrics.global.remote_write, given to instances that have none of their own.
  std::vector<remote_write_settings> agent_global_remotes;
  // Set by the reader while reading the file; finish() turns them into the effective values.
  std::chrono::milliseconds raw_interval{0}, raw_timeout{0};

  bool empty() const;  // no scrape job and no remote_write
  std::size_t job_count() const;
  std::size_t remote_count() const;
};

// The top-level keys the scraper owns: its own, and those of a whole Prometheus file that mean nothing here
// (they load with a warning).
inline constexpr std::string_view top_level_keys[] = {"global",      "scrape_configs", "remote_write",
                                                      "metrics",     "rule_files",     "alerting",
                                                      "remote_read", "storage",        "tracing"};

// Reads one top-level key.
void read_top_level_key(conf::yaml_reader& r, std::string_view key, const YAML::Node& value, int line,
                        scraper_config& cfg);

// After every top-level key: inheritance from global (Prometheus' and the Agent's rules), the agent's global
// remote_write, then check().
void finish(conf::yaml_reader& r, scraper_config& cfg);

// Whole-section checks: the shapes are not mixed, job names unique per instance (Prometheus) and instance
// names unique (Agent), remote_write names unique, timeouts within intervals.
void check(const scraper_config& cfg, std::vector<conf::config_error>& errors);

// Prometheus' units.Base2Bytes: a number and a unit from B, KB/KiB ... EB/EiB, all powers of 1024 ("10MB"
// is 10 MiB, as in Prometheus), case-sensitive; "0" alone is allowed.
std::optional<std::size_t> parse_base2_bytes(std::string_view s);

}  // namespace sigv4::scraper
