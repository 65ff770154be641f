#pragma once
// From discovered target groups to scrape targets, as Prometheus' PopulateLabels (scrape/target.go, 2.42):
// the job's defaults as labels (job, __scheme__, __metrics_path__, __scrape_interval__, __scrape_timeout__,
// __param_*), relabel_configs, the default port, the address check, instance = __address__, __meta_* gone.
// Pure: no I/O.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scraper/labels.hpp"
#include "scraper/relabel.hpp"

namespace sigv4::scraper {

// What PopulateLabels needs of a scrape job.
struct target_defaults {
  std::string job_name;
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds timeout{10000};
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::vector<std::pair<std::string, std::string>> params;  // in file order; a key may repeat
  const relabel_rules* relabel = nullptr;
};

struct scrape_target {
  labels discovered;  // before relabeling (the job's defaults included), as /api/v1/targets shows them
  labels all;         // after relabeling, the "__" labels included
  labels lbls;        // what every sample gets: `all` without the labels starting with "__"
  std::string scheme, address, metrics_path;
  std::chrono::milliseconds interval{0}, timeout{0};
  std::vector<std::pair<std::string, std::string>> params;  // the job's, overridden by __param_* labels

  // scheme://address/path?query, the query sorted by key as Go's url.Values.Encode.
  std::string url() const;
  // origin-form request target: path?query
  std::string request_target() const;
  // Identifies the target across reloads: the same labels and URL are the same target.
  std::uint64_t identity() const;
};

struct populate_result {
  std::optional<scrape_target> target;  // empty: dropped by relabeling, or an error
  labels discovered;                    // kept for dropped targets too
  std::string error;                    // non-empty: the target is invalid, and why
};

// One target of a group: the group's labels plus __address__ = address (a target's own labels win over
// the group's, as in TargetsFromGroup).
populate_result populate(const labels& group_labels, std::string_view address, const target_defaults& job);

// Prometheus' model.Duration.String(): "1m30s", "15s", "500ms", "0s".
std::string format_duration(std::chrono::milliseconds d);

// RFC 3986 percent-encoding as Go's url.QueryEscape (space as '+').
std::string query_escape(std::string_view s);

}  // namespace sigv4::scraper
