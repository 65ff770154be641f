#pragma once
// file_sd_configs: target groups from JSON or YAML files, as Prometheus' discovery/file reads them
// ([{targets: [...], labels: {...}}], __meta_filepath on every group, the file's extension picks the format).
// Reading and globbing are here; when to re-read (a changed file, refresh_interval) is the manager's.
#include <cstdint>
#include <string>
#include <vector>

#include "scraper/config.hpp"

namespace sigv4::scraper {

struct file_sd_result {
  std::vector<target_group> groups;
  std::string error;  // non-empty: the file is invalid (its previous groups are kept by the caller)
};

// Parses one file's content. `path` names the file in errors and in __meta_filepath.
file_sd_result parse_file_sd(const std::string& path, const std::string& content);

// The files the patterns name now (a '*' in the last path element globs), sorted.
std::vector<std::string> expand_file_sd(const std::vector<std::string>& patterns);

// A cheap change stamp of a file (mtime and size); 0 when it cannot be read.
std::uint64_t file_stamp(const std::string& path);

}  // namespace sigv4::scraper
