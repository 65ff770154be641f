// AWS's official SigV4 test suite: every case, both variants (Authorization header and presigned query),
// each step checked on its own so a failure names the step that diverged.
#include <gtest/gtest.h>

#include "signer/payload_hash.hpp"
#include "signer/signer.hpp"
#include "tests/support/sigv4_suite.hpp"

namespace sigv4 {
namespace {

struct prepared {
  test::suite_case c;
  std::vector<header> headers;
  std::string payload_hash;
  header_policy policy = header_policy::all();

  explicit prepared(const std::string& name) : c(test::load_case(name)) {
    for (const auto& h : c.headers) headers.push_back({h.name, h.value});
    payload_hash = c.sign_body ? sha256_hex(c.body) : std::string(empty_payload_sha256);
  }
  signing_params params(bool header_variant) const {
    return {.region = c.region,
            .service = c.service,
            .time = c.time,
            .path = {.normalize = c.normalize, .double_encode = true},
            .payload_hash = payload_hash,
            .content_sha256_header = header_variant && c.sign_body,
            .omit_session_token = c.omit_session_token,
            .policy = &policy};
  }
  request_view view() const { return {c.method, c.target, headers}; }

  std::string signed_request(std::string_view target, const std::vector<added_header>& added) const {
    std::string out = c.method + " " + std::string(target) + " HTTP/1.1\n";
    for (const auto& h : c.headers) out += h.line + "\n";
    for (const auto& a : added) out += a.name + ":" + a.value + "\n";
    return out + "\n" + c.body;
  }
};

class suite : public ::testing::TestWithParam<std::string> {};

TEST_P(suite, header_signing) {
  prepared p(GetParam());
  signer s;
  auto r = s.sign_headers(p.view(), p.c.creds, p.params(true));
  EXPECT_EQ(r.canonical_request, p.c.expected("header-canonical-request.txt").value());
  EXPECT_EQ(r.string_to_sign, p.c.expected("header-string-to-sign.txt").value());
  EXPECT_EQ(r.signature, p.c.expected("header-signature.txt").value());
  EXPECT_EQ(p.signed_request(p.c.target, r.headers), p.c.expected("header-signed-request.txt").value());
}

TEST_P(suite, query_signing) {
  prepared p(GetParam());
  signer s;
  auto r = s.presign(p.view(), p.c.creds, p.params(false), std::chrono::seconds(p.c.expires));
  EXPECT_EQ(r.canonical_request, p.c.expected("query-canonical-request.txt").value());
  EXPECT_EQ(r.string_to_sign, p.c.expected("query-string-to-sign.txt").value());
  EXPECT_EQ(r.signature, p.c.expected("query-signature.txt").value());
  EXPECT_EQ(p.signed_request(r.signed_target(p.c.target), {}), p.c.expected("query-signed-request.txt").value());
}

// A cached key must give the same signature as a fresh derivation, whichever case filled the cache first.
TEST(suite_cache, one_signer_for_every_case_matches) {
  signer shared;
  auto names = test::suite_case_names();
  for (int round = 0; round < 2; ++round) {
    for (const auto& name : names) {
      prepared p(name);
      EXPECT_EQ(shared.sign_headers(p.view(), p.c.creds, p.params(true)).signature,
                p.c.expected("header-signature.txt").value())
          << name << " round " << round;
    }
  }
}

TEST(suite_inventory, has_all_38_cases) { EXPECT_EQ(test::suite_case_names().size(), 38u); }

INSTANTIATE_TEST_SUITE_P(v4, suite, ::testing::ValuesIn(test::suite_case_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace sigv4
