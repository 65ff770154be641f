#pragma once
// Connections to one upstream (scheme, host, port) and the keep-alive pool that holds the idle ones.
// The pool is a small state holder guarded by a mutex: connections are taken out for the length of one
// exchange and given back only when the exchange left them reusable.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "net/timed_socket.hpp"
#include "net/tls_stream.hpp"
#include "obs/metrics.hpp"

namespace sigv4::net {

struct upstream_key {
  std::string scheme;  // http | https
  std::string host;    // lower-case; IPv6 in brackets
  std::uint16_t port = 0;
  std::string tls_name;  // name for SNI and certificate checks when it differs from host (connect_to)
  auto operator<=>(const upstream_key&) const = default;
  std::string to_string() const;  // "https://host:port"
};

enum class failure_kind { resolve, refused, connect_timeout, tls, reset, timeout, closed, protocol };
std::string_view to_string(failure_kind k);

struct failure {
  failure_kind kind;
  std::string message;  // one line, safe to show to the client and to log
};

struct connection {
  using plain_stream = timed_socket;
  using tls_stream = tls_socket;  // OpenSSL straight on the socket: no BIO pair, no engine buffers

  connection(plain_stream s, obs::gauge* open);
  connection(tls_stream s, obs::gauge* open);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  boost::asio::ip::tcp::socket& socket();
  // Bound the next upstream operations (a timeout completes them with beast::error::timeout; the connection is
  // then not reused), or lift the bound (pooled connections).
  void expires_after(std::chrono::steady_clock::duration d);
  void expires_never();
  // False when the peer has closed or sent something unsolicited while the connection sat idle.
  bool looks_reusable();

  std::variant<plain_stream, tls_stream> stream;
  boost::beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since{};
  std::uint64_t exchanges = 0;

 private:
  obs::gauge* open_;
};

struct pool_settings {
  std::size_t max_idle = 64;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
};

struct pool_metrics {
  obs::gauge* open = nullptr;
  obs::gauge* idle = nullptr;
};

class upstream_pool {
 public:
  // tls is null for http upstreams; it must outlive the pool.
  upstream_pool(upstream_key key, boost::asio::ssl::context* tls, pool_settings settings, pool_metrics metrics);
  ~upstream_pool();

  const upstream_key& key() const { return key_; }

  // An idle connection (reused = true), or nullptr when none is fit for use.
  std::unique_ptr<connection> take_idle();
  // Opens a new connection: resolve, TCP connect and, for https, a verified TLS handshake with SNI, all
  // within connect_timeout. On failure returns nullptr and fills err.
  boost::asio::awaitable<std::unique_ptr<connection>> connect(failure& err);
  // Gives back a connection whose last exchange finished cleanly and left it open.
  void release(std::unique_ptr<connection> c);
  // Closes idle connections older than idle_timeout.
  void sweep();
  void update_settings(const pool_settings& s);
  std::size_t idle_count() const;

 private:
  std::unique_ptr<connection> take_idle_locked();

  upstream_key key_;
  boost::asio::ssl::context* tls_;
  pool_metrics metrics_;
  mutable std::mutex mutex_;
  pool_settings settings_;
  std::vector<std::unique_ptr<connection>> idle_;  // most recently used at the back
};

}  // namespace sigv4::net
