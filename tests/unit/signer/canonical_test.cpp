#include "signer/canonical.hpp"

#include <gtest/gtest.h>

namespace sigv4 {
namespace {

std::string path(std::string_view p, path_rule rule = path_rule::standard()) {
  std::string out;
  append_canonical_path(out, p, rule);
  return out;
}

std::string query(std::string_view q, std::span<const query_param> extra = {}) {
  std::string out;
  append_canonical_query(out, q, extra);
  return out;
}

TEST(canonical_path, normalizes_dot_and_empty_segments) {
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("/a/./b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/b/"), "/a/b/");
  EXPECT_EQ(normalize_path("/a/.."), "/");
  EXPECT_EQ(normalize_path("/a/../"), "/");
  EXPECT_EQ(normalize_path("/../../a"), "/a");
  EXPECT_EQ(normalize_path("//a//b//"), "/a/b/");
  EXPECT_EQ(normalize_path("/a/..."), "/a/...");
}

TEST(canonical_path, standard_rule_encodes_the_wire_path_once_more) {
  EXPECT_EQ(path("/api/v1/push"), "/api/v1/push");
  EXPECT_EQ(path("/a%2Fb"), "/a%252Fb");
  EXPECT_EQ(path("/a b"), "/a%20b");
  EXPECT_EQ(path("/user:pass@x"), "/user%3Apass%40x");
  EXPECT_EQ(path("/\xe1\x88\xb4"), "/%E1%88%B4");
  EXPECT_EQ(path(""), "/");
}

TEST(canonical_path, s3_rule_signs_the_path_as_sent) {
  EXPECT_EQ(path("/bucket/a%2Fb", path_rule::s3()), "/bucket/a%2Fb");
  EXPECT_EQ(path("/bucket/a%2fb", path_rule::s3()), "/bucket/a%2Fb");
  EXPECT_EQ(path("//bucket/./key/..", path_rule::s3()), "//bucket/./key/..");
  EXPECT_EQ(path("/a b:c", path_rule::s3()), "/a%20b%3Ac");
  EXPECT_EQ(path("/100%", path_rule::s3()), "/100%25");
}

TEST(canonical_query, sorts_by_key_then_value_and_keeps_repeats) {
  EXPECT_EQ(query(""), "");
  EXPECT_EQ(query("b=2&a=1"), "a=1&b=2");
  EXPECT_EQ(query("a=2&a=1&a=1"), "a=1&a=1&a=2");
  EXPECT_EQ(query("B=1&a=1"), "B=1&a=1");  // byte order: upper case sorts first
}

TEST(canonical_query, empty_keys_and_values) {
  EXPECT_EQ(query("flag"), "flag=");
  EXPECT_EQ(query("flag="), "flag=");
  EXPECT_EQ(query("=v"), "=v");
  EXPECT_EQ(query("a=1&&b=2&"), "a=1&b=2");
}

TEST(canonical_query, decodes_then_encodes_each_part) {
  EXPECT_EQ(query("k=a%2fb"), "k=a%2Fb");
  EXPECT_EQ(query("k=a/b"), "k=a%2Fb");
  EXPECT_EQ(query("k=%7e"), "k=~");
  EXPECT_EQ(query("k=a b"), "k=a%20b");
  EXPECT_EQ(query("k=a+b"), "k=a%2Bb");  // '+' is a plus, not a space
  EXPECT_EQ(query("k=100%"), "k=100%25");
  EXPECT_EQ(query("k=%zz"), "k=%25zz");
  EXPECT_EQ(query("match[]=up"), "match%5B%5D=up");
  EXPECT_EQ(query("a=b=c"), "a=b%3Dc");
}

TEST(canonical_query, extra_parameters_are_encoded_and_sorted_in) {
  std::vector<query_param> extra = {{"X-Amz-Credential", "AKID/20150830/us-east-1/s/aws4_request"}};
  EXPECT_EQ(query("z=1", extra), "X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs%2Faws4_request&z=1");
}

TEST(canonical_headers, trims_collapses_sorts_and_joins) {
  std::vector<header> h = {{"Host", "example.com"},
                           {"X-Amz-Meta-B", "  two   words\t "},
                           {"x-amz-meta-a", "1"},
                           {"X-AMZ-META-A", "\t2"},
                           {"User-Agent", "prometheus"},
                           {"Content-Type", "application/x-protobuf"},
                           {"X-Forwarded-For", "10.0.0.1"},
                           {"Accept", "*/*"}};
  auto c = build_canonical_headers(h, header_policy::defaults());
  EXPECT_EQ(c.block,
            "content-type:application/x-protobuf\nhost:example.com\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n");
  EXPECT_EQ(c.signed_headers, "content-type;host;x-amz-meta-a;x-amz-meta-b");
}

TEST(canonical_headers, empty_values_stay_signed) {
  std::vector<header> h = {{"Host", "h"}, {"X-Amz-Empty", "   "}};
  auto c = build_canonical_headers(h, header_policy::defaults());
  EXPECT_EQ(c.block, "host:h\nx-amz-empty:\n");
}

TEST(header_policy, defaults_and_extensions) {
  auto p = header_policy::defaults();
  EXPECT_TRUE(p.should_sign("host"));
  EXPECT_TRUE(p.should_sign("content-encoding"));
  EXPECT_TRUE(p.should_sign("x-amz-target"));
  EXPECT_FALSE(p.should_sign("accept"));
  EXPECT_FALSE(p.should_sign("content-length"));
  p.also_sign("Content-MD5").never_sign("X-Amz-Meta-Secret");
  EXPECT_TRUE(p.should_sign("content-md5"));
  EXPECT_FALSE(p.should_sign("x-amz-meta-secret"));
}

TEST(header_policy, never_signs_what_intermediaries_change) {
  for (auto* p : {new header_policy(header_policy::defaults()), new header_policy(header_policy::all())}) {
    p->also_sign("connection");
    for (const char* name : {"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                             "proxy-authorization", "proxy-connection", "user-agent", "expect",
                             "x-amzn-trace-id", "x-forwarded-for", "x-forwarded-proto"}) {
      EXPECT_FALSE(p->should_sign(name)) << name;
    }
    delete p;
  }
  EXPECT_TRUE(header_policy::all().should_sign("accept"));
}

TEST(uri_encoding, rfc3986_unreserved_only) {
  std::string out;
  append_uri_encoded(out, "AZaz09-._~ !*'()/", false);
  EXPECT_EQ(out, "AZaz09-._~%20%21%2A%27%28%29%2F");
  EXPECT_EQ(uri_decode("%41%zz%4"), "A%zz%4");
}

}  // namespace
}  // namespace sigv4
