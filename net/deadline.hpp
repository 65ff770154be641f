#pragma once
// One deadline for the socket waits of a stream, kept by a lazy timer.
//
// Beast's tcp_stream arms its timer when an operation starts and cancels it when the operation ends: every
// timed operation leaves a cancelled timer handler behind, and each costs the worker one more round through
// Asio's scheduler (an epoll_wait that finds nothing). Here the timer stays armed across waits and moves only
// when the deadline comes earlier; when it fires before a deadline that has moved later meanwhile, it
// re-arms. In steady keep-alive traffic (each request pushes the deadline later) it fires about once per
// timeout period per connection, instead of leaving a cancelled handler behind every operation.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace sigv4::net {

class lazy_deadline {
 public:
  using clock = std::chrono::steady_clock;

  // When the deadline passes during a wait, the socket's operations are cancelled (the socket stays open).
  explicit lazy_deadline(boost::asio::ip::tcp::socket& socket)
      : socket_(socket), timer_(socket.get_executor()) {}
  lazy_deadline(const lazy_deadline&) = delete;
  lazy_deadline& operator=(const lazy_deadline&) = delete;

  // `owner` holds this deadline and its socket: the timer handler does nothing once it is gone.
  void bind(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  void expires_at(clock::time_point t) { deadline_ = t; }
  void expires_never() { deadline_ = clock::time_point::max(); }

  // Before a socket wait: false when the deadline has already passed (the wait must not start).
  bool begin_wait();
  // After it: true when the deadline passed during the wait (and cancelled it).
  bool end_wait();
  // Stops the timer: the stream is closing.
  void cancel();

 private:
  void arm(clock::time_point at);
  void fired();

  boost::asio::ip::tcp::socket& socket_;
  boost::asio::steady_timer timer_;
  std::weak_ptr<void> owner_;
  clock::time_point deadline_ = clock::time_point::max();
  clock::time_point armed_at_ = clock::time_point::max();  // when the armed timer fires; max: not armed
  unsigned seq_ = 0;                                       // which arming the pending handler belongs to
  int waiting_ = 0;
  bool timed_out_ = false;
};

}  // namespace sigv4::net
