#pragma once
// One HTTP/1.1 request and its whole response over a keep-alive pool: what the scraper (GET a page) and the
// remote-write sender (POST a batch) need. Unlike net::fetch it reuses connections, and unlike the proxy's
// forwarding it buffers the response body (bounded), because both callers use it whole.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/upstream.hpp"

namespace sigv4::net {

struct client_request {
  std::string_view method = "GET";
  std::string_view target = "/";  // origin-form, sent as given
  // Every header to send, Host included; Content-Length is added for a body.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct client_limits {
  std::chrono::steady_clock::time_point deadline;  // the whole exchange, connecting included
  std::size_t max_body = 0;                        // 0 = no limit
};

struct client_response {
  int status = 0;                // 0 with `error` set: no usable HTTP answer
  std::optional<failure> error;  // transport failure, timeout, or a body over the limit
  bool body_too_large = false;   // error is set too
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Case-insensitive; "" if absent.
  std::string_view header(std::string_view name) const;
};

// Takes an idle connection (or opens one), sends, reads the response. A reused connection that fails before
// any response byte is retried once on a fresh one (the peer may have closed it while idle); the connection
// goes back to the pool only when the exchange left it clean and keep-alive.
boost::asio::awaitable<client_response> round_trip(upstream_pool& pool, const client_request& request,
                                                   client_limits limits);

}  // namespace sigv4::net
