#pragma once
// Shortcuts around Asio's completion queue for the common case on loopback: bytes already buffered are parsed
// in place, and a write the socket can take at once is made at once. Each saved asynchronous completion is a
// scheduler round trip (an epoll_wait) and, on a VM, syscalls dominate the proxy's cost per request.
#include <boost/asio/error.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <string>

namespace sigv4::app {

// Feeds the parser what `buffer` holds and consumes it. Returns false with ec set on a parse error;
// need_more and need_buffer are not errors (the caller goes asynchronous, or empties its body buffer).
template <class Parser>
bool parse_buffered(Parser& parser, boost::beast::flat_buffer& buffer, boost::beast::error_code& ec) {
  namespace http = boost::beast::http;
  ec = {};
  while (buffer.size() != 0 && !parser.is_done()) {
    std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) {
      ec = {};
      return true;
    }
    if (ec) return false;
    if (parser.is_header_done() && !parser.eager()) break;
    if (used == 0) break;
  }
  return true;
}

// Each field as "Name: value\r\n", then the blank line that ends a head.
template <class Fields>
void append_fields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out.append(": ", 2);
    out.append(f.value());
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
}

// The request head as the wire carries it, appended to `out`: the bytes Beast's serializer writes for it, without
// its buffer-sequence machinery (a few thousand instructions a request on the proxy's hot path).
template <class Fields>
void append_request_head(std::string& out, const boost::beast::http::request_header<Fields>& h) {
  out.append(h.method_string());
  out += ' ';
  out.append(h.target());
  out.append(" HTTP/", 6);
  out += static_cast<char>('0' + h.version() / 10);
  out += '.';
  out += static_cast<char>('0' + h.version() % 10);
  out.append("\r\n", 2);
  append_fields(out, h);
}

// The response head likewise: the status line (the reason as given, else the standard one) and the fields.
template <class Fields>
void append_response_head(std::string& out, const boost::beast::http::response_header<Fields>& h) {
  out.append("HTTP/", 5);
  out += static_cast<char>('0' + h.version() / 10);
  out += '.';
  out += static_cast<char>('0' + h.version() % 10);
  out += ' ';
  out.append(std::to_string(h.result_int()));
  out += ' ';
  const auto reason = h.reason();
  out.append(reason.empty() ? boost::beast::http::obsolete_reason(h.result()) : reason);
  out.append("\r\n", 2);
  append_fields(out, h);
}

// Writes as much of `buffers` as the stream takes without blocking (the write_some of net::timed_socket and
// net::tls_socket never blocks). Returns the bytes written; ec is set only on a real error.
template <class Stream, class ConstBufferSequence>
std::size_t write_now(Stream& stream, const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
  const std::size_t total = boost::asio::buffer_size(buffers);
  std::size_t done = 0;
  boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
  while (done < total) {
    std::size_t n = stream.write_some(rest, ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
      ec = {};
      break;
    }
    if (ec) break;
    rest.consume(n);
    done += n;
  }
  return done;
}

}  // namespace sigv4::app
