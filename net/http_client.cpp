#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/url.hpp"

namespace sigv4::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string http_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (beast::iequals(n, name)) return v;
  }
  return {};
}

namespace {

std::string describe(const boost::system::error_code& ec, std::string_view step) {
  if (ec == beast::error::timeout) return std::string(step) + " timed out";
  return std::string(step) + " failed: " + ec.message();
}

template <class Stream>
asio::awaitable<http_response> exchange(Stream& stream, beast::tcp_stream& tcp, const http_request& r,
                                        const url& u, std::size_t max_body) {
  http_response out;
  http::request<http::string_body> req{http::string_to_verb(r.method), u.target, 11};
  req.set(http::field::host, u.host_header());
  req.set(http::field::user_agent, "sigv4-sidecar");
  for (const auto& [n, v] : r.headers) req.set(n, v);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
    req.body() = r.body;
    req.prepare_payload();
  }
  req.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) {
    out.error = describe(wec, "sending the request");
    co_return out;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (rec) {
    out.error = describe(rec, "reading the response");
    co_return out;
  }
  auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  (void)tcp;
  co_return out;
}

}  // namespace

asio::awaitable<http_response> fetch(http_request r, asio::ssl::context* tls, std::size_t max_body) {
  http_response out;
  std::string err;
  auto u = parse_url(r.url, &err);
  if (!u) {
    out.error = "bad URL: " + err;
    co_return out;
  }
  if (http::string_to_verb(r.method) == http::verb::unknown) {
    out.error = "bad method " + r.method;
    co_return out;
  }
  auto ex = co_await asio::this_coro::executor;
  std::string host = u->host;
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);

  beast::tcp_stream tcp_s(ex);
  tcp_s.expires_after(r.timeout);  // the resolver has no timeout of its own; the rest is bounded by this
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(u->port), use_tuple);
  if (rec) {
    out.error = "cannot resolve " + host + ": " + rec.message();
    co_return out;
  }
  auto [cec, ep] = co_await tcp_s.async_connect(endpoints, use_tuple);
  if (cec) {
    out.error = describe(cec, "connecting to " + u->host_header());
    co_return out;
  }
  if (u->scheme == "http") co_return co_await exchange(tcp_s, tcp_s, r, *u, max_body);

  if (tls == nullptr) {
    out.error = "https is not available here";
    co_return out;
  }
  beast::ssl_stream<beast::tcp_stream> tls_s(std::move(tcp_s), *tls);
  boost::system::error_code addr_ec;
  asio::ip::make_address(host, addr_ec);
  if (addr_ec) SSL_set_tlsext_host_name(tls_s.native_handle(), host.c_str());
  tls_s.set_verify_callback(asio::ssl::host_name_verification(host));
  auto [hec] = co_await tls_s.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) {
    out.error = describe(hec, "TLS handshake with " + u->host_header());
    co_return out;
  }
  co_return co_await exchange(tls_s, tls_s.next_layer(), r, *u, max_body);
}

}  // namespace sigv4::net
