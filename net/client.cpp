#include "net/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

namespace sigv4::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string_view client_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (beast::iequals(n, name)) return v;
  }
  return {};
}

namespace {

struct attempt_result {
  client_response response;
  bool retry = false;     // failed before any response byte on a reused connection
  bool reusable = false;  // the connection may go back to the pool
};

template <class Stream>
asio::awaitable<attempt_result> exchange(Stream& stream, connection& c, const upstream_key& key,
                                         const client_request& req, const client_limits& limits,
                                         bool reused) {
  attempt_result out;
  auto fail = [&](failure_kind k, std::string message, bool retryable) {
    out.response.error = failure{k, "upstream " + key.to_string() + ": " + std::move(message)};
    out.retry = retryable;
    return std::move(out);
  };
  http::request<http::string_body> msg{http::string_to_verb(req.method), req.target, 11};
  for (const auto& [n, v] : req.headers) msg.insert(n, v);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    msg.body().assign(req.body);
    msg.prepare_payload();
  }
  c.expires_after(limits.deadline - std::chrono::steady_clock::now());
  auto [wec, wn] = co_await http::async_write(stream, msg, use_tuple);
  if (wec) {
    if (wec == beast::error::timeout)
      co_return fail(failure_kind::timeout, "sending the request timed out", false);
    co_return fail(failure_kind::reset, "sending the request failed: " + wec.message(), reused);
  }
  http::response_parser<http::string_body> p;
  p.header_limit(64 * 1024);
  if (limits.max_body != 0) {
    p.body_limit(limits.max_body);
  } else {
    p.body_limit(boost::none);
  }
  if (req.method == "HEAD") p.skip(true);
  auto [hec, hn] = co_await http::async_read_header(stream, c.buffer, p, use_tuple);
  if (hec) {
    const bool nothing_yet = !p.got_some();
    if (hec == beast::error::timeout) co_return fail(failure_kind::timeout, "no response in time", false);
    if (hec == http::error::end_of_stream || hec == asio::error::eof)
      co_return fail(failure_kind::closed, "connection closed before a response", reused && nothing_yet);
    if (hec == asio::error::connection_reset || hec == asio::error::broken_pipe)
      co_return fail(failure_kind::reset, "connection reset before a response", reused && nothing_yet);
    co_return fail(failure_kind::protocol, "invalid response: " + hec.message(), reused && nothing_yet);
  }
  out.response.status = p.get().result_int();
  for (const auto& f : p.get())
    out.response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  if (!p.is_done()) {
    auto [bec, bn] = co_await http::async_read(stream, c.buffer, p, use_tuple);
    if (bec == http::error::body_limit) {
      out.response.body_too_large = true;
      co_return fail(failure_kind::protocol,
                     "body larger than the limit of " + std::to_string(limits.max_body) + " bytes", false);
    }
    if (bec == beast::error::timeout)
      co_return fail(failure_kind::timeout, "reading the body timed out", false);
    if (bec && !(bec == asio::ssl::error::stream_truncated && p.is_done())) {
      co_return fail(failure_kind::reset, "reading the body failed: " + bec.message(), false);
    }
  }
  out.response.body = std::move(p.get().body());
  out.reusable = p.keep_alive() && p.is_done();
  co_return out;
}

}  // namespace

asio::awaitable<client_response> round_trip(upstream_pool& pool, const client_request& request,
                                            client_limits limits) {
  attempt_result r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = attempt == 0 ? pool.take_idle() : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      failure err{failure_kind::protocol, {}};
      conn = co_await pool.connect(err);
      if (!conn) {
        client_response out;
        out.error = std::move(err);
        co_return out;
      }
    }
    if (std::chrono::steady_clock::now() >= limits.deadline) {
      client_response out;
      out.error =
          failure{failure_kind::timeout, "upstream " + pool.key().to_string() + ": timed out connecting"};
      co_return out;
    }
    r = co_await std::visit(
        [&](auto& stream) { return exchange(stream, *conn, pool.key(), request, limits, reused); },
        conn->stream);
    ++conn->exchanges;
    if (r.retry && attempt == 0) continue;
    if (r.reusable && !r.response.error) {
      conn->expires_never();
      pool.release(std::move(conn));
    }
    break;
  }
  co_return std::move(r.response);
}

}  // namespace sigv4::net
