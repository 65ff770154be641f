#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sigv4::net {

// An absolute http(s) URL split into the parts a proxy needs. The target (path and query) is kept byte for
// byte as given, never decoded or re-encoded, because that is what gets signed and sent.
struct url {
  std::string scheme;  // "http" or "https", lower-case
  std::string host;    // lower-case; IPv6 literals keep their brackets
  std::uint16_t port = 0;
  std::string target;  // "/path?query"; "/" when the URL has no path

  bool default_port() const { return port == (scheme == "https" ? 443 : 80); }
  // The Host header value: host, plus ":port" when the port is not the scheme's default.
  std::string host_header() const;
};

struct url_error {
  std::string message;
};

// Parses scheme://host[:port][/path][?query]. User info and fragments are rejected: a signed request must
// not carry credentials in its URL, and a fragment is never sent.
std::optional<url> parse_url(std::string_view text, std::string* error = nullptr);

}  // namespace sigv4::net
