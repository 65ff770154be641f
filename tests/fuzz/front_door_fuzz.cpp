// libFuzzer target over the proxy's front door: the fuzzer's bytes are what a client writes on one connection
// to a real session (app::run_session) over loopback TCP, with the production config parser, routing (two
// routes, forward-proxy mode with an allowlist), header stripping, the hashing body and signing. The upstream
// is an in-process HTTP/1.1 server on the same io_context that answers 200 to every request it reads.
//
// Invariants besides "no crash, no sanitizer report":
//   - no exception escapes the session (run_session's contract: exceptions are bugs);
//   - every request the upstream receives is signed (Authorization: AWS4-HMAC-SHA256 ...) for one of the
//   routes'
//     services, with an X-Amz-Date, and a routed one never carries a header its route strips;
//   - whatever the client reads back starts with an HTTP/1.x status line (the sidecar writes nothing else);
//   - the session ends once the client has shut its side (no hang: the harness stops at a bound and traps).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "creds/store.hpp"
#include "net/tls.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "proxy/config.hpp"
#include "proxy/routing.hpp"
#include "proxy/server.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
namespace obs = sigv4::obs;

namespace {

using sigv4::fuzz::check;

// Printed at exit, so a run shows the inputs reached the upstream (signed) and not only the sidecar's errors.
std::size_t upstream_requests = 0;
std::size_t client_answers = 0;
std::size_t stray_connections = 0;  // accepted from an interrupted connect, skipped

// The upstream: reads requests on each connection it accepts, checks each is signed, answers 200.
asio::awaitable<void> upstream_connection(tcp::socket s) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.body_limit(1u << 20);
    auto [ec, n] = co_await http::async_read(s, buf, p, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) co_return;
    const auto& req = p.get();
    auto auth = req[http::field::authorization];
    check(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFUZZ/"),
          "the upstream got a request not signed by us");
    check(auth.find("/aps/aws4_request") != std::string_view::npos ||
              auth.find("/execute-api/aws4_request") != std::string_view::npos,
          "signed for a service no route names");
    check(!req["X-Amz-Date"].empty(), "signed without X-Amz-Date");
    // strip_headers belongs to the routes (their upstream's Host is 127.0.0.1:PORT); forward-proxy requests keep
    // the client's headers but the hop-by-hop ones.
    if (req[http::field::host].starts_with("127.0.0.1:")) {
      check(req.find("X-Strip-Me") == req.end(), "a header the route strips reached the upstream");
    }
    ++upstream_requests;
    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = "ok";
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(s, res, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> upstream_accept(tcp::acceptor& a) {
  for (;;) {
    auto [ec, s] = co_await a.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(a.get_executor(), upstream_connection(std::move(s)), asio::detached);
  }
}

std::string config_yaml(unsigned short port) {
  const std::string p = std::to_string(port);
  return "routes:\n"
         "  - name: aps\n"
         "    match: {path_prefix: /api/}\n"
         "    upstream: http://127.0.0.1:" +
         p +
         "/workspaces/ws-fuzz/api/\n"
         "    sigv4: {region: us-east-1, service: aps}\n"
         "    strip_headers: [x-strip-me]\n"
         "  - name: root\n"
         "    match: {path_prefix: /}\n"
         "    upstream: http://127.0.0.1:" +
         p +
         "\n"
         "    sigv4: {region: eu-west-1, service: execute-api, unsigned_payload: true}\n"
         "    strip_headers: [x-strip-me]\n"
         "forward_proxy:\n"
         "  allow: ['*.execute-api.us-east-1.amazonaws.com']\n"
         "  upstream_scheme: http\n"
         "  connect_to: 127.0.0.1:" +
         p +
         "\n"
         "limits: {max_request_body: 65536, max_header_bytes: 8192}\n"
         "timeouts: {client_header: 2s, client_body: 2s, client_idle: 2s, lingering_close: 1s,\n"
         "           upstream_connect: 1s, upstream_response_header: 2s}\n";
}

// Everything lives on the worker's io_context, run by the fuzzing thread.
struct harness {
  obs::registry registry;
  sigv4::creds::credential_store store;
  sigv4::app::store_resolver resolve;
  std::unique_ptr<sigv4::app::shared_state> shared;
  std::unique_ptr<sigv4::app::worker> w;
  std::unique_ptr<tcp::acceptor> front;
  std::unique_ptr<tcp::acceptor> upstream;

  std::shared_ptr<const sigv4::app::runtime> compile(unsigned short port) {
    auto res =
        sigv4::app::parse_config(config_yaml(port), [](const char*) -> const char* { return nullptr; });
    if (!res.cfg) {
      for (const auto& e : res.errors)
        std::fprintf(stderr, "config: line %d: %s\n", e.line, e.message.c_str());
      std::abort();
    }
    return sigv4::app::compile(std::move(*res.cfg), resolve);
  }

  harness() {
    obs::configure(obs::level::error, obs::log_format::logfmt);
    auto snap = std::make_shared<sigv4::creds::snapshot>();
    snap->creds = {"AKIDFUZZ", "fuzz-secret-key", "fuzz-session-token"};
    snap->provider = "fuzz";
    store.publish(snap);
    const sigv4::creds::credential_store* st = &store;
    resolve = [st](const sigv4::app::sigv4_config&) { return st; };
    // A placeholder upstream port until the upstream listens on the worker's io_context; then the real config
    // goes in as a reload would.
    shared = std::make_unique<sigv4::app::shared_state>(
        compile(1), store, registry, std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client));
    shared->resolve_store = resolve;
    w = std::make_unique<sigv4::app::worker>(*shared);
    const tcp::endpoint loopback(asio::ip::make_address("127.0.0.1"), 0);
    upstream = std::make_unique<tcp::acceptor>(w->ioc, loopback);
    front = std::make_unique<tcp::acceptor>(w->ioc, loopback);
    shared->rt.store(compile(upstream->local_endpoint().port()));
    asio::co_spawn(w->ioc, upstream_accept(*upstream), asio::detached);
  }
};

// What the client reads back until the session closes.
asio::awaitable<void> client_side(tcp::socket& c, std::string_view input, std::string& got, bool& done) {
  // A write error (the session closed early) still leaves its answer to read.
  (void)co_await asio::async_write(c, asio::buffer(input.data(), input.size()),
                                   asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ec;
  c.shutdown(tcp::socket::shutdown_send, ec);
  char buf[16384];
  for (;;) {
    auto [rec, n] = co_await c.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    got.append(buf, n);
    if (rec) break;
  }
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static harness* h = [] {
    std::atexit([] {
      std::fprintf(stderr,
                   "front_door_fuzz: %zu signed requests reached the upstream; %zu inputs were answered; "
                   "%zu stray connections skipped\n",
                   upstream_requests, client_answers, stray_connections);
    });
    return new harness();  // never destroyed: pooled upstream connections outlive an input
  }();
  auto& ioc = h->w->ioc;
  tcp::socket client(ioc);
  // libFuzzer's timer signals can interrupt the blocking connect (EINTR, seen once in 41 k runs): try again.
  boost::system::error_code cec;
  do {
    if (client.is_open()) client.close();
    client.connect(h->front->local_endpoint(), cec);
  } while (cec == asio::error::interrupted);
  if (cec) throw boost::system::system_error(cec, "connect");
  // Closed with a reset once the answer is read: the client's side would otherwise sit in TIME_WAIT for 60 s,
  // and at ~1,500 inputs a second the loopback's ephemeral ports run out in half a minute (connect throws).
  client.set_option(asio::socket_base::linger(true, 0));
  tcp::socket server = h->front->accept();
  // A connect interrupted by a signal still completes in the kernel: that connection, closed by the retry above,
  // waits in the backlog ahead of this one, and a session on it would end at once while this client's
  // connection waits unaccepted (libFuzzer reported that as a hang, 1 in ~100-200 k runs). Skip such strays.
  for (boost::system::error_code rec; server.remote_endpoint(rec) != client.local_endpoint(); ++stray_connections)
    server = h->front->accept();

  bool session_done = false, client_done = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, sigv4::app::run_session(*h->w, std::move(server)), [&](std::exception_ptr e) {
    failure = e;
    session_done = true;
  });
  std::string got;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  asio::co_spawn(ioc, client_side(client, input, got, client_done), asio::detached);
  // Every wait of the session is bounded by a timeout of at most 2 s (the config above): 8 s without an end is a
  // hang, reported with what each side was doing before libFuzzer's own 10 s timeout says only "timeout".
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (!(session_done && client_done)) {
    ioc.run_one_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "hang: session %s, client %s; the client read %zu bytes: %.200s\n",
                   session_done ? "ended" : "running", client_done ? "done" : "reading", got.size(), got.c_str());
      check(false, "the session and the client did not both end within 8 s");
    }
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "exception out of run_session: %s\n", e.what());
    }
    std::abort();
  }
  check(got.empty() || got.starts_with("HTTP/1.1 ") || got.starts_with("HTTP/1.0 "),
        "the client read something that is not an HTTP response");
  client_answers += !got.empty();
  return 0;
}
