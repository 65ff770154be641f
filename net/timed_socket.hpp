#pragma once
// A TCP stream with a deadline, for client connections and plain upstream connections: what the proxy used
// beast::tcp_stream for, with the lazy timer of net/deadline.hpp instead of one armed and cancelled around
// every operation (one scheduler round per operation saved).
//
// Models Asio's AsyncReadStream and AsyncWriteStream, and SyncWriteStream without ever blocking (would_block
// instead), as net::tls_socket does: a message the socket takes at once needs no round through the scheduler.
// An operation still waiting at the deadline completes
// with beast::error::timeout; its socket operations are cancelled, not the socket closed, so the caller can
// still answer (a 408) before it closes. An operation started after the deadline fails at once (posted).
// One read and one write may be outstanding together (they share the deadline).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <memory>

#include "net/deadline.hpp"

namespace sigv4::net {

class timed_socket {
 public:
  using executor_type = boost::asio::any_io_executor;
  using socket_type = boost::asio::ip::tcp::socket;
  using clock = lazy_deadline::clock;

  explicit timed_socket(socket_type socket);
  timed_socket(timed_socket&&) noexcept = default;
  timed_socket& operator=(timed_socket&&) noexcept = default;

  executor_type get_executor() noexcept { return impl_->sock.get_executor(); }
  socket_type& socket() noexcept { return impl_->sock; }

  void expires_after(clock::duration d) { impl_->deadline.expires_at(clock::now() + d); }
  void expires_at(clock::time_point t) { impl_->deadline.expires_at(t); }
  void expires_never() { impl_->deadline.expires_never(); }

  // Closes the socket and stops the timer.
  void close();

  // SyncWriteStream, never blocking: what the socket takes now; asio::error::would_block when it takes
  // nothing.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    return non_blocking(ec) ? impl_->sock.write_some(buffers, ec) : 0;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // SyncReadStream, never blocking: what the socket holds now; asio::error::would_block when it holds nothing.
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    return non_blocking(ec) ? impl_->sock.read_some(buffers, ec) : 0;
  }

  // Completes when the socket is readable (or with beast::error::timeout at the deadline), reading nothing: a
  // caller can then read into memory it holds only for that moment. Bytes that arrived before the wait began
  // complete it too, even when the reactor's edge-triggered registration has already reported them: Asio's
  // epoll reactor re-arms the descriptor (EPOLL_CTL_MOD) for a wait, and the kernel then reports it again if it
  // is readable (tested). A wakeup can still find nothing to read (a spurious one): read_some says would_block.
  template <class Token>
  auto async_wait_readable(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(wait_op{impl_.get()}, token,
                                                                              impl_->sock);
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<MutableBufferSequence, true>{impl_.get(), buffers}, token, impl_->sock);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<ConstBufferSequence, false>{impl_.get(), buffers}, token, impl_->sock);
  }

 private:
  // Puts the socket in non-blocking mode (once) for read_some and write_some; clears `ec` first, so that a code
  // the caller left set from an earlier call is not taken for a failure here. False, with `ec`, when it fails.
  bool non_blocking(boost::system::error_code& ec) {
    ec.clear();
    if (!impl_->sock.non_blocking()) impl_->sock.non_blocking(true, ec);
    return !ec;
  }

  struct impl {
    explicit impl(socket_type s) : sock(std::move(s)), deadline(sock) {}
    socket_type sock;
    lazy_deadline deadline;
  };

  template <class Buffers, bool Read>
  struct io_op {
    impl* s;
    Buffers buffers;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      if (!started) {
        started = true;
        if (!s->deadline.begin_wait()) {
          // Never complete inside the initiating function.
          boost::asio::post(s->sock.get_executor(), [self = std::move(self)]() mutable {
            self.complete(boost::beast::error::timeout, 0);
          });
          return;
        }
        if constexpr (Read) {
          s->sock.async_read_some(buffers, std::move(self));
        } else {
          s->sock.async_write_some(buffers, std::move(self));
        }
        return;
      }
      // Bytes that arrived just as the deadline passed are still delivered; the next operation times out.
      if (s->deadline.end_wait() && ec == boost::asio::error::operation_aborted)
        ec = boost::beast::error::timeout;
      self.complete(ec, n);
    }
  };

  struct wait_op {
    impl* s;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (!started) {
        started = true;
        if (!s->deadline.begin_wait()) {
          boost::asio::post(s->sock.get_executor(),
                            [self = std::move(self)]() mutable { self.complete(boost::beast::error::timeout); });
          return;
        }
        s->sock.async_wait(socket_type::wait_read, std::move(self));
        return;
      }
      if (s->deadline.end_wait() && ec == boost::asio::error::operation_aborted) ec = boost::beast::error::timeout;
      self.complete(ec);
    }
  };

  std::shared_ptr<impl> impl_;
};

// Closes a connection whose peer may still be sending (an early 413, 431, 400, 408 or 503): shuts the write
// side, so the answer already written is followed by a FIN, then reads and discards until the peer closes,
// `total` has passed or lingering_close_max_bytes were discarded, then closes. Closing at once with unread
// bytes makes the kernel send a reset, which throws away the answer in the peer's receive queue before a client
// that writes its whole request before reading (urllib, most remote-write clients) has read it. Returns the
// bytes discarded. total == 0 closes at once.
//
// The byte bound is the same for an early error inside a session and a refusal over max_connections: a refused
// client may be sending any request the proxy would take, and a smaller bound resets one whose body the
// loopback buffers did not absorb before the bound (CI saw 1 of 50 with a 2 MiB body at 1 MiB). Time (`total`)
// and, for refusals, the number lingering bound the cost.
inline constexpr std::size_t lingering_close_max_bytes = 64u << 20;

boost::asio::awaitable<std::size_t> lingering_close(timed_socket& s, std::chrono::milliseconds total);

}  // namespace sigv4::net
