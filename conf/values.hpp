#pragma once
// The vocabulary every config section shares (the proxy's and the scraper's): errors with lines, environment
// lookups, Prometheus-style durations and sizes, small word helpers, and the AWS host inference.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sigv4::conf {

using env_lookup = std::function<const char*(const char*)>;

struct config_error {
  int line = 0;  // 1-based; 0 = not tied to a line (a flag, or the file as a whole)
  std::string message;
};

// "SOURCE: line N: message" (or "SOURCE: message" for line 0), one per line; SOURCE is source_name, or
// "error" when source_name is empty.
std::string format_errors(std::span<const config_error> errors, std::string_view source_name);

// Prometheus-style durations ("500ms", "30s", "1h30m") and byte sizes ("16MiB", "512KiB", "1048576", "10MB").
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);
std::optional<std::size_t> parse_size(std::string_view s);

std::string lower(std::string_view s);
std::string_view strip_port(std::string_view host);

// 'text' in single quotes. Built by appending: `"'" + std::string(x) + "'"` trips GCC 12's bogus -Wrestrict
// (GCC bug 105329) at -O3.
inline std::string quote(std::string_view text) {
  std::string q;
  q.reserve(text.size() + 2);
  q += '\'';
  q.append(text);
  q += '\'';
  return q;
}

// The known word closest to `word`, when at most two edits away.
std::optional<std::string_view> closest_word(std::string_view word,
                                             const std::vector<std::string_view>& known);

struct inferred_sigv4 {
  std::string region;
  std::string service;
};
// Region and signing name from an AWS host: *.execute-api.R.amazonaws.com, aps-workspaces.R.amazonaws.com,
// SERVICE.R.amazonaws.com, SERVICE-fips.R.amazonaws.com, X.R.es.amazonaws.com, the .amazonaws.com.cn
// partition, and the global sts.amazonaws.com (us-east-1). nullopt when the host is not recognisably AWS.
std::optional<inferred_sigv4> infer_sigv4(std::string_view host);

}  // namespace sigv4::conf
