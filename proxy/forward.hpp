#pragma once
// Signing and forwarding one request, and the error answers the proxy gives itself.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "creds/store.hpp"
#include "net/timed_socket.hpp"
#include "proxy/hashing_body.hpp"
#include "proxy/routing.hpp"

namespace sigv4::app {

struct worker;

struct request_context {
  worker& w;
  std::shared_ptr<const runtime> rt;
  net::timed_socket& client;
  std::chrono::steady_clock::time_point start;
  std::string route_name;
  unsigned version = 11;
  bool head = false;
  bool client_keep_alive = true;  // cleared when the connection must close after this response
  std::size_t bytes_in = 0;
};

// Writes a short text/plain answer (one line, the reason) to a client. version is the client's HTTP version.
boost::asio::awaitable<void> send_error(net::timed_socket& client, int status, std::string reason,
                                        bool keep_alive, unsigned version);

// send_error plus the request metrics and a log line.
boost::asio::awaitable<void> finish_with_error(request_context& ctx, int status, std::string reason,
                                               bool keep_alive);

// Strips, signs and sends `req` to the decided upstream and relays the response. Never sends the request
// unsigned. Clears ctx.client_keep_alive when the client connection cannot be reused.
boost::asio::awaitable<void> forward(request_context& ctx, const decision& d,
                                     boost::beast::http::request<hashing_body> req, const std::string& payload_hash,
                                     const creds::snapshot& creds);

}  // namespace sigv4::app
