#include "net/url.hpp"

#include <gtest/gtest.h>

namespace sigv4::net {
namespace {

TEST(url, splits_and_keeps_target_bytes) {
  auto u = parse_url("HTTPS://Example.AmazonAWS.com/a%2Fb/c d/\xe1\x88\xb4?x=1&y");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.amazonaws.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/a%2Fb/c d/\xe1\x88\xb4?x=1&y");
  EXPECT_EQ(u->host_header(), "example.amazonaws.com");
}

TEST(url, default_and_explicit_ports) {
  EXPECT_EQ(parse_url("http://h")->target, "/");
  EXPECT_EQ(parse_url("http://h?q=1")->target, "/?q=1");
  EXPECT_EQ(parse_url("http://h:80/")->host_header(), "h");
  EXPECT_EQ(parse_url("https://h:443/")->host_header(), "h");
  EXPECT_EQ(parse_url("http://h:443/")->host_header(), "h:443");
  EXPECT_EQ(parse_url("http://127.0.0.1:8005/x")->host_header(), "127.0.0.1:8005");
  auto v6 = parse_url("http://[::1]:9090/metrics");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 9090);
  EXPECT_EQ(v6->host_header(), "[::1]:9090");
}

TEST(url, rejects_what_cannot_be_signed_safely) {
  std::string err;
  for (auto bad : {"example.com/x", "ftp://h/", "http://user:pw@h/", "http://h/#frag", "http://h:0/",
                   "http://h:65536/", "http://h:x/", "http:///x", "http://[::1/", "http://h\r\nX: y/",
                   "http://h/a\r\nInjected: 1", "http://h o/"}) {
    EXPECT_FALSE(parse_url(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
    err.clear();
  }
}

}  // namespace
}  // namespace sigv4::net
