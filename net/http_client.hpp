#pragma once
// A one-shot HTTP(S) request: resolve, connect, (TLS), send, read the whole response, close. For the
// credential providers (IMDS, container endpoint, STS), which make a few small requests an hour and must
// fail fast: one deadline covers the whole exchange.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sigv4::net {

struct http_request {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{1000};  // the whole exchange, connect included
};

struct http_response {
  int status = 0;     // 0: no HTTP answer at all; `error` says why
  std::string error;  // transport failure: refused, timed out, TLS, malformed
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string header(std::string_view name) const;  // case-insensitive; "" if absent
};

// tls may be null for http:// URLs; an https:// URL without it is an error. The response body is capped
// at max_body bytes (an error beyond).
boost::asio::awaitable<http_response> fetch(http_request request, boost::asio::ssl::context* tls,
                                            std::size_t max_body = 1 << 20);

}  // namespace sigv4::net
