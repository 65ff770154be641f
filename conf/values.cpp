// Value syntaxes shared by every config section: durations, sizes, words, and the AWS host -> (region,
// signing name) inference that proxy routes and scrape jobs both use.
#include "conf/values.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

namespace sigv4::conf {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  // A bare IPv6 address has several colons and no port to strip.
  auto colon = host.find(':');
  if (colon == std::string_view::npos || host.find(':', colon + 1) != std::string_view::npos) return host;
  return host.substr(0, colon);
}

std::optional<std::string_view> closest_word(std::string_view word,
                                             const std::vector<std::string_view>& known) {
  // Only a key within two edits is suggested, so each distance is computed only while it can still beat the best
  // so far: a length difference at or past it skips the candidate, and a row whose minimum reaches it ends the
  // rows. A long unknown key (a pasted value, a fuzzer's) then costs about its length per known key instead of
  // its length times the key's, and the two rows are allocated once.
  std::vector<std::size_t> prev, cur;
  auto distance_below = [&](std::string_view a, std::string_view b, std::size_t limit) {
    if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) >= limit) return limit;
    prev.resize(b.size() + 1);
    cur.resize(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      std::size_t row_min = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        row_min = std::min(row_min, cur[j]);
      }
      if (row_min >= limit) return limit;  // every later row is at least this row's minimum
      std::swap(prev, cur);
    }
    return std::min(prev[b.size()], limit);
  };
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (auto k : known) {
    auto d = distance_below(word, k, best_distance);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

namespace {

// Region labels look like us-east-1, ap-southeast-2, us-gov-west-1, cn-northwest-1: a two-letter prefix, one
// or more letter groups, a number.
bool is_region(std::string_view label) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto dash = label.find('-', start);
    parts.push_back(label.substr(start, dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (parts.size() < 3 || parts.front().size() != 2) return false;
  auto letters = [](std::string_view p) {
    return !p.empty() && std::ranges::all_of(p, [](char c) { return c >= 'a' && c <= 'z'; });
  };
  auto digits = [](std::string_view p) {
    return !p.empty() && std::ranges::all_of(p, [](char c) { return c >= '0' && c <= '9'; });
  };
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!letters(parts[i])) return false;
  }
  return digits(parts.back());
}

bool is_service_label(std::string_view label) {
  return !label.empty() && std::ranges::all_of(label, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Endpoint prefix -> signing name, where they differ.
std::string signing_name(std::string_view endpoint_prefix) {
  if (endpoint_prefix.ends_with("-fips")) endpoint_prefix.remove_suffix(5);
  if (endpoint_prefix == "aps-workspaces") return "aps";
  return std::string(endpoint_prefix);
}

}  // namespace

std::optional<inferred_sigv4> infer_sigv4(std::string_view host_in) {
  std::string host = lower(strip_port(host_in));
  if (host.ends_with('.')) host.pop_back();
  std::string_view rest = host;
  if (rest.ends_with(".amazonaws.com")) {
    rest.remove_suffix(std::string_view(".amazonaws.com").size());
  } else if (rest.ends_with(".amazonaws.com.cn")) {
    rest.remove_suffix(std::string_view(".amazonaws.com.cn").size());
  } else {
    return std::nullopt;
  }
  if (rest == "sts") return inferred_sigv4{"us-east-1", "sts"};

  std::vector<std::string_view> labels;
  for (std::size_t start = 0;;) {
    auto dot = rest.find('.', start);
    labels.push_back(rest.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // The rightmost region label; the service sits just before it (SERVICE.R, *.execute-api.R), or just after
  // it in the OpenSearch style (X.R.es). Interface endpoints add "vpce" after the region, dual-stack hosts
  // "dualstack" before it; neither is the service.
  for (std::size_t i = labels.size(); i-- > 0;) {
    if (!is_region(labels[i])) continue;
    bool after_is_vpce = i + 1 < labels.size() && labels[i + 1] == "vpce";
    if (i + 1 < labels.size() && !after_is_vpce) {
      if (i + 2 != labels.size() || !is_service_label(labels[i + 1])) return std::nullopt;
      return inferred_sigv4{std::string(labels[i]), std::string(labels[i + 1])};
    }
    std::size_t s = i;
    if (s > 0 && labels[s - 1] == "dualstack") --s;
    if (s == 0 || !is_service_label(labels[s - 1])) return std::nullopt;
    return inferred_sigv4{std::string(labels[i]), signing_name(labels[s - 1])};
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  if (s == "0") return std::chrono::milliseconds{0};
  struct unit {
    std::string_view suffix;
    std::int64_t ms;
  };
  // Prometheus order: each unit at most once, largest first.
  constexpr std::array<unit, 7> units = {{{"y", 365LL * 24 * 3600 * 1000},
                                          {"w", 7LL * 24 * 3600 * 1000},
                                          {"d", 24LL * 3600 * 1000},
                                          {"h", 3600LL * 1000},
                                          {"ms", 1},
                                          {"m", 60LL * 1000},
                                          {"s", 1000}}};
  // Position of each unit in the required order (ms is last, though matched before m).
  constexpr std::array<int, 7> rank = {0, 1, 2, 3, 6, 4, 5};
  if (s.empty()) return std::nullopt;
  std::int64_t total = 0;
  int last_rank = -1;
  while (!s.empty()) {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
    s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
    std::size_t k = 0;
    while (k < units.size() && !s.starts_with(units[k].suffix)) ++k;
    if (k == units.size() || rank[k] <= last_rank) return std::nullopt;
    last_rank = rank[k];
    s.remove_prefix(units[k].suffix.size());
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    if (n > static_cast<std::uint64_t>(max / units[k].ms)) return std::nullopt;
    auto part = static_cast<std::int64_t>(n) * units[k].ms;
    if (total > max - part) return std::nullopt;
    total += part;
  }
  return std::chrono::milliseconds{total};
}

std::optional<std::size_t> parse_size(std::string_view s) {
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
  std::string suffix = lower(s.substr(static_cast<std::size_t>(ptr - s.data())));
  struct unit {
    std::string_view suffix;
    std::uint64_t factor;
  };
  constexpr std::array<unit, 10> units = {{{"", 1},
                                           {"b", 1},
                                           {"kb", 1000},
                                           {"mb", 1000 * 1000},
                                           {"gb", 1000 * 1000 * 1000},
                                           {"tb", 1000ULL * 1000 * 1000 * 1000},
                                           {"kib", 1ULL << 10},
                                           {"mib", 1ULL << 20},
                                           {"gib", 1ULL << 30},
                                           {"tib", 1ULL << 40}}};
  auto it = std::ranges::find(units, std::string_view(suffix), &unit::suffix);
  if (it == units.end()) return std::nullopt;
  if (n > std::numeric_limits<std::size_t>::max() / it->factor) return std::nullopt;
  return static_cast<std::size_t>(n * it->factor);
}

std::string format_errors(std::span<const config_error> errors, std::string_view source_name) {
  std::string prefix = source_name.empty() ? "error" : std::string(source_name);
  std::string out;
  for (const auto& e : errors) {
    out += prefix + ": ";
    if (e.line > 0) out += "line " + std::to_string(e.line) + ": ";
    out += e.message + "\n";
  }
  return out;
}

}  // namespace sigv4::conf
