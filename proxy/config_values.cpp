// Value syntaxes of the config: durations, sizes, listen addresses, header names, allowlist entries, and the
// AWS host → (region, signing name) inference.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

#include "proxy/config_detail.hpp"

namespace sigv4::app {
namespace detail {

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

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return std::ranges::all_of(name, [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
  });
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  if (host.starts_with('[')) {
    if (host.size() < 3 || !host.ends_with(']')) return false;
    return std::ranges::all_of(host.substr(1, host.size() - 2), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
             c == '.';
    });
  }
  return std::ranges::all_of(host, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

bool valid_host_and_port(std::string_view s) {
  auto host = strip_port(s);
  auto port = s.substr(host.size());
  if (!valid_host(host)) return false;
  if (port.empty()) return true;
  port.remove_prefix(1);  // the ':'
  return !port.empty() && port.size() <= 5 &&
         std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> connect_to_problem(std::string_view s) {
  auto host = strip_port(s);
  if (host.size() == s.size() || !valid_host_and_port(s) || s.ends_with(":0")) {
    return "'connect_to' must be host:port (e.g. 10.0.0.5:443 or [::1]:8443), not '" + std::string(s) + "'";
  }
  return std::nullopt;
}

std::optional<std::string> normalize_listen(std::string_view s, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::string> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  std::string_view host, port;
  if (s.starts_with('[')) {
    auto close = s.find(']');
    if (close == std::string_view::npos || s.substr(close + 1, 1) != ":") {
      return fail("listen address '" + std::string(s) + "' must look like [v6]:port");
    }
    host = s.substr(0, close + 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return fail("listen address '" + std::string(s) + "' must be host:port or :port (e.g. :8005)");
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("listen address '" + std::string(s) +
                  "': put an IPv6 address in brackets, e.g. [::1]:8005");
    }
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
    return fail("listen address '" + std::string(s) + "' has an invalid port '" + std::string(port) + "'");
  }
  // ":port" means loopback, unlike Go's all-interfaces reading: a signing proxy open to the network would
  // lend its credentials to anyone who can reach it.
  if (host.empty()) return "127.0.0.1:" + std::string(port);
  if (!valid_host(host)) return fail("listen address '" + std::string(s) + "' has an invalid host");
  return lower(host) + ":" + std::string(port);
}

bool valid_log_level(std::string_view s) {
  return s == "debug" || s == "info" || s == "warn" || s == "error";
}

bool valid_log_format(std::string_view s) {
  return s == "logfmt" || s == "json";
}

std::optional<std::string> allow_entry_problem(std::string_view entry) {
  if (entry.empty()) return "forward_proxy.allow entry is empty";
  std::string_view rest = entry.starts_with("*.") ? entry.substr(2) : entry;
  if (rest.empty()) return "forward_proxy.allow entry '*.' has no domain after the wildcard";
  if (rest.find_first_of("/:") != std::string_view::npos) {
    return "forward_proxy.allow entry '" + std::string(entry) +
           "' must be a host name, without scheme, port or path";
  }
  if (rest.find('*') != std::string_view::npos) {
    return "forward_proxy.allow entry '" + std::string(entry) +
           "': only a leading '*.' wildcard is supported";
  }
  if (!valid_host(rest) || rest.starts_with('.') || rest.ends_with('.')) {
    return "forward_proxy.allow entry '" + std::string(entry) + "' is not a valid host name";
  }
  return std::nullopt;
}

std::optional<std::string> added_header_problem(std::string_view lower_name) {
  constexpr std::array<std::string_view, 4> signer_owned = {"authorization", "x-amz-date",
                                                            "x-amz-security-token", "x-amz-content-sha256"};
  constexpr std::array<std::string_view, 4> framing = {"content-length", "transfer-encoding", "connection",
                                                       "upgrade"};
  if (lower_name == "host") return std::string("set the upstream Host with sign_host, not a header");
  if (std::ranges::find(signer_owned, lower_name) != signer_owned.end()) {
    return "header '" + std::string(lower_name) + "' is written by the signer and cannot be set";
  }
  if (std::ranges::find(framing, lower_name) != framing.end()) {
    return "header '" + std::string(lower_name) + "' controls HTTP framing and cannot be set";
  }
  return std::nullopt;
}

std::optional<std::string_view> closest_word(std::string_view word,
                                             const std::vector<std::string_view>& known) {
  // Levenshtein distance, two rows; words here are short keys.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  for (auto k : known) {
    auto d = distance(word, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace detail

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

// Endpoint prefix → signing name, where they differ.
std::string signing_name(std::string_view endpoint_prefix) {
  if (endpoint_prefix.ends_with("-fips")) endpoint_prefix.remove_suffix(5);
  if (endpoint_prefix == "aps-workspaces") return "aps";
  return std::string(endpoint_prefix);
}

}  // namespace

std::optional<inferred_sigv4> infer_sigv4(std::string_view host_in) {
  std::string host = detail::lower(detail::strip_port(host_in));
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

bool host_allowed(const forward_proxy_config& fp, std::string_view host_in) {
  std::string host = detail::lower(detail::strip_port(host_in));
  // "example.com." names the same host as "example.com"; matching it keeps the allowlist from being bypassed
  // or surprising in either direction.
  if (host.ends_with('.')) host.pop_back();
  if (host.empty()) return false;
  for (const auto& entry : fp.allow) {
    std::string pattern = detail::lower(entry);
    if (pattern.starts_with("*.")) {
      std::string_view suffix = std::string_view(pattern).substr(1);  // ".suffix"
      if (host.size() > suffix.size() && host.ends_with(suffix)) return true;
    } else if (host == pattern) {
      return true;
    }
  }
  return false;
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
  std::string suffix = detail::lower(s.substr(static_cast<std::size_t>(ptr - s.data())));
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

}  // namespace sigv4::app
