#include "net/event_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <thread>

namespace sigv4::net {
namespace {

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;

TEST(spin_governor, starts_without_spinning) {
  spin_governor g(200us);
  EXPECT_EQ(g.window(), ns(0));
  EXPECT_EQ(g.max(), ns(200us));
}

TEST(spin_governor, short_gaps_grow_the_window_to_the_max) {
  spin_governor g(200us);
  g.on_idle_end(30us);  // woke 30 us after going idle: a 50 us window would have caught it
  EXPECT_EQ(g.window(), ns(50us));
  g.on_idle_end(80us);  // still longer than the window, shorter than the max
  EXPECT_EQ(g.window(), ns(100us));
  g.on_idle_end(150us);
  EXPECT_EQ(g.window(), ns(200us));
  g.on_idle_end(199us);
  EXPECT_EQ(g.window(), ns(200us));  // never past the max
}

TEST(spin_governor, a_gap_the_spin_caught_changes_nothing) {
  spin_governor g(200us);
  g.on_idle_end(30us);
  g.on_idle_end(10us);
  g.on_idle_end(50us);
  EXPECT_EQ(g.window(), ns(50us));
}

TEST(spin_governor, long_gaps_shrink_it_to_nothing) {
  spin_governor g(200us);
  for (int i = 0; i < 3; ++i) g.on_idle_end(150us);
  ASSERT_EQ(g.window(), ns(200us));
  g.on_idle_end(5ms);  // a slow upstream, or no traffic
  EXPECT_EQ(g.window(), ns(100us));
  g.on_idle_end(5ms);
  EXPECT_EQ(g.window(), ns(50us));
  g.on_idle_end(5ms);
  EXPECT_EQ(g.window(), ns(0));
  g.on_idle_end(1s);
  EXPECT_EQ(g.window(), ns(0));
}

TEST(spin_governor, zero_max_never_spins) {
  spin_governor g(0us);
  g.on_idle_end(1us);
  g.on_idle_end(1ms);
  EXPECT_EQ(g.window(), ns(0));
  spin_governor negative(-5us);
  negative.on_idle_end(1us);
  EXPECT_EQ(negative.window(), ns(0));
}

struct loop_counters {
  obs::counter spin_ns, caught, slept;
  event_loop_stats stats() { return {&spin_ns, &caught, &slept}; }
};

TEST(run_event_loop, returns_when_out_of_work_with_and_without_spinning) {
  for (auto max : {0us, 200us}) {
    boost::asio::io_context ioc(1);
    int ran = 0;
    boost::asio::steady_timer t(ioc, 2ms);
    t.async_wait([&](auto) {
      ++ran;
      boost::asio::post(ioc, [&] { ++ran; });
    });
    loop_counters c;
    run_event_loop(ioc, max, c.stats());
    EXPECT_EQ(ran, 2);
    EXPECT_TRUE(ioc.stopped());
  }
}

TEST(run_event_loop, returns_when_stopped_from_another_thread) {
  boost::asio::io_context ioc(1);
  auto guard = boost::asio::make_work_guard(ioc);  // never out of work
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    ioc.stop();
  });
  loop_counters c;
  run_event_loop(ioc, 200us, c.stats());
  stopper.join();
  EXPECT_TRUE(ioc.stopped());
}

// A peer that writes one byte every `gap`; the loop reads them. Returns the loop's counters.
void ping(std::chrono::microseconds max_spin, std::chrono::microseconds gap, int bytes, loop_counters& c) {
  boost::asio::io_context ioc(1);
  boost::asio::local::stream_protocol::socket a(ioc), b(ioc);
  boost::asio::local::connect_pair(a, b);
  int got = 0;
  char byte = 0;
  std::function<void()> next = [&] {
    boost::asio::async_read(a, boost::asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
      if (!ec && ++got < bytes) next();
    });
  };
  next();
  std::thread writer([&] {
    for (int i = 0; i < bytes; ++i) {
      std::this_thread::sleep_for(gap);
      char x = 'x';
      boost::asio::write(b, boost::asio::buffer(&x, 1));
    }
  });
  run_event_loop(ioc, max_spin, c.stats());
  writer.join();
  EXPECT_EQ(got, bytes);
}

TEST(run_event_loop, frequent_wakeups_are_caught_while_spinning) {
  // Bytes arrive every ~50-100 us (sleep_for's granularity): after a few gaps the window covers them and most
  // arrive while the loop polls. The max is generous so that a busy test machine does not decide it.
  loop_counters c;
  ping(5000us, 20us, 400, c);
  EXPECT_GT(c.caught.value(), c.slept.value())
      << "caught " << c.caught.value() << ", slept " << c.slept.value();
  EXPECT_GT(c.spin_ns.value(), 0U);
}

TEST(run_event_loop, rare_wakeups_make_it_stop_spinning) {
  // Gaps of 3 ms against a 200 us max: the window shrinks to zero after the first few, so the loop spends
  // almost all of the ~150 ms asleep.
  loop_counters c;
  const auto start = std::chrono::steady_clock::now();
  ping(200us, 3000us, 50, c);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(c.spin_ns.value(), static_cast<std::uint64_t>(ns(elapsed).count() / 20))
      << "spun " << c.spin_ns.value() << " ns in " << ns(elapsed).count() << " ns";
  EXPECT_GE(c.slept.value(), 45U);
}

TEST(run_event_loop, zero_max_is_plain_run) {
  loop_counters c;
  ping(0us, 20us, 50, c);
  EXPECT_EQ(c.caught.value(), 0U);
  EXPECT_EQ(c.slept.value(), 0U);
  EXPECT_EQ(c.spin_ns.value(), 0U);
}

}  // namespace
}  // namespace sigv4::net
