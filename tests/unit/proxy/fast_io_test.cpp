// The heads the proxy writes by hand (proxy/fast_io.hpp) are the bytes Beast's serializer writes for the same
// message: they replaced it on the hot path, so any difference would be a change on the wire.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <sstream>
#include <string>

#include "proxy/fast_io.hpp"

namespace sigv4::app {
namespace {

namespace http = boost::beast::http;

template <bool isRequest>
std::string beast_head(const http::header<isRequest>& h) {
  std::ostringstream os;
  os << h;
  return os.str();
}

TEST(fast_io, request_head_is_what_beast_writes) {
  http::request<http::empty_body> req{http::verb::post, "/workspaces/ws-1/api/v1/remote_write?a=b%20c", 11};
  req.set(http::field::host, "aps-workspaces.us-east-1.amazonaws.com");
  req.insert("X-Amz-Date", "20261203T120000Z");
  req.insert("x-custom", "");  // an empty value
  req.insert(http::field::content_length, "10");
  req.insert("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/aps/aws4_request, X=y");
  req.insert("X-Dup", "1");
  req.insert("X-Dup", "2");  // repeated fields keep their order
  std::string out;
  append_request_head(out, req);
  EXPECT_EQ(out, beast_head(req.base()));
  EXPECT_TRUE(out.starts_with("POST /workspaces/ws-1/api/v1/remote_write?a=b%20c HTTP/1.1\r\nHost: "));

  http::request<http::empty_body> old{http::verb::get, "/", 10};
  std::string out10;
  append_request_head(out10, old);
  EXPECT_EQ(out10, beast_head(old.base()));
  EXPECT_EQ(out10, "GET / HTTP/1.0\r\n\r\n");
}

TEST(fast_io, response_head_is_what_beast_writes) {
  // As parsed from an upstream: a reason of its own is kept.
  http::response_parser<http::empty_body> p;
  boost::beast::error_code ec;
  const std::string wire = "HTTP/1.1 404 Nope Not Here\r\nServer: nginx\r\nContent-Length: 0\r\nETag: \"x\"\r\n\r\n";
  p.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string out;
  append_response_head(out, p.get());
  EXPECT_EQ(out, beast_head(p.get().base()));
  EXPECT_EQ(out, wire);

  // Built here: no reason given, the standard one; HTTP/1.0; chunked.
  for (unsigned version : {10u, 11u}) {
    for (auto status : {http::status::ok, http::status::no_content, http::status::bad_gateway}) {
      http::response<http::empty_body> res{status, version};
      res.set(http::field::content_type, "text/plain");
      res.chunked(version == 11);
      res.keep_alive(false);
      std::string o;
      append_response_head(o, res);
      EXPECT_EQ(o, beast_head(res.base())) << version << " " << static_cast<int>(status);
    }
  }
}

}  // namespace
}  // namespace sigv4::app
