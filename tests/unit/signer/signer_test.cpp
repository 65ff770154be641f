#include "signer/signer.hpp"

#include <gtest/gtest.h>

#include <string>

#include "signer/detail/crypto.hpp"
#include "signer/payload_hash.hpp"
#include "signer/time.hpp"

namespace sigv4 {
namespace {

using namespace std::chrono;

const credentials example{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

TEST(time, formats_and_parses_both_forms) {
  auto t = parse_amz_date("20150830T123600Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_amz_date(*t), "20150830T123600Z");
  EXPECT_EQ(parse_amz_date("2015-08-30T12:36:00Z"), t);
  EXPECT_EQ(format_amz_date(sys_days{2000y / 2 / 29} + 23h + 59min + 59s), "20000229T235959Z");
  for (auto bad : {"", "20150830", "20150830T123600", "20150230T000000Z", "20150830T246000Z", "2015083OT123600Z",
                   "2015-08-30 12:36:00Z"}) {
    EXPECT_FALSE(parse_amz_date(bad)) << bad;
  }
}

TEST(time, iso8601_and_http_dates) {
  EXPECT_EQ(format_iso8601(sys_days{2000y / 2 / 29} + 23h + 59min + 59s), "2000-02-29T23:59:59Z");
  EXPECT_EQ(parse_amz_date(format_iso8601(*parse_amz_date("20150830T123600Z"))), parse_amz_date("20150830T123600Z"));
  auto seconds_of = [](std::string_view s) { return parse_http_date(s)->time_since_epoch().count(); };
  // RFC 9110's example, and the epoch.
  EXPECT_EQ(seconds_of("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(seconds_of("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(seconds_of("Tue, 01 Dec 2026 22:26:03 GMT"), 1796163963);
  // Obsolete forms, wrong zones, impossible dates and truncations are refused, not guessed.
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 24:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:3"));
  EXPECT_FALSE(parse_http_date(""));
}

// The signing key example from the SigV4 documentation.
TEST(signing_key, documented_example) {
  auto key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
  EXPECT_EQ(detail::to_hex(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(crypto, hmac_matches_rfc4231_with_long_key) {
  // RFC 4231 test case 6: a 131-byte key is hashed first.
  std::string key(131, '\xaa');
  auto mac = detail::hmac_sha256({reinterpret_cast<const unsigned char*>(key.data()), key.size()},
                                 "Test Using Larger Than Block-Size Key - Hash Key First");
  EXPECT_EQ(detail::to_hex(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(payload_hasher, streaming_equals_one_shot) {
  std::string body(100000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 + 7);
  payload_hasher h;
  for (std::size_t at = 0; at < body.size(); at += 4093) h.update(std::string_view(body).substr(at, 4093));
  EXPECT_EQ(h.finish_hex(), sha256_hex(body));
  EXPECT_EQ(h.finish_hex(), std::string(empty_payload_sha256));  // finish resets
}

TEST(signer, session_token_signed_or_omitted) {
  credentials c = example;
  c.session_token = "TOKEN/with+chars=";
  std::vector<header> h = {{"Host", "example.amazonaws.com"}};
  signer s;
  signing_params p{.region = "us-east-1", .service = "service", .time = *parse_amz_date("20150830T123600Z")};
  auto signed_in = s.sign_headers({"GET", "/", h}, c, p);
  EXPECT_EQ(signed_in.headers[0].name, "X-Amz-Security-Token");
  EXPECT_EQ(signed_in.headers[0].value, c.session_token);
  EXPECT_NE(signed_in.canonical_request.find("x-amz-security-token:TOKEN/with+chars=\n"), std::string::npos);
  p.omit_session_token = true;
  auto omitted = s.sign_headers({"GET", "/", h}, c, p);
  EXPECT_EQ(omitted.headers[0].name, "X-Amz-Security-Token");
  EXPECT_EQ(omitted.canonical_request.find("x-amz-security-token"), std::string::npos);
  EXPECT_NE(omitted.signature, signed_in.signature);
}

TEST(signer, content_sha256_header_and_unsigned_payload) {
  std::vector<header> h = {{"Host", "bucket.s3.amazonaws.com"}};
  signer s;
  signing_params p{.region = "us-east-1",
                   .service = "s3",
                   .time = *parse_amz_date("20150830T123600Z"),
                   .path = path_rule::s3(),
                   .payload_hash = unsigned_payload,
                   .content_sha256_header = true};
  auto r = s.sign_headers({"PUT", "/key%2Fwith%2Fslashes", h}, example, p);
  ASSERT_EQ(r.headers.size(), 3u);
  EXPECT_EQ(r.headers[1].name, "x-amz-content-sha256");
  EXPECT_EQ(r.headers[1].value, "UNSIGNED-PAYLOAD");
  EXPECT_NE(r.canonical_request.find("\n/key%2Fwith%2Fslashes\n"), std::string::npos);
  EXPECT_TRUE(r.canonical_request.ends_with("\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"));
}

TEST(signer, never_mutates_and_ignores_unsigned_headers) {
  std::vector<header> a = {{"Host", "h"}, {"User-Agent", "one"}, {"Accept", "x"}};
  std::vector<header> b = {{"Host", "h"}, {"User-Agent", "two"}, {"X-Forwarded-For", "1.2.3.4"}};
  signer s;
  signing_params p{.region = "r", .service = "s", .time = *parse_amz_date("20200101T000000Z")};
  EXPECT_EQ(s.sign_headers({"GET", "/", a}, example, p).signature,
            s.sign_headers({"GET", "/", b}, example, p).signature);
  EXPECT_EQ(a[1].value, "one");
}

TEST(signer, key_cache_tracks_secret_date_region_and_service) {
  signer s;
  std::vector<header> h = {{"Host", "h"}};
  auto sign = [&](const credentials& c, std::string_view date, std::string_view region, std::string_view svc) {
    signing_params p{.region = region, .service = svc, .time = *parse_amz_date(date)};
    return s.sign_headers({"GET", "/", h}, c, p).signature;
  };
  auto fresh = [&](const credentials& c, std::string_view date, std::string_view region, std::string_view svc) {
    signer other;
    signing_params p{.region = region, .service = svc, .time = *parse_amz_date(date)};
    return other.sign_headers({"GET", "/", h}, c, p).signature;
  };
  credentials rotated = example;
  rotated.secret_access_key = "another-secret";
  for (int i = 0; i < 20; ++i) {  // more combinations than cache slots, twice over
    std::string region = "region-" + std::to_string(i % 11);
    for (const credentials* c : {&example, static_cast<const credentials*>(&rotated)}) {
      for (auto date : {"20200101T000000Z", "20200102T000000Z"}) {
        EXPECT_EQ(sign(*c, date, region, "aps"), fresh(*c, date, region, "aps"));
        EXPECT_EQ(sign(*c, date, region, "execute-api"), fresh(*c, date, region, "execute-api"));
      }
    }
  }
}

TEST(signer, presigned_target_appends_after_existing_query) {
  signer s;
  std::vector<header> h = {{"Host", "h"}};
  signing_params p{.region = "r", .service = "s", .time = *parse_amz_date("20200101T000000Z")};
  auto q = s.presign({"GET", "/x?a=1", h}, example, p, seconds(60));
  EXPECT_TRUE(q.signed_target("/x?a=1").starts_with("/x?a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
  EXPECT_TRUE(q.signed_target("/x").starts_with("/x?X-Amz-Algorithm="));
  EXPECT_TRUE(q.signed_target("/x?").starts_with("/x?X-Amz-Algorithm="));
  EXPECT_NE(q.query_suffix.find("&X-Amz-Expires=60&"), std::string::npos);
  EXPECT_TRUE(q.query_suffix.ends_with("&X-Amz-Signature=" + q.signature));
}

}  // namespace
}  // namespace sigv4
