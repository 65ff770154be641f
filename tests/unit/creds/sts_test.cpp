// STS over the Query protocol with a scripted HTTP function: the requests we send (form, signature, Host) and
// how we read STS's real XML answers and error documents. No sockets, no sleeping.
#include "creds/sts.hpp"

#include "creds/chain.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "signer/detail/crypto.hpp"
#include "signer/signer.hpp"

namespace sigv4::creds {
namespace {

using namespace std::chrono;
namespace asio = boost::asio;
using time_point = system_clock::time_point;
const time_point t0 = time_point(sys_days{2026y / 11 / 27} + 12h);  // 20261127T120000Z, 1795780800

const std::string endpoint_url = "http://127.0.0.1:1234";
const std::string base_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::string base_token = "IQoJb3JpZ2luX2VjEBASESSIONTOKEN/base+token==";
// Not shaped like a real access key id (20 upper-case letters and digits), so no scanner takes it for one.
const std::string issued_key = "sts-test-issued-key-1";
const std::string issued_secret = "ISSUEDsecretKEYdoNotLeak/abc+def";
const std::string issued_token = "FwoGZXIvYXdzEISSUEDtokenDoNotLeak//////////wEXAMPLE";
const std::string web_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl";

// What STS answers, in the shape of the examples in the STS API reference (and tests/support/fake_aws.py).
std::string credentials_document(const std::string& action, const std::string& expiration) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
         "  <" + action + "Result>\n"
         "    <AssumedRoleUser>\n"
         "      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:demo-session</AssumedRoleId>\n"
         "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/demo-session</Arn>\n"
         "    </AssumedRoleUser>\n"
         "    <Credentials>\n"
         "      <AccessKeyId>" + issued_key + "</AccessKeyId>\n"
         "      <SecretAccessKey>" + issued_secret + "</SecretAccessKey>\n"
         "      <SessionToken>\n       " + issued_token + "\n      </SessionToken>\n"
         "      <Expiration>" + expiration + "</Expiration>\n"
         "    </Credentials>\n"
         "    <PackedPolicySize>6</PackedPolicySize>\n"
         "  </" + action + "Result>\n"
         "  <ResponseMetadata>\n"
         "    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
         "  </ResponseMetadata>\n"
         "</" + action + "Response>\n";
}

std::string error_document(const std::string& code, const std::string& message) {
  return "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
         "  <Error>\n"
         "    <Type>Sender</Type>\n"
         "    <Code>" + code + "</Code>\n"
         "    <Message>" + message + "</Message>\n"
         "  </Error>\n"
         "  <RequestId>f1c7d0a4-6b8e-4f3f-9a1e-2c4b5d6e7f80</RequestId>\n"
         "</ErrorResponse>\n";
}

const std::string caller_identity_document =
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <GetCallerIdentityResult>\n"
    "    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>\n"
    "    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>\n"
    "    <Account>123456789012</Account>\n"
    "  </GetCallerIdentityResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</GetCallerIdentityResponse>\n";

http_response ok(std::string body) {
  return {200, {}, {{"Date", "Fri, 27 Nov 2026 12:00:01 GMT"}, {"Content-Type", "text/xml"}}, std::move(body)};
}

// Records every request and answers from a script (the last answer repeats).
struct fake_sts {
  std::vector<http_request> requests;
  std::deque<http_response> answers;
  http_fn fn() {
    return [this](http_request r) -> asio::awaitable<http_response> {
      requests.push_back(std::move(r));
      auto a = answers.front();
      if (answers.size() > 1) answers.pop_front();
      co_return a;
    };
  }
};

template <class T>
T run(asio::awaitable<T> a) {
  asio::io_context ioc;
  T out{};
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { out = co_await std::move(a); }, asio::detached);
  ioc.run();
  return out;
}

clock_fn fixed(time_point t) {
  return [t] { return t; };
}

sts_endpoint test_endpoint(std::string region = "eu-west-1") { return {endpoint_url, std::move(region), "test"}; }

assume_role_params role(std::string arn) {
  return {.role_arn = std::move(arn), .role_session_name = {}, .external_id = std::nullopt,
          .duration_seconds = std::nullopt};
}

std::string header_of(const http_request& r, std::string_view name) {
  std::string out;
  int found = 0;
  for (const auto& [n, v] : r.headers) {
    if (iequals(n, name)) {
      out = v;
      ++found;
    }
  }
  EXPECT_LE(found, 1) << "header " << name << " sent more than once";
  return out;
}

// The form body as key -> decoded value.
std::map<std::string, std::string> form_of(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  while (at <= body.size()) {
    auto amp = body.find('&', at);
    if (amp == std::string::npos) amp = body.size();
    auto pair = body.substr(at, amp - at);
    auto eq = pair.find('=');
    out[pair.substr(0, eq)] = eq == std::string::npos ? "" : uri_decode(pair.substr(eq + 1));
    at = amp + 1;
  }
  return out;
}

// Recomputes the signature from a canonical request written out by hand here, not by the signer's
// canonicalisation code: only the key derivation (checked against AWS's vectors elsewhere) is shared.
std::string expected_signature(const http_request& r, const std::string& secret, const std::string& region,
                               bool with_token) {
  std::string canonical = "POST\n/\n\ncontent-type:" + header_of(r, "Content-Type") + "\nhost:" +
                          header_of(r, "Host") + "\nx-amz-date:" + header_of(r, "X-Amz-Date") + "\n";
  if (with_token) canonical += "x-amz-security-token:" + header_of(r, "X-Amz-Security-Token") + "\n";
  canonical += with_token ? "\ncontent-type;host;x-amz-date;x-amz-security-token\n" : "\ncontent-type;host;x-amz-date\n";
  canonical += detail::to_hex(detail::sha256(r.body));
  const std::string date = header_of(r, "X-Amz-Date").substr(0, 8);
  std::string string_to_sign = "AWS4-HMAC-SHA256\n" + header_of(r, "X-Amz-Date") + "\n" + date + "/" + region +
                               "/sts/aws4_request\n" + detail::to_hex(detail::sha256(canonical));
  auto key = derive_signing_key(secret, date, region, "sts");
  return detail::to_hex(detail::hmac_sha256(key, string_to_sign));
}

struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& content) {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("sts_test_" + std::to_string(::getpid()) + "_" + std::to_string(++n));
    write(content);
  }
  void write(const std::string& content) const { std::ofstream(path, std::ios::trunc) << content; }
  ~temp_file() { std::filesystem::remove(path); }
};

env_fn env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// --- endpoint ------------------------------------------------------------------------------------------

TEST(sts_endpoint, resolution_order) {
  auto e = resolve_sts_endpoint(env_of({}));
  EXPECT_EQ(e.url, "https://sts.us-east-1.amazonaws.com");
  EXPECT_EQ(e.region, "us-east-1");
  EXPECT_EQ(e.source, "regional");

  e = resolve_sts_endpoint(env_of({{"AWS_DEFAULT_REGION", "eu-central-1"}}));
  EXPECT_EQ(e.url, "https://sts.eu-central-1.amazonaws.com");
  e = resolve_sts_endpoint(env_of({{"AWS_DEFAULT_REGION", "eu-central-1"}, {"AWS_REGION", "eu-west-1"}}));
  EXPECT_EQ(e.region, "eu-west-1");
  e = resolve_sts_endpoint(env_of({{"AWS_REGION", "eu-west-1"}}), "ap-south-1");
  EXPECT_EQ(e.url, "https://sts.ap-south-1.amazonaws.com");
  EXPECT_EQ(e.region, "ap-south-1");
  e = resolve_sts_endpoint(env_of({}), "cn-north-1");
  EXPECT_EQ(e.url, "https://sts.cn-north-1.amazonaws.com.cn");

  // Empty values count as unset.
  e = resolve_sts_endpoint(env_of({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", "us-west-2"},
                                   {"AWS_ENDPOINT_URL_STS", ""}, {"AWS_ENDPOINT_URL", ""}}));
  EXPECT_EQ(e.url, "https://sts.us-west-2.amazonaws.com");
  EXPECT_EQ(e.source, "regional");

  e = resolve_sts_endpoint(env_of({{"AWS_ENDPOINT_URL", "http://localstack:4566/"}, {"AWS_REGION", "eu-west-1"}}));
  EXPECT_EQ(e.url, "http://localstack:4566");
  EXPECT_EQ(e.source, "AWS_ENDPOINT_URL");
  EXPECT_EQ(e.region, "eu-west-1");  // overrides keep the region requests are signed for

  e = resolve_sts_endpoint(env_of({{"AWS_ENDPOINT_URL", "http://localstack:4566"},
                                   {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9000/"}}));
  EXPECT_EQ(e.url, "http://127.0.0.1:9000");
  EXPECT_EQ(e.source, "AWS_ENDPOINT_URL_STS");
  EXPECT_EQ(e.region, "us-east-1");
}

// --- AssumeRole ----------------------------------------------------------------------------------------

TEST(sts_assume_role, posts_a_signed_form_and_reads_the_credentials) {
  fake_sts f;
  f.answers = {ok(credentials_document("AssumeRole", "2026-11-27T13:00:00Z"))};
  sts_client sts(test_endpoint(), f.fn(), fixed(t0));
  assume_role_params p{.role_arn = "arn:aws:iam::123456789012:role/demo", .role_session_name = {},
                       .external_id = "ext id/1", .duration_seconds = 900};
  auto r = run(sts.assume_role({"AKIDEXAMPLE", base_secret, ""}, p, "assume_role(environment)"));

  ASSERT_TRUE(r.creds) << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.creds->creds.access_key_id, issued_key);
  EXPECT_EQ(r.creds->creds.secret_access_key, issued_secret);
  EXPECT_EQ(r.creds->creds.session_token, issued_token);  // the whitespace around it is not part of it
  EXPECT_EQ(r.creds->provider, "assume_role(environment)");
  EXPECT_EQ(r.creds->expiration, t0 + 1h);
  EXPECT_EQ(r.arn, "arn:aws:sts::123456789012:assumed-role/demo/demo-session");
  EXPECT_EQ(r.date_header, "Fri, 27 Nov 2026 12:00:01 GMT");

  ASSERT_EQ(f.requests.size(), 1u);
  const auto& req = f.requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, endpoint_url + "/");
  EXPECT_EQ(req.timeout, seconds(10));
  EXPECT_EQ(header_of(req, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  // The non-default port is part of Host, as net::fetch sends it (url::host_header).
  EXPECT_EQ(header_of(req, "Host"), "127.0.0.1:1234");
  EXPECT_EQ(req.body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
            "&RoleSessionName=sigv4-sidecar-1795780800&DurationSeconds=900&ExternalId=ext%20id%2F1");
  auto form = form_of(req.body);
  EXPECT_EQ(form["ExternalId"], "ext id/1");

  EXPECT_EQ(header_of(req, "X-Amz-Date"), "20261127T120000Z");
  EXPECT_EQ(header_of(req, "X-Amz-Security-Token"), "");
  const std::string auth = header_of(req, "Authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/sts/aws4_request, "
                               "SignedHeaders=content-type;host;x-amz-date, Signature="))
      << auth;
  EXPECT_EQ(auth.substr(auth.rfind('=') + 1), expected_signature(req, base_secret, "eu-west-1", false));
}

TEST(sts_assume_role, signs_the_session_token_of_temporary_base_credentials) {
  fake_sts f;
  f.answers = {ok(credentials_document("AssumeRole", "2026-11-27T13:00:00Z"))};
  sts_client sts({"http://sts.example.test", "us-west-2", "test"}, f.fn(), fixed(t0));
  assume_role_params p{.role_arn = "arn:aws:iam::123456789012:role/demo", .role_session_name = "mine",
                       .external_id = std::nullopt, .duration_seconds = std::nullopt};
  auto r = run(sts.assume_role({"ASIABASE", base_secret, base_token}, p, "assume_role(imds)"));
  ASSERT_TRUE(r.creds) << r.error;

  const auto& req = f.requests.at(0);
  EXPECT_EQ(header_of(req, "Host"), "sts.example.test");  // default port: no ":80"
  EXPECT_EQ(req.body, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
                      "&RoleSessionName=mine");
  EXPECT_EQ(header_of(req, "X-Amz-Security-Token"), base_token);
  const std::string auth = header_of(req, "Authorization");
  EXPECT_NE(auth.find("Credential=ASIABASE/20261127/us-west-2/sts/aws4_request, "
                      "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
            std::string::npos)
      << auth;
  EXPECT_EQ(auth.substr(auth.rfind('=') + 1), expected_signature(req, base_secret, "us-west-2", true));
}

TEST(sts_assume_role, error_document_is_reported_verbatim) {
  fake_sts f;
  const std::string message = "User: arn:aws:iam::123456789012:user/Alice is not authorized to perform: "
                              "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/demo";
  f.answers = {{403, {}, {{"Date", "Fri, 27 Nov 2026 12:00:02 GMT"}}, error_document("AccessDenied", message)}};
  sts_client sts(test_endpoint(), f.fn(), fixed(t0));
  auto r = run(sts.assume_role({"AKIDEXAMPLE", base_secret, ""}, role("arn:aws:iam::123456789012:role/demo"),
                               "assume_role(environment)"));
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 403 AccessDenied: " + message);
  EXPECT_EQ(r.date_header, "Fri, 27 Nov 2026 12:00:02 GMT");  // doctor wants it on failures too

  // XML escapes in the message are read as text.
  auto p = parse_sts_response("AssumeRole", 400, error_document("ValidationError", "a &lt; b &amp; &quot;c&quot;"),
                              endpoint_url, "x");
  EXPECT_EQ(p.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 400 ValidationError: a < b & \"c\"");
}

TEST(sts_assume_role, transport_failure_names_the_endpoint) {
  fake_sts f;
  f.answers = {{0, "connecting to 127.0.0.1:1234 failed: Connection refused", {}, {}}};
  sts_client sts(test_endpoint(), f.fn(), fixed(t0));
  auto r = run(sts.assume_role({"AKIDEXAMPLE", base_secret, ""}, role("arn:aws:iam::1:role/x"), "p"));
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: connecting to 127.0.0.1:1234 failed: "
                     "Connection refused");
}

TEST(sts_assume_role, bad_endpoint_url_is_an_error_not_a_request) {
  fake_sts f;
  f.answers = {ok("")};
  sts_client sts({"ftp://nowhere", "us-east-1", "AWS_ENDPOINT_URL_STS"}, f.fn(), fixed(t0));
  auto r = run(sts.assume_role({"AKIDEXAMPLE", base_secret, ""}, role("arn:aws:iam::1:role/x"), "p"));
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.error.starts_with("STS AssumeRole at ftp://nowhere: bad STS endpoint URL")) << r.error;
  EXPECT_TRUE(f.requests.empty());
}

// --- parsing -------------------------------------------------------------------------------------------

TEST(sts_parse, non_xml_body_gives_the_status) {
  auto r = parse_sts_response("AssumeRole", 502, "Bad Gateway", endpoint_url, "p");
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.error.starts_with("STS AssumeRole at http://127.0.0.1:1234: HTTP 502, and the answer (11 bytes) "
                                  "is not XML"))
      << r.error;
  r = parse_sts_response("AssumeRole", 200, "", endpoint_url, "p");
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 200, and the answer (0 bytes) is not XML");
  // XML, but not STS's (an HTML error page from a proxy in between).
  r = parse_sts_response("AssumeRole", 503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                         endpoint_url, "p");
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 503, an unexpected <html> document");
  r = parse_sts_response("AssumeRole", 200, caller_identity_document, endpoint_url, "p");
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 200, an unexpected "
                     "<GetCallerIdentityResponse> document instead of <AssumeRoleResponse>");
}

TEST(sts_parse, garbage_or_missing_expiration_is_an_error) {
  auto r = parse_sts_response("AssumeRole", 200, credentials_document("AssumeRole", "next tuesday"), endpoint_url,
                              "p");
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 200, but the answer has an unreadable "
                     "Expiration 'next tuesday'");
  r = parse_sts_response("AssumeRole", 200, credentials_document("AssumeRole", ""), endpoint_url, "p");
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 200, but the answer has no Expiration");
  // Fractional seconds and a +00:00 offset are fine.
  r = parse_sts_response("AssumeRole", 200, credentials_document("AssumeRole", "2026-11-27T13:00:00.250+00:00"),
                         endpoint_url, "p");
  ASSERT_TRUE(r.creds) << r.error;
  EXPECT_EQ(r.creds->expiration, t0 + 1h);
}

TEST(sts_parse, missing_credentials_are_an_error) {
  std::string doc = credentials_document("AssumeRole", "2026-11-27T13:00:00Z");
  doc.replace(doc.find("<AccessKeyId>"), ("<AccessKeyId>" + issued_key + "</AccessKeyId>").size(), "");
  auto r = parse_sts_response("AssumeRole", 200, doc, endpoint_url, "p");
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: HTTP 200, but the answer lacks "
                     "Credentials/AccessKeyId, SecretAccessKey or SessionToken");
}

TEST(sts_assume_role, credentials_already_expired_are_refused) {
  fake_sts f;
  f.answers = {ok(credentials_document("AssumeRole", "2026-11-27T11:00:00Z"))};
  sts_client sts(test_endpoint(), f.fn(), fixed(t0));
  auto r = run(sts.assume_role({"AKIDEXAMPLE", base_secret, ""}, role("arn:aws:iam::1:role/x"), "p"));
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.error, "STS AssumeRole at http://127.0.0.1:1234: the credentials it issued expired at "
                     "2026-11-27T11:00:00Z, before now (2026-11-27T12:00:00Z): is the clock wrong?");
}

TEST(sts_parse, secrets_never_appear_in_errors) {
  auto no_secret = [](const std::string& error) {
    for (const auto& s : {base_secret, base_token, issued_secret, issued_token, web_token}) {
      EXPECT_EQ(error.find(s), std::string::npos) << error;
    }
  };
  // A truncated success document (connection cut mid-body) carries the issued secret key.
  std::string doc = credentials_document("AssumeRole", "2026-11-27T13:00:00Z");
  auto r = parse_sts_response("AssumeRole", 200, doc.substr(0, doc.find("</SessionToken>")), endpoint_url, "p");
  EXPECT_FALSE(r.error.empty());
  no_secret(r.error);
  // A document lacking Expiration still has the secret key and token in it.
  r = parse_sts_response("AssumeRole", 200, credentials_document("AssumeRole", "garbage"), endpoint_url, "p");
  EXPECT_FALSE(r.error.empty());
  no_secret(r.error);

  // SignatureDoesNotMatch quotes the canonical request, whose x-amz-security-token line is the base token;
  // any echo of the secret key or the web identity token is cut out the same way.
  fake_sts f;
  f.answers = {{403, {}, {}, error_document("SignatureDoesNotMatch",
                                            "The Canonical String for this request should have been\n'POST\n/\n\n"
                                            "x-amz-security-token:" + base_token + "\n' key " + base_secret)}};
  sts_client sts(test_endpoint(), f.fn(), fixed(t0));
  auto a = run(sts.assume_role({"ASIABASE", base_secret, base_token}, role("arn:aws:iam::1:role/x"), "p"));
  EXPECT_NE(a.error.find("HTTP 403 SignatureDoesNotMatch: The Canonical String"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find("x-amz-security-token:<redacted>"), std::string::npos) << a.error;
  no_secret(a.error);

  f.answers = {{400, {}, {}, error_document("InvalidIdentityToken", "token " + web_token + " is not valid")}};
  auto w = run(sts.assume_role_with_web_identity(role("arn:aws:iam::1:role/x"), web_token, "web_identity"));
  EXPECT_EQ(w.error, "STS AssumeRoleWithWebIdentity at http://127.0.0.1:1234: HTTP 400 InvalidIdentityToken: "
                     "token <redacted> is not valid");
  no_secret(w.error);
}

// --- GetCallerIdentity ---------------------------------------------------------------------------------

TEST(sts_get_caller_identity, signed_request_and_identity) {
  fake_sts f;
  f.answers = {ok(caller_identity_document)};
  sts_client sts(test_endpoint("us-east-1"), f.fn(), fixed(t0));
  auto r = run(sts.get_caller_identity({"AKIDEXAMPLE", base_secret, ""}));
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.arn, "arn:aws:iam::123456789012:user/Alice");
  EXPECT_EQ(r.account, "123456789012");
  EXPECT_EQ(r.date_header, "Fri, 27 Nov 2026 12:00:01 GMT");
  const auto& req = f.requests.at(0);
  EXPECT_EQ(req.body, "Action=GetCallerIdentity&Version=2011-06-15");
  const std::string auth = header_of(req, "Authorization");
  EXPECT_NE(auth.find("Credential=AKIDEXAMPLE/20261127/us-east-1/sts/aws4_request"), std::string::npos);
  EXPECT_EQ(auth.substr(auth.rfind('=') + 1), expected_signature(req, base_secret, "us-east-1", false));
}

// --- web identity --------------------------------------------------------------------------------------

TEST(web_identity_provider, unsigned_request_with_the_token_re_read_on_every_fetch) {
  temp_file token(web_token + "\n");
  fake_sts f;
  f.answers = {ok(credentials_document("AssumeRoleWithWebIdentity", "2026-11-27T13:00:00Z"))};
  web_identity_provider p(token.path.string(),
                          {.role_arn = "arn:aws:iam::123456789012:role/irsa", .role_session_name = "pod-1",
                           .external_id = std::nullopt, .duration_seconds = 3600},
                          sts_client(test_endpoint(), f.fn(), fixed(t0)));
  EXPECT_EQ(p.name(), "web_identity");
  auto r = run(p.fetch());
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->provider, "web_identity");
  EXPECT_EQ(r.creds->creds.access_key_id, issued_key);
  EXPECT_EQ(r.creds->expiration, t0 + 1h);

  ASSERT_EQ(f.requests.size(), 1u);
  const auto& req = f.requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(header_of(req, "Authorization"), "");
  EXPECT_EQ(header_of(req, "X-Amz-Date"), "");
  EXPECT_EQ(header_of(req, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  auto form = form_of(req.body);
  EXPECT_EQ(form["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::123456789012:role/irsa");
  EXPECT_EQ(form["RoleSessionName"], "pod-1");
  EXPECT_EQ(form["DurationSeconds"], "3600");
  EXPECT_EQ(form["WebIdentityToken"], web_token);  // the trailing newline of the file is not part of it
  EXPECT_EQ(form.count("ExternalId"), 0u);

  // The kubelet rotates the projected token in place.
  token.write("rotated.token.value");
  r = run(p.fetch());
  ASSERT_TRUE(r.creds) << r.reason;
  ASSERT_EQ(f.requests.size(), 2u);
  EXPECT_EQ(form_of(f.requests[1].body)["WebIdentityToken"], "rotated.token.value");

  // Emptied, then gone: the error names the file, and no request is made.
  token.write("  \n");
  r = run(p.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(r.reason, "the web identity token file " + token.path.string() + " is empty");
  std::filesystem::remove(token.path);
  r = run(p.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "cannot read the web identity token file " + token.path.string() +
                          ": No such file or directory");
  EXPECT_EQ(f.requests.size(), 2u);
}

TEST(web_identity_provider, sts_failure_is_the_reason) {
  temp_file token(web_token);
  fake_sts f;
  f.answers = {{400, {}, {}, error_document("InvalidIdentityToken", "Couldn't retrieve verification key from "
                                                                    "your identity provider")}};
  web_identity_provider p(token.path.string(), role("arn:aws:iam::123456789012:role/irsa"),
                          sts_client(test_endpoint(), f.fn(), fixed(t0)));
  auto r = run(p.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(r.reason, "STS AssumeRoleWithWebIdentity at http://127.0.0.1:1234: HTTP 400 InvalidIdentityToken: "
                      "Couldn't retrieve verification key from your identity provider");
  // No session name given: the default one, from the clock.
  EXPECT_EQ(form_of(f.requests.at(0).body)["RoleSessionName"], "sigv4-sidecar-1795780800");
}

// IRSA from the environment, as the proxy builds it (the chain's web identity step, chosen explicitly).
TEST(web_identity_provider, from_the_environment) {
  fake_sts f;
  // No profile files: the step reads the environment alone.
  const std::map<std::string, std::string> no_files = {{"AWS_CONFIG_FILE", "/nonexistent/sts-test/config"},
                                                       {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sts-test/creds"}};
  auto source = [&](std::map<std::string, std::string> vars) {
    vars.insert(no_files.begin(), no_files.end());
    std::string error;
    auto p = make_source("web_identity", chain_context{env_of(vars), f.fn(), fixed(t0), {}, {}, false, {}}, error);
    EXPECT_NE(p, nullptr) << error;
    return p;
  };
  auto r = run(source({})->fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "web_identity was chosen but is not configured: AWS_WEB_IDENTITY_TOKEN_FILE is not set and "
                      "the profile has no web_identity_token_file");
  r = run(source({{"AWS_ROLE_ARN", "arn:aws:iam::1:role/x"}, {"AWS_WEB_IDENTITY_TOKEN_FILE", ""}})->fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "web_identity was chosen but is not configured: AWS_WEB_IDENTITY_TOKEN_FILE is not set and "
                      "the profile has no web_identity_token_file");
  r = run(source({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"}})->fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "a web identity token file (/var/run/token) is set but no role: set AWS_ROLE_ARN or the "
                      "profile's role_arn");
  EXPECT_TRUE(f.requests.empty());

  temp_file token(web_token);
  f.answers = {ok(credentials_document("AssumeRoleWithWebIdentity", "2026-11-27T13:00:00Z"))};
  r = run(source({{"AWS_WEB_IDENTITY_TOKEN_FILE", token.path.string()}, {"AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"},
                  {"AWS_ROLE_SESSION_NAME", "my-pod"}, {"AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5555/"},
                  {"AWS_REGION", "eu-west-1"}})
          ->fetch());
  ASSERT_TRUE(r.creds) << r.reason;
  const auto& req = f.requests.at(0);
  EXPECT_EQ(req.url, "http://127.0.0.1:5555/");
  auto form = form_of(req.body);
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::1:role/irsa");
  EXPECT_EQ(form["RoleSessionName"], "my-pod");
  EXPECT_EQ(form["WebIdentityToken"], web_token);
}

// credentials.sts_region is where every STS call of the chain goes, AWS_REGION notwithstanding.
TEST(web_identity_provider, configured_sts_region_wins_over_the_environment) {
  fake_sts f;
  temp_file token(web_token);
  f.answers = {ok(credentials_document("AssumeRoleWithWebIdentity", "2026-11-27T13:00:00Z"))};
  auto env = env_of({{"AWS_WEB_IDENTITY_TOKEN_FILE", token.path.string()}, {"AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"},
                     {"AWS_REGION", "eu-west-1"}, {"AWS_CONFIG_FILE", "/nonexistent/sts-test/config"},
                     {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sts-test/creds"}});
  std::string error;
  auto p = make_source("web_identity", chain_context{env, f.fn(), fixed(t0), {}, {}, false, "ap-south-1"}, error);
  ASSERT_NE(p, nullptr) << error;
  auto r = run(p->fetch());
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(f.requests.at(0).url, "https://sts.ap-south-1.amazonaws.com/");
  // Without it, the environment's region.
  p = make_source("web_identity", chain_context{env, f.fn(), fixed(t0), {}, {}, false, {}}, error);
  f.answers = {ok(credentials_document("AssumeRoleWithWebIdentity", "2026-11-27T13:00:00Z"))};
  ASSERT_TRUE(run(p->fetch()).creds);
  EXPECT_EQ(f.requests.at(1).url, "https://sts.eu-west-1.amazonaws.com/");
}

// --- assume_role_provider ------------------------------------------------------------------------------

struct canned_provider : provider {
  fetch_result answer;
  std::string name_;
  int calls = 0;
  canned_provider(std::string name, fetch_result a) : answer(std::move(a)), name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  asio::awaitable<fetch_result> fetch() override {
    ++calls;
    co_return answer;
  }
};

TEST(assume_role_provider, signs_assume_role_with_the_base_credentials) {
  fake_sts f;
  f.answers = {ok(credentials_document("AssumeRole", "2026-11-27T13:00:00Z"))};
  auto base = std::make_unique<canned_provider>(
      "environment", fetch_result::ok(snapshot{{"ASIABASE", base_secret, base_token}, "environment", std::nullopt}));
  assume_role_provider p(std::move(base), role("arn:aws:iam::123456789012:role/demo"),
                         sts_client(test_endpoint(), f.fn(), fixed(t0)));
  EXPECT_EQ(p.name(), "assume_role");
  auto r = run(p.fetch());
  ASSERT_TRUE(r.creds) << r.reason;
  EXPECT_EQ(r.creds->provider, "assume_role(environment)");
  EXPECT_EQ(r.creds->creds.access_key_id, issued_key);
  const auto& req = f.requests.at(0);
  EXPECT_EQ(header_of(req, "X-Amz-Security-Token"), base_token);
  EXPECT_NE(header_of(req, "Authorization").find("Credential=ASIABASE/"), std::string::npos);
}

TEST(assume_role_provider, propagates_base_failure_and_skip) {
  fake_sts f;
  f.answers = {ok("")};
  assume_role_provider failing(
      std::make_unique<canned_provider>("imds", fetch_result::fail("IMDS token request to http://x: timed out")),
      role("arn:aws:iam::1:role/x"), sts_client(test_endpoint(), f.fn(), fixed(t0)));
  auto r = run(failing.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(r.reason, "assume role arn:aws:iam::1:role/x: base credentials (imds): IMDS token request to http://x: "
                      "timed out");

  assume_role_provider skipped(
      std::make_unique<canned_provider>("environment",
                                        fetch_result::skip("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set")),
      role("arn:aws:iam::1:role/x"), sts_client(test_endpoint(), f.fn(), fixed(t0)));
  r = run(skipped.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_TRUE(r.applies);  // a role was asked for: no base credentials is a failure, not a skip
  EXPECT_EQ(r.reason, "assume role arn:aws:iam::1:role/x: base credentials (environment): AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY are not both set");
  EXPECT_TRUE(f.requests.empty());
}

TEST(assume_role_provider, sts_error_is_the_reason) {
  fake_sts f;
  f.answers = {{403, {}, {}, error_document("ExpiredToken", "The security token included in the request is expired")}};
  assume_role_provider p(
      std::make_unique<canned_provider>("process", fetch_result::ok(snapshot{{"ASIABASE", base_secret, base_token},
                                                                             "process", std::nullopt})),
      role("arn:aws:iam::1:role/x"), sts_client(test_endpoint(), f.fn(), fixed(t0)));
  auto r = run(p.fetch());
  EXPECT_FALSE(r.creds);
  EXPECT_EQ(r.reason, "STS AssumeRole at http://127.0.0.1:1234: HTTP 403 ExpiredToken: The security token "
                      "included in the request is expired");
}

}  // namespace
}  // namespace sigv4::creds
