#pragma once
// A thin client TLS stream for pooled upstream connections: OpenSSL runs directly on the non-blocking socket
// (a minimal socket BIO), with no BIO pair and no stream-side buffers. asio::ssl::stream (and Beast's
// ssl_stream on top) keeps two 17 KiB engine buffers and a 2 x 17 KiB BIO pair per connection, besides
// OpenSSL's own record buffers; here the only buffers are OpenSSL's, which SSL_MODE_RELEASE_BUFFERS gives back
// while the connection is idle.
//
// Models Asio's AsyncReadStream and AsyncWriteStream (enough for Beast's HTTP algorithms), and SyncWriteStream
// without ever blocking (would_block instead). Each operation
// tries the SSL call at once and, on SSL_ERROR_WANT_READ/WRITE, waits for the socket with async_wait and
// retries. Completion handlers are never invoked from inside the initiating function. One read, one write or
// one handshake at a time (the HTTP exchange alternates them); a read and a write may not be outstanding
// together (one SSL object serves both).
//
// Errors: a close_notify ends the stream with asio::error::eof, an EOF without one with
// asio::ssl::error::stream_truncated, socket errors with their system error codes, other TLS errors with
// codes in asio::error::get_ssl_category(), and an expired deadline (expires_after) with beast::error::timeout,
// after which the stream is not fit for more use.
#include <openssl/ssl.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "net/deadline.hpp"
#include "net/socket_peek.hpp"

namespace sigv4::net {

namespace tls_detail {

enum class op_kind { handshake, read, write };

struct step_result {
  bool done = true;  // false: wait for `wait`, then try again
  boost::system::error_code ec;
  std::size_t bytes = 0;
  boost::asio::socket_base::wait_type wait = boost::asio::socket_base::wait_read;
};

// A per-thread 16 KiB (one TLS record) scratch area in which small gathered writes are coalesced.
boost::asio::mutable_buffer write_scratch();

}  // namespace tls_detail

class tls_socket {
 public:
  using executor_type = boost::asio::any_io_executor;
  using socket_type = boost::asio::ip::tcp::socket;
  using clock = std::chrono::steady_clock;

  // Takes a connected socket. Throws std::runtime_error when OpenSSL cannot make the SSL object.
  tls_socket(socket_type socket, boost::asio::ssl::context& ctx);
  tls_socket(tls_socket&&) noexcept = default;
  tls_socket& operator=(tls_socket&&) noexcept = default;
  ~tls_socket();

  executor_type get_executor() noexcept { return impl_->sock.get_executor(); }
  socket_type& socket() noexcept { return impl_->sock; }
  SSL* native_handle() noexcept { return impl_->ssl; }

  // For the next handshake: SNI (names only, never IP literals) and, when the context verifies peers, the name
  // or IP address the certificate must match. False when OpenSSL refuses the name.
  bool set_peer_name(const std::string& name, bool is_ip, bool verify);

  // Bounds the operations that wait from now on: one that is still waiting at the deadline completes with
  // beast::error::timeout.
  void expires_after(clock::duration d) { expires_at(clock::now() + d); }
  void expires_at(clock::time_point t);
  void expires_never();

  // Closes the socket without a close_notify.
  void close();

  // For an idle pooled connection: false when the peer closed it, sent application data or an alert.
  // TLS 1.3 session tickets (and other post-handshake messages) that are waiting are read and dropped.
  bool idle_ok();

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        handshake_op{impl_.get()}, token, impl_->sock);
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<MutableBufferSequence, tls_detail::op_kind::read>{impl_.get(), buffers}, token, impl_->sock);
  }

  // SyncWriteStream, never blocking: one SSL_write now. When the socket cannot take the record, fails with
  // asio::error::would_block, and the caller must retry with the same bytes (async_write_some will do): so
  // Beast's http::write on a serializer tries a message at once without a round through the scheduler.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    tls_detail::step_result r = write_step(impl_.get(), buffers);
    ec = r.done ? r.ec : boost::system::error_code(boost::asio::error::would_block);
    return r.done ? r.bytes : 0;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<ConstBufferSequence, tls_detail::op_kind::write>{impl_.get(), buffers}, token, impl_->sock);
  }

 private:
  struct impl {
    explicit impl(socket_type s);
    ~impl();
    // One SSL call (SSL_connect, SSL_read_ex or SSL_write_ex on [data, data + size)).
    tls_detail::step_result step(tls_detail::op_kind kind, void* data, std::size_t size);

    socket_type sock;
    lazy_deadline deadline;  // bounds the socket waits (a lazy timer: see net/deadline.hpp)
    SSL* ssl = nullptr;
    bool eof = false;   // the socket read returned 0 (for the BIO)
    int last_errno = 0; // the last socket error other than EAGAIN (for the BIO)
  };

  // One SSL_write of the start of `buffers`.
  template <class ConstBufferSequence>
  static tls_detail::step_result write_step(impl* s, const ConstBufferSequence& buffers) {
    namespace asio = boost::asio;
    auto it = asio::buffer_sequence_begin(buffers);
    const auto end = asio::buffer_sequence_end(buffers);
    while (it != end && asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {};
    asio::const_buffer first(*it);
    auto scratch = tls_detail::write_scratch();
    if (first.size() >= scratch.size() || std::next(it) == end) {
      return s->step(tls_detail::op_kind::write, const_cast<void*>(first.data()), first.size());
    }
    // Beast serializes a header as many small buffers: gather up to one record into a single SSL_write
    // (one record, one syscall). A retry after WANT_WRITE gathers the same bytes again, as OpenSSL needs.
    std::size_t n = asio::buffer_copy(scratch, buffers);
    return s->step(tls_detail::op_kind::write, scratch.data(), n);
  }

  // The shared part of the three operations: completes at once (posted) or after waits, never inline.
  template <class Derived>
  struct op_base {
    impl* s;
    enum class state { start, waiting, posted } st = state::start;
    bool waited = false;
    boost::system::error_code result_ec;
    std::size_t result_bytes = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      switch (st) {
        case state::posted:
          return static_cast<Derived*>(this)->complete(self, result_ec, result_bytes);
        case state::waiting:
          waited = true;
          if (s->deadline.end_wait()) return finish(self, boost::beast::error::timeout, 0);
          if (ec) return finish(self, ec, 0);
          break;
        case state::start:
          break;
      }
      tls_detail::step_result r = static_cast<Derived*>(this)->attempt();
      if (r.done) return finish(self, r.ec, r.bytes);
      if (!s->deadline.begin_wait()) return finish(self, boost::beast::error::timeout, 0);
      st = state::waiting;
      s->sock.async_wait(r.wait, std::move(self));
    }

    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      if (waited) return static_cast<Derived*>(this)->complete(self, ec, n);
      // Done without ever waiting: still inside the initiating function (or a continuation of it), so the
      // handler goes through the executor, as Asio's and Beast's operations do.
      st = state::posted;
      result_ec = ec;
      result_bytes = n;
      boost::asio::post(s->sock.get_executor(), std::move(self));
    }
  };

  struct handshake_op : op_base<handshake_op> {
    explicit handshake_op(impl* i) { this->s = i; }
    tls_detail::step_result attempt() { return this->s->step(tls_detail::op_kind::handshake, nullptr, 0); }
    template <class Self>
    void complete(Self& self, boost::system::error_code ec, std::size_t) {
      self.complete(ec);
    }
  };

  template <class Buffers, tls_detail::op_kind Kind>
  struct io_op : op_base<io_op<Buffers, Kind>> {
    Buffers buffers;
    io_op(impl* i, const Buffers& b) : buffers(b) { this->s = i; }

    tls_detail::step_result attempt() {
      namespace asio = boost::asio;
      if constexpr (Kind == tls_detail::op_kind::read) {
        // SSL_read allocates OpenSSL's ~17 KiB record buffer as it starts and keeps it while it waits for a
        // record (SSL_MODE_RELEASE_BUFFERS gives it back only once a record is consumed). With nothing buffered
        // and nothing on the socket, wait for the socket first: a connection waiting for its response (most of
        // an exchange) then holds no record buffer. The peek takes the place of the read that would have found
        // nothing; after a wake-up the socket is readable and SSL_read goes straight on. (Edge-triggered
        // reactor: what arrives after the peek is reported to the wait, both on this one thread.)
        if (!this->waited && SSL_has_pending(this->s->ssl) == 0 &&
            peek_socket(this->s->sock.native_handle()) == peeked::nothing) {
          tls_detail::step_result wait;
          wait.done = false;
          wait.wait = asio::socket_base::wait_read;
          return wait;
        }
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
          asio::mutable_buffer b(*it);
          if (b.size() != 0) return this->s->step(Kind, b.data(), b.size());
        }
        return {};  // nothing to read into: 0 bytes, no error
      } else {
        return write_step(this->s, buffers);
      }
    }

    template <class Self>
    void complete(Self& self, boost::system::error_code ec, std::size_t n) {
      self.complete(ec, n);
    }
  };

  std::shared_ptr<impl> impl_;
};

}  // namespace sigv4::net
