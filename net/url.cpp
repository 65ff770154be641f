#include "net/url.hpp"

#include <charconv>

namespace sigv4::net {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

std::optional<url> fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::string url::host_header() const {
  if (default_port()) return host;
  return host + ":" + std::to_string(port);
}

std::optional<url> parse_url(std::string_view text, std::string* error) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail(error, "URL must start with http:// or https://");
  url u;
  u.scheme = lower(text.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    return fail(error, "unsupported URL scheme '" + u.scheme + "' (use http or https)");
  }
  auto rest = text.substr(sep + 3);
  auto authority_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, authority_end);
  auto target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return fail(error, "URL must not contain user info");
  if (target.find('#') != std::string_view::npos) return fail(error, "URL must not contain a fragment");
  for (char c : target) {
    if (c == '\r' || c == '\n' || c == '\0') return fail(error, "URL contains a control character");
  }

  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, "unterminated IPv6 address in URL");
    host = authority.substr(0, close + 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, "unexpected text after IPv6 address in URL");
      port = after.substr(1);
    }
    for (char c : host.substr(1, host.size() - 2)) {
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) return fail(error, "invalid IPv6 address in URL");
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    for (char c : lower(host)) {
      if (!valid_host_char(c)) return fail(error, "invalid character in URL host");
    }
  }
  if (host.empty() || host == "[]") return fail(error, "URL has no host");
  u.host = lower(host);

  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return fail(error, "invalid port '" + std::string(port) + "' in URL");
    }
    u.port = static_cast<std::uint16_t>(value);
  }

  if (target.empty() || target.front() == '?') u.target.push_back('/');
  u.target.append(target);
  return u;
}

}  // namespace sigv4::net
