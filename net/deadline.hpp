#pragma once
// One deadline for the socket waits of a stream, kept by a lazy timer.
//
// Beast's tcp_stream arms its timer when an operation starts and cancels it when the operation ends: every
// timed operation leaves a cancelled timer handler behind, and each costs the worker one more round through
// Asio's scheduler (an epoll_wait that finds nothing). Here the timer stays armed across waits and moves only
// when the deadline comes earlier; when it fires before a deadline that has moved later meanwhile, it
// re-arms. In steady keep-alive traffic (each request pushes the deadline later) it fires about once per
// timeout period per connection, instead of leaving a cancelled handler behind every operation.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace sigv4::net {

class lazy_deadline {
 public:
  using clock = std::chrono::steady_clock;

  explicit lazy_deadline(const boost::asio::any_io_executor& ex) : timer_(ex) {}
  lazy_deadline(const lazy_deadline&) = delete;
  lazy_deadline& operator=(const lazy_deadline&) = delete;

  // `owner` is the object this deadline is a member of: the timer handler does nothing once it is gone.
  // on_expired runs on the executor when the deadline passes during a wait; it cancels the socket's waits.
  void bind(std::weak_ptr<void> owner, std::function<void()> on_expired) {
    owner_ = std::move(owner);
    on_expired_ = std::move(on_expired);
  }

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

  boost::asio::steady_timer timer_;
  std::weak_ptr<void> owner_;
  std::function<void()> on_expired_;
  clock::time_point deadline_ = clock::time_point::max();
  clock::time_point armed_at_ = clock::time_point::max();  // when the armed timer fires; max: not armed
  unsigned seq_ = 0;                                       // which arming the pending handler belongs to
  int waiting_ = 0;
  bool timed_out_ = false;
};

}  // namespace sigv4::net
