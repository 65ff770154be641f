#include "net/upstream.hpp"

#include "net/socket_peek.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <optional>

namespace sigv4::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string upstream_key::to_string() const { return scheme + "://" + host + ":" + std::to_string(port); }

std::string_view to_string(failure_kind k) {
  switch (k) {
    case failure_kind::resolve: return "resolve";
    case failure_kind::refused: return "refused";
    case failure_kind::connect_timeout: return "connect_timeout";
    case failure_kind::tls: return "tls";
    case failure_kind::reset: return "reset";
    case failure_kind::timeout: return "timeout";
    case failure_kind::closed: return "closed";
    case failure_kind::protocol: return "protocol";
  }
  return "unknown";
}

// Beast reads at most the buffer's spare capacity (and at least 512 bytes): reserve enough that a typical
// response arrives in one read instead of 512-byte slices.
constexpr std::size_t read_buffer_bytes = 16 * 1024;  // one full TLS record

connection::connection(plain_stream s, obs::gauge* open) : stream(std::move(s)), open_(open) {
  buffer.reserve(read_buffer_bytes);
  if (open_ != nullptr) open_->add(1);
}
connection::connection(tls_stream s, obs::gauge* open) : stream(std::move(s)), open_(open) {
  buffer.reserve(read_buffer_bytes);
  if (open_ != nullptr) open_->add(1);
}
connection::~connection() {
  if (open_ != nullptr) open_->add(-1);
}

tcp::socket& connection::socket() {
  if (auto* p = std::get_if<plain_stream>(&stream)) return p->socket();
  return std::get<tls_stream>(stream).socket();
}

void connection::expires_after(std::chrono::steady_clock::duration d) {
  std::visit([d](auto& s) { s.expires_after(d); }, stream);
}

void connection::expires_never() {
  std::visit([](auto& s) { s.expires_never(); }, stream);
}

bool connection::looks_reusable() {
  // TLS: records may be waiting that are no reason to drop the connection (session tickets); see idle_ok.
  if (auto* t = std::get_if<tls_stream>(&stream)) return t->idle_ok();
  auto& sock = socket();
  // Nothing to read is the only healthy state for an idle HTTP connection: EOF means the peer closed it, and
  // bytes mean a stray response.
  return sock.is_open() && peek_socket(sock.native_handle()) == peeked::nothing;
}

upstream_pool::upstream_pool(upstream_key key, asio::ssl::context* tls, pool_settings settings,
                             pool_metrics metrics)
    : key_(std::move(key)), tls_(tls), metrics_(metrics), settings_(settings) {}

upstream_pool::~upstream_pool() {
  if (metrics_.idle != nullptr) metrics_.idle->add(-static_cast<double>(idle_.size()));
}

std::unique_ptr<connection> upstream_pool::take_idle() {
  auto c = take_idle_locked();
  if (c) c->buffer.reserve(read_buffer_bytes);  // freed while idle (release)
  return c;
}

std::unique_ptr<connection> upstream_pool::take_idle_locked() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (metrics_.idle != nullptr) metrics_.idle->add(-1);
    const auto idle = now - c->idle_since;
    if (idle >= settings_.idle_timeout) continue;
    // A connection used within the last second is almost never closed by now, and the retry-once rule covers
    // the rare one that is: skip the peek (a syscall) on the hot path.
    if (idle < std::chrono::seconds(1) || c->looks_reusable()) return c;
  }
  return nullptr;
}

void upstream_pool::release(std::unique_ptr<connection> c) {
  // An idle connection holds no read buffer (16 KiB each, up to max_idle per upstream and worker) once its
  // exchange has left nothing in it; take_idle reserves it again.
  if (c->buffer.size() == 0) c->buffer.shrink_to_fit();
  std::lock_guard lock(mutex_);
  if (idle_.size() >= settings_.max_idle) return;  // c closes here
  c->idle_since = std::chrono::steady_clock::now();
  c->expires_never();
  idle_.push_back(std::move(c));
  if (metrics_.idle != nullptr) metrics_.idle->add(1);
}

void upstream_pool::sweep() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  auto before = idle_.size();
  std::erase_if(idle_, [&](const auto& c) { return now - c->idle_since >= settings_.idle_timeout; });
  if (metrics_.idle != nullptr) metrics_.idle->add(-static_cast<double>(before - idle_.size()));
}

void upstream_pool::update_settings(const pool_settings& s) {
  std::lock_guard lock(mutex_);
  settings_ = s;
}

std::size_t upstream_pool::idle_count() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

namespace {

failure classify_connect(const boost::system::error_code& ec, const upstream_key& key, std::string_view step,
                         std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return {failure_kind::connect_timeout,
            "upstream " + key.to_string() + ": " + std::string(step) + " timed out after " +
                std::to_string(timeout.count()) + "ms"};
  }
  if (ec == asio::error::connection_refused) {
    return {failure_kind::refused, "upstream " + key.to_string() + ": connection refused"};
  }
  return {failure_kind::reset, "upstream " + key.to_string() + ": " + std::string(step) + " failed: " + ec.message()};
}

}  // namespace

asio::awaitable<std::unique_ptr<connection>> upstream_pool::connect(failure& err) {
  auto ex = co_await asio::this_coro::executor;
  pool_settings s;
  {
    std::lock_guard lock(mutex_);
    s = settings_;
  }
  std::string host = key_.host;
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);

  tcp::resolver resolver(ex);
  // The resolver has no timeout of its own; the connect timeout below bounds the rest.
  auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(key_.port), use_tuple);
  if (rec) {
    err = {failure_kind::resolve, "upstream " + key_.to_string() + ": cannot resolve host: " + rec.message()};
    co_return nullptr;
  }

  beast::tcp_stream tcp_s(ex);
  // One deadline for the TCP connect and the TLS handshake together.
  const auto deadline = std::chrono::steady_clock::now() + s.connect_timeout;
  tcp_s.expires_at(deadline);
  auto [cec, ep] = co_await tcp_s.async_connect(endpoints, use_tuple);
  if (cec) {
    err = classify_connect(cec, key_, "connect", s.connect_timeout);
    co_return nullptr;
  }
  tcp_s.socket().set_option(tcp::no_delay(true));

  if (tls_ == nullptr) {
    tcp_s.expires_never();
    co_return std::make_unique<connection>(timed_socket(tcp_s.release_socket()), metrics_.open);
  }

  tcp_s.expires_never();
  std::optional<connection::tls_stream> tls_holder;
  try {
    tls_holder.emplace(tcp_s.release_socket(), *tls_);
  } catch (const std::exception& e) {
    err = {failure_kind::tls, "upstream " + key_.to_string() + ": " + e.what()};
    co_return nullptr;
  }
  auto& tls_s = *tls_holder;
  if (!key_.tls_name.empty()) host = key_.tls_name;
  boost::system::error_code addr_ec;
  asio::ip::make_address(host, addr_ec);
  const bool is_ip = !addr_ec;
  // SNI only for names (RFC 6066 forbids IP literals); the certificate is checked against the name or the IP
  // (OpenSSL's own host check, as part of the chain verification).
  const bool verify = SSL_CTX_get_verify_mode(tls_->native_handle()) != SSL_VERIFY_NONE;
  if (!tls_s.set_peer_name(host, is_ip, verify)) {
    err = {failure_kind::tls, "upstream " + key_.to_string() + ": cannot set the TLS peer name " + host};
    co_return nullptr;
  }
  tls_s.expires_at(deadline);
  auto [hec] = co_await tls_s.async_handshake(use_tuple);
  if (hec) {
    if (hec == beast::error::timeout) {
      err = classify_connect(hec, key_, "TLS handshake", s.connect_timeout);
    } else {
      std::string reason = hec.message();
      long verify_result = SSL_get_verify_result(tls_s.native_handle());
      if (verify_result != X509_V_OK) reason = X509_verify_cert_error_string(verify_result);
      err = {failure_kind::tls, "upstream " + key_.to_string() + ": TLS handshake failed: " + reason};
    }
    co_return nullptr;
  }
  tls_s.expires_never();
  co_return std::make_unique<connection>(std::move(tls_s), metrics_.open);
}

}  // namespace sigv4::net
