#include "net/event_loop.hpp"

namespace sigv4::net {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void add(obs::counter* c, std::uint64_t n) {
  if (c != nullptr) c->inc(n);
}

}  // namespace

void run_event_loop(boost::asio::io_context& ioc, std::chrono::microseconds max_spin,
                    event_loop_stats stats) {
  if (max_spin <= std::chrono::microseconds::zero()) {
    ioc.run();
    return;
  }
  using clock = std::chrono::steady_clock;
  spin_governor governor(max_spin);
  for (;;) {
    // Run what is ready (poll() also asks epoll, without waiting, for what became ready meanwhile).
    while (ioc.poll() > 0) {
    }
    if (ioc.stopped()) return;  // stopped, or out of work
    const auto idle_start = clock::now();
    const auto window = governor.window();
    bool caught = false;
    if (window > clock::duration::zero()) {
      const auto deadline = idle_start + window;
      auto now = idle_start;
      while (now < deadline) {
        if (ioc.poll_one() > 0) {
          caught = true;
          break;
        }
        if (ioc.stopped()) return;
        cpu_relax();
        now = clock::now();
      }
      add(stats.spin_nanoseconds,
          static_cast<std::uint64_t>(std::chrono::nanoseconds(std::min(now, deadline) - idle_start).count()));
    }
    if (!caught && ioc.run_one() == 0) return;  // sleeps until one handler ran
    add(caught ? stats.caught : stats.slept, 1);
    governor.on_idle_end(clock::now() - idle_start);
  }
}

}  // namespace sigv4::net
