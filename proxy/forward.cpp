#include "proxy/forward.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/container/small_vector.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <variant>

#include "obs/log.hpp"
#include "proxy/fast_io.hpp"
#include "proxy/server.hpp"
#include "signer/signer.hpp"

namespace sigv4::app {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

using clock = std::chrono::steady_clock;

// The values of the Connection headers (almost always none or one), found in one walk of the field list: the
// headers they name are hop-by-hop too.
using connection_values = boost::container::small_vector<std::string_view, 2>;
connection_values connection_headers(const http::fields& f) {
  connection_values out;
  for (const auto& field : f) {
    if (field.name() == http::field::connection) out.push_back(field.value());
  }
  return out;
}

// Whether a Connection header lists `name` (any case).
bool named_by_connection(const connection_values& values, std::string_view name) {
  for (std::string_view v : values) {
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      if (comma == std::string_view::npos) comma = v.size();
      auto tok = v.substr(start, comma - start);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty() && iequals(tok, name)) return true;
      start = comma + 1;
    }
  }
  return false;
}

bool hop_by_hop(const http::fields::value_type& f) {
  switch (f.name()) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
      return true;
    default: {
      std::string_view n = f.name_string();
      return n.size() >= 6 && iequals(n.substr(0, 6), "proxy-");
    }
  }
}

// Whether `names` (strings or string_views) lists `name`, in any case.
template <class Names>
bool listed(std::string_view name, const Names& names) {
  for (const auto& x : names) {
    if (iequals(name, x)) return true;
  }
  return false;
}

// What must not travel upstream: hop-by-hop headers, the client's own signing headers (we sign afresh),
// Expect (answered here) and the route's strip list. Compared in place, without lower-cased copies: this
// runs on every header of every request.
void strip_request_headers(http::fields& f, const std::vector<std::string>& strip) {
  const connection_values named = connection_headers(f);
  for (auto it = f.begin(); it != f.end();) {
    const auto id = it->name();
    if (id == http::field::connection) {
      ++it;  // erased last: it names others
      continue;
    }
    const std::string_view n = it->name_string();
    bool drop = hop_by_hop(*it) || id == http::field::expect ||
                ((id == http::field::authorization || id == http::field::unknown) && listed(n, signer_written_headers)) ||
                listed(n, strip) || named_by_connection(named, n);
    it = drop ? f.erase(it) : std::next(it);
  }
  if (!named.empty()) f.erase(http::field::connection);
}

void strip_response_headers(http::fields& f) {
  const connection_values named = connection_headers(f);
  for (auto it = f.begin(); it != f.end();) {
    // Transfer-Encoding stays: the serializer re-frames the body according to it. Connection goes last.
    const auto id = it->name();
    bool drop = id != http::field::transfer_encoding && id != http::field::connection &&
                (hop_by_hop(*it) || named_by_connection(named, it->name_string()));
    it = drop ? f.erase(it) : std::next(it);
  }
  if (!named.empty()) f.erase(http::field::connection);
}

// The canonical request carries the session token in its x-amz-security-token line: never log it.
std::string redact_token(std::string text) {
  auto at = text.find("x-amz-security-token:");
  if (at != std::string::npos) {
    auto end = text.find('\n', at);
    text.replace(at + 21, (end == std::string::npos ? text.size() : end) - at - 21, "<redacted>");
  }
  return text;
}

obs::rate_limiter& mismatch_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(10));
  return l;
}

obs::rate_limiter& upstream_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(1));
  return l;
}

enum class outcome { done, retry, failed, broken };

struct exchange_result {
  outcome what = outcome::failed;
  bool reusable = false;
  net::failure fail{net::failure_kind::protocol, {}};
  int status = 0;
  std::size_t bytes_out = 0;
};

struct exchange_args {
  request_context& ctx;
  const net::upstream_key& key;
  const sigv4::header_signature& sig;
  bool reused;
};

// An upstream 403 that says the signature does not match: count it, and log (rate-limited) what we signed.
void check_signature_mismatch(std::string_view first_body_bytes, request_context& ctx, const exchange_args& a) {
  if (first_body_bytes.find("signature we calculated does not match") == std::string_view::npos &&
      first_body_bytes.find("SignatureDoesNotMatch") == std::string_view::npos) {
    return;
  }
  ctx.w.shared.metrics.signature_mismatches.with({ctx.route_name}).inc();
  std::uint64_t suppressed = 0;
  if (mismatch_log_limiter().allow(suppressed)) {
    obs::warn("upstream says the signature does not match; compare with its expected canonical request",
              {{"route", ctx.route_name},
               {"upstream", a.key.to_string()},
               {"canonical_request", redact_token(a.sig.canonical_request)},
               {"string_to_sign", a.sig.string_to_sign},
               {"suppressed", suppressed}});
  }
}

// Writes all of `buffers`: at once as far as the socket takes them (it nearly always takes them all), the rest
// asynchronously, after `going_async()` has set the deadline for that.
template <class Stream, class Buffers, class F>
asio::awaitable<beast::error_code> write_all(Stream& stream, const Buffers& buffers, F going_async) {
  beast::error_code ec;
  const std::size_t sent = write_now(stream, buffers, ec);
  if (!ec && sent < asio::buffer_size(buffers)) {
    going_async();
    beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(sent);
    std::tie(ec, std::ignore) = co_await asio::async_write(stream, rest, use_tuple);
  }
  co_return ec;
}

// Sends to the client what is left of the response head (then clears it), one body piece as the response frames
// it (a chunk when chunked; nothing for an empty piece) and, when `last` and chunked, the last chunk. At once
// when the socket takes it all, as it nearly always does.
asio::awaitable<beast::error_code> send_piece(net::timed_socket& client, std::string& head, bool chunked,
                                              std::string_view piece, bool last, std::chrono::milliseconds timeout) {
  char size_line[24];
  std::size_t size_len = 0;
  const bool framed = chunked && !piece.empty();
  if (framed) {
    auto [end, ec] = std::to_chars(size_line, size_line + 16, piece.size(), 16);
    end[0] = '\r';
    end[1] = '\n';
    size_len = static_cast<std::size_t>(end + 2 - size_line);
  }
  static constexpr std::string_view crlf = "\r\n", last_chunk = "0\r\n\r\n";
  const std::array<asio::const_buffer, 5> out{
      asio::buffer(head), asio::buffer(size_line, size_len), asio::buffer(piece.data(), piece.size()),
      asio::buffer(crlf.data(), framed ? crlf.size() : 0),
      asio::buffer(last_chunk.data(), chunked && last ? last_chunk.size() : 0)};
  auto ec = co_await write_all(client, out, [&] { client.expires_after(timeout); });
  head.clear();
  co_return ec;
}

template <class Stream>
asio::awaitable<exchange_result> exchange(Stream& up, net::connection& c, http::request<hashing_body>& req,
                                          exchange_args a) {
  auto& ctx = a.ctx;
  auto& s = ctx.w.shared;
  const auto& t = ctx.rt->cfg.timeouts;
  const auto upstream_start = clock::now();
  exchange_result r;
  auto fail = [&](net::failure_kind k, std::string msg, bool retryable) {
    r.what = retryable ? outcome::retry : outcome::failed;
    r.fail = {k, "upstream " + a.key.to_string() + ": " + std::move(msg)};
    return r;
  };

  // Head and body as two buffers. The deadline covers the rest of the write and the response header.
  std::string head;  // the request's, then the response's
  head.reserve(1024);
  append_request_head(head, req);
  const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(req.body().data)};
  c.expires_after(t.upstream_response_header);
  auto wec = co_await write_all(up, out, [] {});
  if (wec) {
    if (wec == beast::error::timeout) co_return fail(net::failure_kind::timeout, "sending the request timed out", false);
    co_return fail(net::failure_kind::reset, "sending the request failed: " + wec.message(), a.reused);
  }

  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  p.header_limit(64 * 1024);
  if (ctx.head) p.skip(true);
  auto [rec, rn] = co_await http::async_read_header(up, c.buffer, p, use_tuple);
  if (rec) {
    if (rec == beast::error::timeout) {
      co_return fail(net::failure_kind::timeout,
                     "no response header within " + std::to_string(t.upstream_response_header.count()) + "ms",
                     false);
    }
    const bool nothing_yet = !p.got_some();
    if (rec == http::error::end_of_stream || rec == asio::error::eof) {
      co_return fail(net::failure_kind::closed, "connection closed before a response", a.reused && nothing_yet);
    }
    if (rec == asio::error::connection_reset || rec == asio::error::broken_pipe) {
      co_return fail(net::failure_kind::reset, "connection reset before a response", a.reused && nothing_yet);
    }
    co_return fail(net::failure_kind::protocol, "invalid response: " + rec.message(), a.reused && nothing_yet);
  }
  s.metrics.upstream_duration.with({ctx.route_name})
      .observe(std::chrono::duration<double>(clock::now() - upstream_start).count());

  auto& res = p.get();
  r.status = res.result_int();
  strip_response_headers(res);
  const bool body_ahead = !ctx.head && !p.is_done();
  if (body_ahead && !res.has_content_length() && !res.chunked()) {
    // Delimited by the upstream closing: re-frame as chunked for HTTP/1.1 clients, close for HTTP/1.0 ones.
    if (ctx.version >= 11) {
      res.chunked(true);
    } else {
      ctx.client_keep_alive = false;
    }
  }
  res.version(ctx.version);
  res.keep_alive(ctx.client_keep_alive);

  // The head goes out with the first body bytes; head and pieces as plain buffers, chunk-framed when
  // re-chunked, not through Beast's serializer.
  head.clear();
  append_response_head(head, res);
  const bool chunked = res.chunked();
  if (!body_ahead) {
    // HEAD, or no body at all (a 204, a 304, Content-Length: 0): the head alone.
    auto hec = co_await send_piece(ctx.client, head, false, {}, false, t.client_body);
    r.what = hec ? outcome::broken : outcome::done;
    r.reusable = !hec && p.keep_alive() && p.is_done();
    co_return r;
  }

  // The body's relay buffer, no larger than the body: a buffer in the coroutine frame cost 16 KiB for every
  // exchange in flight, most of them waiting for their response header or answered without a body.
  const std::size_t cap = static_cast<std::size_t>(
      std::clamp<std::uint64_t>(p.content_length().value_or(16384), 1, 16384));
  const auto buf = std::make_unique_for_overwrite<char[]>(cap);
  bool checked_mismatch = r.status != 403;
  bool sent_to_client = false;  // the status line and headers went out (with the first body bytes)
  p.eager(true);
  // One socket read, parse it, pass on what it held: a chunk reaches the client as soon as it arrives. (Beast's
  // async_read_some on a parser would keep reading until its body buffer is full or the message ends.)
  for (;;) {
    res.body().data = buf.get();
    res.body().size = cap;
    beast::error_code ec;
    parse_buffered(p, c.buffer, ec);
    while (!ec && res.body().size == cap && !p.is_done()) {
      c.expires_after(t.upstream_response_header);
      auto [rec, n] = co_await up.async_read_some(c.buffer.prepare(16384), use_tuple);
      c.buffer.commit(n);
      if (rec == asio::error::eof || rec == asio::ssl::error::stream_truncated) {
        if (n == 0) {
          p.put_eof(ec);  // completes a close-delimited body; anything else was cut short
          break;
        }
      } else if (rec) {
        ec = rec;
        break;
      }
      parse_buffered(p, c.buffer, ec);
    }
    if (ec) {
      const bool timed_out = ec == beast::error::timeout;
      if (!sent_to_client) {
        // Nothing has reached the client yet (the status line goes out with the first body bytes): it
        // gets a 502/504 with the reason like any failed exchange (forward counts the error).
        r.what = outcome::failed;
        r.fail = {timed_out ? net::failure_kind::timeout : net::failure_kind::reset,
                  "upstream " + a.key.to_string() + ": response body cut short before any of it was relayed: " +
                      ec.message()};
        co_return r;
      }
      // The status line is already on its way to the client: all that can be done is to cut the
      // connection so the client sees a truncated response, never a complete-looking one.
      s.metrics.upstream_errors.with({a.key.to_string(), timed_out ? "timeout" : "reset"}).inc();
      r.what = outcome::broken;
      r.fail = {net::failure_kind::reset, "upstream " + a.key.to_string() + ": body cut short: " + ec.message()};
      co_return r;
    }
    const std::string_view piece(buf.get(), cap - res.body().size);
    r.bytes_out += piece.size();
    if (!checked_mismatch && !piece.empty()) {
      checked_mismatch = true;
      check_signature_mismatch(piece, ctx, a);
    }
    const bool last = p.is_done();
    if (auto wec = co_await send_piece(ctx.client, head, chunked, piece, last, t.client_body)) {
      r.what = outcome::broken;
      co_return r;
    }
    sent_to_client = true;
    if (last) break;
  }
  r.what = outcome::done;
  r.reusable = p.keep_alive();
  co_return r;
}

void record(request_context& ctx, int status, std::size_t bytes_out) {
  auto& m = ctx.w.shared.metrics;
  m.requests.with({ctx.route_name, std::to_string(status)}).inc();
  m.request_duration.with({ctx.route_name})
      .observe(std::chrono::duration<double>(clock::now() - ctx.start).count());
  if (ctx.bytes_in) m.bytes_in.with({ctx.route_name}).inc(ctx.bytes_in);
  if (bytes_out) m.bytes_out.with({ctx.route_name}).inc(bytes_out);
}

}  // namespace

asio::awaitable<void> send_error(net::timed_socket& client, int status, std::string reason, bool keep_alive,
                                 unsigned version) {
  http::response<http::string_body> res{static_cast<http::status>(status), version >= 11 ? 11u : 10u};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::server, "sigv4-sidecar");
  res.body() = std::move(reason);
  res.body() += '\n';
  res.keep_alive(keep_alive);
  res.prepare_payload();
  client.expires_after(std::chrono::seconds(5));
  co_await http::async_write(client, res, use_tuple);
}

asio::awaitable<void> finish_with_error(request_context& ctx, int status, std::string reason, bool keep_alive) {
  if (status >= 500) {
    std::uint64_t suppressed = 0;
    if (upstream_log_limiter().allow(suppressed)) {
      obs::warn("request failed", {{"route", ctx.route_name}, {"status", status}, {"reason", reason},
                                   {"suppressed", suppressed}});
    }
  } else {
    obs::debug("request refused", {{"route", ctx.route_name}, {"status", status}, {"reason", reason}});
  }
  ctx.client_keep_alive = keep_alive;
  co_await send_error(ctx.client, status, std::move(reason), keep_alive, ctx.version);
  record(ctx, status, 0);
}

asio::awaitable<void> forward(request_context& ctx, const decision& d, http::request<hashing_body> req,
                              const std::string& payload_hash, const creds::snapshot& creds) {
  auto& s = ctx.w.shared;
  const route_runtime* route = d.what == decision::kind::route ? d.route : nullptr;
  static const std::vector<std::string> no_strip;
  if (route) {
    for (const auto& name : route->cfg.duplicate_headers) {
      auto it = req.find(name);
      if (it != req.end()) req.set("X-Original-" + std::string(it->name_string()), std::string(it->value()));
    }
  }
  strip_request_headers(req, route ? route->cfg.strip_headers : no_strip);
  req.target(d.target);
  req.set(http::field::host, route ? route->host_header : d.host_header);
  if (route) {
    for (const auto& [n, v] : route->cfg.add_headers) req.set(n, v);
  }
  req.version(11);
  req.prepare_payload();

  const std::string& region = route ? route->cfg.sigv4.region : d.region;
  const std::string& service = route ? route->cfg.sigv4.service : d.service;
  const bool is_s3 = service == "s3";
  static const header_policy default_policy = header_policy::defaults();
  std::vector<header> view;
  view.reserve(16);
  for (const auto& f : req) view.push_back({f.name_string(), f.value()});
  signing_params params{.region = region,
                        .service = service,
                        .time = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()),
                        .path = is_s3 ? path_rule::s3() : path_rule::standard(),
                        .payload_hash = payload_hash,
                        .content_sha256_header = is_s3 || payload_hash == unsigned_payload,
                        .policy = route ? &route->policy : &default_policy};
  const header_signature sig = s.signing.sign_headers({req.method_string(), req.target(), view}, creds.creds, params);
  for (const auto& h : sig.headers) req.insert(h.name, h.value);
  if (ctx.rt->cfg.log_signing) {
    obs::info("signed", {{"route", ctx.route_name},
                         {"canonical_request", redact_token(sig.canonical_request)},
                         {"string_to_sign", sig.string_to_sign}});
  }

  const net::upstream_key& key = route ? route->key : d.key;
  net::upstream_pool& pool = ctx.w.pool_for(key, *ctx.rt);
  exchange_result r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = attempt == 0 ? pool.take_idle() : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      net::failure err{net::failure_kind::protocol, {}};
      conn = co_await pool.connect(err);
      if (!conn) {
        s.metrics.upstream_errors.with({key.to_string(), std::string(net::to_string(err.kind))}).inc();
        int status = err.kind == net::failure_kind::connect_timeout ? 504 : 502;
        co_await finish_with_error(ctx, status, err.message, ctx.client_keep_alive);
        co_return;
      }
    }
    exchange_args args{ctx, key, sig, reused};
    r = co_await std::visit([&](auto& stream) { return exchange(stream, *conn, req, args); }, conn->stream);
    ++conn->exchanges;
    if (r.what == outcome::retry && attempt == 0) {
      s.metrics.upstream_retries.with({key.to_string()}).inc();
      obs::debug("retrying on a fresh connection", {{"upstream", key.to_string()}, {"reason", r.fail.message}});
      continue;
    }
    if (r.what == outcome::done && r.reusable) pool.release(std::move(conn));
    break;
  }

  switch (r.what) {
    case outcome::done:
      record(ctx, r.status, r.bytes_out);
      if (r.status >= 400 && ctx.rt->cfg.log_failed_requests) {
        obs::warn("upstream answered with an error",
                  {{"route", ctx.route_name}, {"status", r.status}, {"upstream", key.to_string()}});
      }
      if (obs::enabled(obs::level::debug)) {  // key.to_string() is not free, and this runs on every request
        obs::debug("request", {{"route", ctx.route_name}, {"status", r.status}, {"upstream", key.to_string()}});
      }
      break;
    case outcome::retry:
    case outcome::failed: {
      s.metrics.upstream_errors.with({key.to_string(), std::string(net::to_string(r.fail.kind))}).inc();
      int status = r.fail.kind == net::failure_kind::timeout ? 504 : 502;
      co_await finish_with_error(ctx, status, r.fail.message, ctx.client_keep_alive);
      break;
    }
    case outcome::broken:
      ctx.client_keep_alive = false;
      record(ctx, r.status, r.bytes_out);
      if (!r.fail.message.empty()) obs::warn("response cut short", {{"route", ctx.route_name}, {"reason", r.fail.message}});
      break;
  }
}

}  // namespace sigv4::app
