#pragma once
// Runs one worker's io_context, spinning briefly before it sleeps when that pays.
//
// On a virtual machine, a thread that sleeps in epoll_wait and is woken by a packet costs the most of all:
// the idle vCPU halts, and waking it is an interrupt through the hypervisor (10-25 us on a Firecracker VM,
// several times the proxy's own work for a request). A proxy sleeps twice per request (for the upstream's
// answer, then for the client's next request), where a server sleeps once. So, as Linux's cpuidle-haltpoll
// governor does for idle vCPUs, the loop first polls for a short window when it runs out of work, and adapts
// that window to what it sees: it grows while wake-ups come soon after the loop went idle (a longer window
// would have caught them) and shrinks to nothing when idle gaps are long (a remote AWS endpoint answering in
// milliseconds, or no traffic), so a quiet or slow-upstream sidecar does not burn CPU.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>

#include "obs/metrics.hpp"

namespace sigv4::net {

// The window policy, apart from the loop so that it can be tested with made-up times.
class spin_governor {
 public:
  using duration = std::chrono::nanoseconds;
  explicit spin_governor(duration max) : max_(max < duration::zero() ? duration::zero() : max) {}

  duration window() const { return window_; }
  duration max() const { return max_; }

  // The loop had work again after `idle` (spinning first, then perhaps sleeping).
  void on_idle_end(duration idle) {
    if (idle <= window_) return;  // the spin caught it: the window is right
    if (idle <= max_) {           // woke soon after going to sleep: a longer window would have caught it
      window_ = std::clamp(window_ * 2, grow_start(), max_);
    } else {  // a long gap: spinning would have been wasted
      window_ /= 2;
      if (window_ < grow_start()) window_ = duration::zero();
    }
  }

 private:
  duration grow_start() const { return max_ / 4; }
  duration max_;
  duration window_{0};
};

struct event_loop_stats {
  obs::counter* spin_nanoseconds = nullptr;  // time spent polling while idle
  obs::counter* caught = nullptr;            // idle gaps that ended during the spin (a sleep saved)
  obs::counter* slept = nullptr;             // idle gaps that ended in a sleep
};

// Runs ioc until it is stopped or out of work. max_spin 0: plain ioc.run().
void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds max_spin,
                    event_loop_stats stats = {});

}  // namespace sigv4::net
