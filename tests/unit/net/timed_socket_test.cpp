#include "net/timed_socket.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <optional>
#include <string_view>

namespace sigv4::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

// A connected loopback pair: `a` for the stream under test, `b` for the peer.
struct pair {
  asio::io_context ioc{1};
  tcp::socket a{ioc}, b{ioc};
  pair() {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    b = acc.accept();
  }
};

TEST(timed_socket, a_read_past_the_deadline_times_out_and_the_socket_stays_usable) {
  pair p;
  timed_socket s(std::move(p.a));
  s.expires_after(30ms);
  char c = 0;
  boost::system::error_code got;
  const auto start = std::chrono::steady_clock::now();
  s.async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) { got = ec; });
  p.ioc.run();
  EXPECT_EQ(got, boost::beast::error::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  // Cancelled, not closed: the caller can still answer (a 408) before it closes.
  ASSERT_TRUE(s.socket().is_open());
  s.expires_after(5s);
  p.ioc.restart();
  std::size_t written = 0;
  asio::async_write(s, asio::buffer("408", 3), [&](boost::system::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    written = n;
    s.close();  // stops the (lazily still armed) timer, so run() returns now
  });
  p.ioc.run();
  EXPECT_EQ(written, 3u);
  char peer[3];
  EXPECT_EQ(asio::read(p.b, asio::buffer(peer)), 3u);
}

TEST(timed_socket, read_some_never_blocks_and_a_readability_wait_reads_nothing) {
  pair p;
  timed_socket s(std::move(p.a));
  char buf[16];
  boost::system::error_code ec;
  EXPECT_EQ(s.read_some(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
  // The session's pattern: read, and only when that would block, wait for readability, then read again.
  s.expires_after(5s);
  asio::steady_timer later(p.ioc, 20ms);
  bool wrote = false;
  later.async_wait([&](boost::system::error_code) {
    asio::write(p.b, asio::buffer("hello", 5));
    wrote = true;
  });
  std::optional<boost::system::error_code> waited;
  s.async_wait_readable([&](boost::system::error_code e) { waited = e; });
  p.ioc.run_one();  // the timer's write
  EXPECT_TRUE(wrote);
  EXPECT_FALSE(waited.has_value());
  p.ioc.run_one();  // the wait
  ASSERT_TRUE(waited.has_value());
  EXPECT_FALSE(*waited) << waited->message();
  EXPECT_EQ(s.read_some(asio::buffer(buf), ec), 5u);  // the wait consumed nothing
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string_view(buf, 5), "hello");
  EXPECT_EQ(s.read_some(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
  s.close();
}

// The session waits before it reads a keep-alive connection's next request: bytes that arrived while nothing
// waited, their edge already reported by epoll to a reactor with no operation queued, must still complete it.
TEST(timed_socket, a_readability_wait_completes_for_bytes_whose_edge_was_already_reported) {
  pair p;
  timed_socket s(std::move(p.a));
  char buf[16];
  boost::system::error_code ec;
  // Registered with the reactor, and one edge reported and read, as after a request.
  s.expires_after(5s);
  asio::write(p.b, asio::buffer("a", 1));
  std::optional<boost::system::error_code> waited;
  s.async_wait_readable([&](boost::system::error_code e) { waited = e; });
  while (!waited) p.ioc.run_one();  // run_one may run the reactor's own work first
  ASSERT_FALSE(*waited) << waited->message();
  ASSERT_EQ(s.read_some(asio::buffer(buf), ec), 1u);
  // The next bytes arrive while nothing waits on the socket; the reactor runs epoll_wait (for a timer) and
  // sees their edge with no operation to give it to.
  asio::write(p.b, asio::buffer("next", 4));
  asio::steady_timer tick(p.ioc, 20ms);
  bool ticked = false;
  tick.async_wait([&](boost::system::error_code) { ticked = true; });
  while (!ticked) p.ioc.run_one();
  // A wait begun now, without a read first, completes at once (not at the 5 s deadline) and reads nothing.
  waited.reset();
  const auto start = std::chrono::steady_clock::now();
  s.async_wait_readable([&](boost::system::error_code e) { waited = e; });
  while (!waited) p.ioc.run_one();  // the 5 s deadline ends it if the wait never completes
  EXPECT_FALSE(*waited) << waited->message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(s.read_some(asio::buffer(buf), ec), 4u);
  EXPECT_EQ(std::string_view(buf, 4), "next");
  s.close();
}

TEST(timed_socket, a_readability_wait_past_the_deadline_times_out_and_eof_is_readable) {
  pair p;
  timed_socket s(std::move(p.a));
  s.expires_after(30ms);
  boost::system::error_code got;
  const auto start = std::chrono::steady_clock::now();
  s.async_wait_readable([&](boost::system::error_code ec) { got = ec; });
  p.ioc.run();
  EXPECT_EQ(got, boost::beast::error::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  ASSERT_TRUE(s.socket().is_open());
  // A peer that closes makes the socket readable: the wait completes and the read says eof.
  s.expires_after(5s);
  p.b.close();
  p.ioc.restart();
  got = asio::error::would_block;
  s.async_wait_readable([&](boost::system::error_code ec) {
    got = ec;
    char c;
    boost::system::error_code rec;
    EXPECT_EQ(s.read_some(asio::buffer(&c, 1), rec), 0u);
    EXPECT_EQ(rec, asio::error::eof);
    s.close();
  });
  p.ioc.run();
  EXPECT_FALSE(got) << got.message();
}

TEST(timed_socket, a_deadline_moved_later_during_a_wait_is_honoured) {
  pair p;
  timed_socket s(std::move(p.a));
  s.expires_after(20ms);
  char c = 0;
  boost::system::error_code got = asio::error::would_block;
  s.async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) {
    got = ec;
    s.close();
  });
  asio::steady_timer later(p.ioc, 5ms), send(p.ioc, 60ms);
  later.async_wait([&](auto) { s.expires_after(2s); });  // before the first deadline
  send.async_wait([&](auto) { asio::write(p.b, asio::buffer("x", 1)); });
  p.ioc.run();
  EXPECT_FALSE(got) << got.message();  // the timer fired at 20 ms, found the new deadline and waited on
  EXPECT_EQ(c, 'x');
}

TEST(timed_socket, an_operation_started_after_the_deadline_fails_without_running_inline) {
  pair p;
  timed_socket s(std::move(p.a));
  s.expires_at(std::chrono::steady_clock::now() - 1ms);
  asio::write(p.b, asio::buffer("x", 1));  // data is there, but the deadline has passed
  bool done = false;
  boost::system::error_code got;
  char c = 0;
  s.async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) {
    done = true;
    got = ec;
  });
  EXPECT_FALSE(done);  // never from inside the initiating function
  p.ioc.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(got, boost::beast::error::timeout);
}

TEST(timed_socket, destroyed_with_its_timer_armed) {
  pair p;
  {
    timed_socket s(std::move(p.a));
    s.expires_after(10ms);
    char c = 0;
    s.async_read_some(asio::buffer(&c, 1), [](boost::system::error_code, std::size_t) {});
    asio::write(p.b, asio::buffer("x", 1));
    p.ioc.run_one();  // the read completes; the timer stays armed
  }
  p.ioc.restart();
  p.ioc.run();  // the orphaned timer handler runs (or is cancelled) without touching the dead stream
  SUCCEED();
}

// Reads `n` one-byte messages one after the other, each operation under a deadline, as a keep-alive
// connection does; returns how many handlers the io_context ran for it.
template <class Stream>
std::size_t handlers_for_timed_reads(int n) {
  pair p;
  std::optional<Stream> s;
  s.emplace(std::move(p.a));
  std::string data(static_cast<std::size_t>(n), 'x');
  asio::write(p.b, asio::buffer(data));
  int left = n;
  char c = 0;
  std::function<void()> next = [&] {
    s->expires_after(10s);
    s->async_read_some(asio::buffer(&c, 1), [&](boost::system::error_code ec, std::size_t) {
      if (!ec && --left > 0) return next();
      s->close();
    });
  };
  next();
  std::size_t handlers = p.ioc.run();
  EXPECT_EQ(left, 0);
  return handlers;
}

TEST(timed_socket, a_timed_operation_costs_no_extra_handler_where_beasts_tcp_stream_costs_one) {
  const std::size_t ours = handlers_for_timed_reads<timed_socket>(200);
  const std::size_t beasts = handlers_for_timed_reads<boost::beast::tcp_stream>(200);
  // Beast cancels its timer after every operation: each leaves an aborted handler to run (a scheduler round).
  EXPECT_LE(ours + 150, beasts) << "timed_socket ran " << ours << " handlers, beast::tcp_stream " << beasts;
  EXPECT_LE(ours, 210u);
}

}  // namespace
}  // namespace sigv4::net
