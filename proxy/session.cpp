// One client connection: read a request, decide where it goes, strip what must not travel, sign, forward
// over a pooled upstream connection and stream the response back.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "obs/log.hpp"
#include "proxy/fast_io.hpp"
#include "proxy/forward.hpp"
#include "proxy/hashing_body.hpp"
#include "proxy/server.hpp"
#include "signer/canonical.hpp"
#include "signer/time.hpp"

namespace sigv4::app {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

bool has_body_pending(const http::request_parser<hashing_body>& p) { return !p.is_done(); }

std::size_t header_bytes(const http::request<hashing_body>& req) {
  std::size_t n = req.method_string().size() + req.target().size() + 12;
  for (const auto& f : req) n += f.name_string().size() + f.value().size() + 4;
  return n;
}

bool only_chunked(const http::request<hashing_body>& req) {
  if (req.count(http::field::transfer_encoding) != 1) return false;
  std::string_view v = req[http::field::transfer_encoding];
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return iequals(v, "chunked");
}

void drop_after(http::request<hashing_body>& req, std::size_t keep) {
  auto it = req.begin();
  for (std::size_t i = 0; i < keep && it != req.end(); ++i) ++it;
  while (it != req.end()) it = req.erase(it);
}

}  // namespace

asio::awaitable<void> run_session(worker& w, tcp::socket socket) {
  shared_state& s = w.shared;
  ++w.active_sessions;
  s.connections.fetch_add(1);
  s.metrics.connections.with({}).add(1);
  struct leave_guard {
    worker& w;
    ~leave_guard() {
      --w.active_sessions;
      w.shared.connections.fetch_sub(1);
      w.shared.metrics.connections.with({}).add(-1);
    }
  } guard{w};

  net::timed_socket client(std::move(socket));
  // Bounded: Beast's parser consumes complete lines as it goes, so only a header (checked below) or a chunk
  // header with endless extensions could fill it, and those must fail, not grow memory.
  // Allocated only while a request is being read: between requests it is empty and freed (see the read below).
  beast::flat_buffer buffer(s.rt.load()->cfg.limits.max_header_bytes + 64 * 1024);
  payload_hasher hasher;
  bool first = true;
  // Set when the session ends on an early answer while the client may still be sending.
  bool linger = false;

  for (;;) {
    auto rt = s.rt.load();
    const auto& t = rt->cfg.timeouts;

    // Wait for the first byte of the next request; an idle connection may be closed by a drain.
    if (buffer.size() == 0) {
      if (s.draining) break;
      client.expires_after(first ? t.client_header : t.client_idle);
      // Into the worker's scratch (a 10 KiB POST in one read) and copied into the session's buffer before the
      // next suspension, so that a connection waiting for its next request holds no read buffer: 16 KiB per
      // idle keep-alive connection otherwise (160 MiB at 10,000), as nginx frees its header buffer. On a new
      // connection a non-blocking read first (the request often came with it); after a response, a wait for
      // readability first: the client has seldom sent its next request yet, and a read that would block is a
      // system call per request for nothing (the wait also reports bytes that arrived before it began).
      w.idle_sessions.insert(&client);
      beast::error_code ec;
      std::size_t n = 0;
      for (bool wait = !first;; wait = true) {
        if (wait) {
          std::tie(ec) = co_await client.async_wait_readable(use_tuple);
          if (ec) break;
        }
        n = client.read_some(asio::buffer(w.read_scratch), ec);
        if (ec != asio::error::would_block) break;
      }
      w.idle_sessions.erase(&client);
      if (ec || n == 0) break;
      buffer.commit(asio::buffer_copy(buffer.prepare(n), asio::buffer(w.read_scratch.data(), n)));
    }
    first = false;

    http::request_parser<hashing_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(rt->cfg.limits.max_header_bytes));
    parser.body_limit(rt->cfg.limits.max_request_body);
    beast::error_code hec;
    parse_buffered(parser, buffer, hec);
    if (!hec && !parser.is_header_done()) {
      client.expires_after(t.client_header);
      buffer.reserve(session_read_bytes);
      std::tie(hec, std::ignore) = co_await http::async_read_header(client, buffer, parser, use_tuple);
    }
    if (hec) {
      if (hec == http::error::end_of_stream || hec == asio::error::connection_reset) break;
      if (hec == beast::error::timeout) {
        s.metrics.client_errors.with({"header_timeout"}).inc();
        co_await send_error(client, 408, "request header not received within " +
                                             std::to_string(t.client_header.count()) + "ms",
                            false, 11);
      } else if (hec == http::error::header_limit || hec == http::error::buffer_overflow) {
        s.metrics.client_errors.with({"header_too_large"}).inc();
        co_await send_error(client, 431,
                            "request header larger than " + std::to_string(rt->cfg.limits.max_header_bytes) +
                                " bytes",
                            false, 11);
      } else if (hec == http::error::body_limit) {
        s.metrics.client_errors.with({"body_too_large"}).inc();
        co_await send_error(client, 413,
                            "request body larger than max_request_body (" +
                                std::to_string(rt->cfg.limits.max_request_body) + " bytes)",
                            false, 11);
      } else {
        s.metrics.client_errors.with({"malformed"}).inc();
        co_await send_error(client, 400, "malformed request: " + hec.message(), false, 11);
      }
      linger = true;
      break;
    }

    const std::size_t header_fields = static_cast<std::size_t>(std::distance(parser.get().begin(), parser.get().end()));
    request_context ctx{.w = w,
                        .rt = rt,
                        .client = client,
                        .start = std::chrono::steady_clock::now(),
                        .route_name = {},
                        .version = 11,
                        .head = false,
                        .client_keep_alive = true,
                        .bytes_in = 0};
    auto& req = parser.get();
    ctx.version = req.version();
    ctx.head = req.method() == http::verb::head;
    ctx.client_keep_alive = req.keep_alive() && !s.draining;
    std::string_view host = req[http::field::host];

    // Beast applies header_limit to each read's worth of header, not to the whole: count it here.
    if (header_bytes(req) > rt->cfg.limits.max_header_bytes) {
      s.metrics.client_errors.with({"header_too_large"}).inc();
      co_await send_error(client, 431,
                          "request header larger than " + std::to_string(rt->cfg.limits.max_header_bytes) + " bytes",
                          false, ctx.version);
      linger = true;
      break;
    }
    // A Transfer-Encoding that does not end in chunked leaves the body length to guesswork (RFC 9112 6.3):
    // the classic smuggling vector. Only plain "chunked" is accepted.
    if (req.count(http::field::transfer_encoding) != 0 && !only_chunked(req)) {
      s.metrics.client_errors.with({"malformed"}).inc();
      co_await send_error(client, 400, "unsupported Transfer-Encoding (only chunked is accepted)", false,
                          ctx.version);
      linger = true;
      break;
    }
    // Both framings at once is how requests are smuggled past proxies: refuse rather than pick one.
    if (req.count(http::field::content_length) != 0 && req.count(http::field::transfer_encoding) != 0) {
      s.metrics.client_errors.with({"malformed"}).inc();
      co_await send_error(client, 400, "request has both Content-Length and Transfer-Encoding", false, ctx.version);
      linger = true;
      break;
    }
    if (ctx.version >= 11 && req.count(http::field::host) != 1) {
      s.metrics.client_errors.with({"malformed"}).inc();
      co_await send_error(client, 400, "HTTP/1.1 request needs exactly one Host header", false, ctx.version);
      linger = true;
      break;
    }

    decision d = decide(*rt, req.method_string(), req.target(), host);
    ctx.route_name = d.what == decision::kind::route     ? d.route->cfg.name
                     : d.what == decision::kind::forward ? std::string("forward-proxy")
                                                         : std::string("none");
    if (d.what == decision::kind::reject) {
      // Unread body bytes would be taken for the next request: close instead.
      bool keep = ctx.client_keep_alive && !has_body_pending(parser);
      co_await finish_with_error(ctx, d.status, d.reason, keep);
      if (!keep) {
        linger = true;
        break;
      }
      continue;
    }

    const creds::credential_store& store =
        d.what == decision::kind::route && d.route->creds != nullptr ? *d.route->creds : s.creds;
    auto creds = store.current();
    if (!creds || creds->creds.empty()) {
      s.metrics.signing_errors.with({ctx.route_name, "no_credentials"}).inc();
      bool keep = ctx.client_keep_alive && !has_body_pending(parser);
      co_await finish_with_error(ctx, 503, "no AWS credentials available: " + store.unavailable_reason() +
                                               "; the request was not sent",
                                 keep);
      if (!keep) {
        linger = true;
        break;
      }
      continue;
    }
    if (creds->expiration && *creds->expiration <= std::chrono::system_clock::now()) {
      s.metrics.signing_errors.with({ctx.route_name, "credentials_expired"}).inc();
      if (s.credentials_expired) s.credentials_expired(&store);
      bool keep = ctx.client_keep_alive && !has_body_pending(parser);
      co_await finish_with_error(ctx, 503,
                                 "AWS credentials from " + creds->provider +
                                     " have expired and could not be refreshed (" + store.unavailable_reason() +
                                     "); the request was not sent",
                                 keep);
      if (!keep) {
        linger = true;
        break;
      }
      continue;
    }

    const bool unsigned_body =
        d.what == decision::kind::route && d.route->cfg.sigv4.unsigned_payload;
    if (has_body_pending(parser)) {
      if (iequals(req[http::field::expect], "100-continue")) {
        client.expires_after(t.client_body);
        std::string_view cont = ctx.version >= 11 ? "HTTP/1.1 100 Continue\r\n\r\n" : "";
        if (!cont.empty()) {
          auto [cec, cn] = co_await asio::async_write(client, asio::buffer(cont), use_tuple);
          if (cec) break;
        }
      }
      parser.get().body().hasher = unsigned_body ? nullptr : &hasher;
      parser.eager(true);
      beast::error_code bec;
      parse_buffered(parser, buffer, bec);
      if (!bec && !parser.is_done()) {
        client.expires_after(t.client_body);
        buffer.reserve(session_read_bytes);
        std::tie(bec, std::ignore) = co_await http::async_read(client, buffer, parser, use_tuple);
      }
      if (bec) {
        if (bec == http::error::body_limit) {
          s.metrics.client_errors.with({"body_too_large"}).inc();
          co_await finish_with_error(ctx, 413,
                                     "request body larger than max_request_body (" +
                                         std::to_string(rt->cfg.limits.max_request_body) + " bytes)",
                                     false);
        } else if (bec == beast::error::timeout) {
          s.metrics.client_errors.with({"body_timeout"}).inc();
          co_await finish_with_error(
              ctx, 408, "request body not received within " + std::to_string(t.client_body.count()) + "ms",
              false);
        } else if (bec != http::error::end_of_stream && bec != asio::error::connection_reset &&
                   bec != http::error::partial_message) {
          s.metrics.client_errors.with({"malformed"}).inc();
          co_await finish_with_error(ctx, 400, "malformed request body: " + bec.message(), false);
        }
        // Unless the client has gone (it closed or reset mid-body), it may still be sending.
        linger = bec != http::error::end_of_stream && bec != asio::error::connection_reset &&
                 bec != http::error::partial_message;
        break;
      }
    }

    if (buffer.size() == 0) buffer.shrink_to_fit();  // nothing pipelined: free it while the request is forwarded
    http::request<hashing_body> up = parser.release();
    // Beast appends chunked trailer fields to the header fields: trailers are not forwarded (nor signed).
    drop_after(up, header_fields);
    const std::string payload_hash = unsigned_body                 ? std::string(unsigned_payload)
                                     : up.body().data.empty()      ? std::string(empty_payload_sha256)
                                                                   : hasher.finish_hex();
    up.body().hasher = nullptr;
    ctx.bytes_in = up.body().data.size();
    co_await forward(ctx, d, std::move(up), payload_hash, *creds);
    if (!ctx.client_keep_alive) break;
  }

  if (linger) {
    s.metrics.lingering_closes.with({"session"}).inc();
    co_await net::lingering_close(client, s.rt.load()->cfg.timeouts.lingering_close);
    co_return;
  }
  beast::error_code ec;
  client.socket().shutdown(tcp::socket::shutdown_send, ec);
  client.close();
}

}  // namespace sigv4::app
