// Value syntaxes of the proxy's config: listen addresses, header names, allowlist entries (the shared ones,
// durations, sizes and the AWS host inference, are in conf/values.cpp).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

#include "proxy/config_detail.hpp"
#include "signer/types.hpp"

namespace sigv4::app {
namespace detail {

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
  constexpr std::array<std::string_view, 4> framing = {"content-length", "transfer-encoding", "connection",
                                                       "upgrade"};
  if (lower_name == "host") return std::string("set the upstream Host with sign_host, not a header");
  if (std::ranges::find(signer_written_headers, lower_name) != signer_written_headers.end()) {
    return "header '" + std::string(lower_name) + "' is written by the signer and cannot be set";
  }
  if (std::ranges::find(framing, lower_name) != framing.end()) {
    return "header '" + std::string(lower_name) + "' controls HTTP framing and cannot be set";
  }
  return std::nullopt;
}

}  // namespace detail

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

}  // namespace sigv4::app
