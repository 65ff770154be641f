#include "net/deadline.hpp"

namespace sigv4::net {

bool lazy_deadline::begin_wait() {
  if (waiting_ == 0) timed_out_ = false;
  if (deadline_ != clock::time_point::max()) {
    if (clock::now() >= deadline_) return false;
    if (armed_at_ > deadline_) arm(deadline_);
  }
  ++waiting_;
  return true;
}

bool lazy_deadline::end_wait() {
  if (waiting_ > 0) --waiting_;
  return timed_out_;
}

void lazy_deadline::cancel() {
  ++seq_;
  armed_at_ = clock::time_point::max();
  timer_.cancel();
}

void lazy_deadline::arm(clock::time_point at) {
  armed_at_ = at;
  timer_.expires_at(at);  // cancels an earlier wait, whose handler then sees a stale sequence number
  const unsigned seq = ++seq_;
  // The handler can outlive this object (it may already be queued when the stream is dropped): it acts only
  // while the owner is alive, and only for the latest arming.
  timer_.async_wait([owner = owner_, this, seq](const boost::system::error_code& ec) {
    if (ec) return;
    auto alive = owner.lock();
    if (!alive || seq_ != seq) return;
    armed_at_ = clock::time_point::max();
    fired();
  });
}

void lazy_deadline::fired() {
  // Not waiting: the next wait checks the deadline itself (and arms the timer again).
  if (waiting_ == 0 || deadline_ == clock::time_point::max()) return;
  if (clock::now() < deadline_) return arm(deadline_);  // the deadline moved later meanwhile
  timed_out_ = true;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace sigv4::net
