// The `sign` subcommand, run in-process: its output contract, its errors, and every suite case through it.
#include "proxy/sign_command.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "signer/time.hpp"
#include "tests/support/sigv4_suite.hpp"

namespace sigv4::app {
namespace {

struct result {
  int code;
  std::string out, err;
};

result run(std::vector<std::string> args, std::optional<credentials> creds = credentials{
                                               "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""}) {
  std::ostringstream out, err;
  sign_io io{.out = out,
             .err = err,
             .get_credentials = [&](std::string& why) {
               if (!creds) why = "test: none";
               return creds;
             },
             .now = [] { return *parse_amz_date("20150830T123600Z"); }};
  std::vector<std::string_view> views(args.begin(), args.end());
  int code = run_sign(views, io);
  return {code, out.str(), err.str()};
}

std::string line_starting(const std::string& text, std::string_view prefix) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.starts_with(prefix)) return l;
  }
  return {};
}

TEST(sign_command, prints_the_signed_request) {
  auto r = run({"--region", "us-east-1", "--service", "service", "http://example.amazonaws.com/"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "GET / HTTP/1.1\n"
            "Host: example.amazonaws.com\n"
            "X-Amz-Date: 20150830T123600Z\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n\n");
}

TEST(sign_command, keeps_a_non_default_port_in_host) {
  auto r = run({"--region", "r", "--service", "s", "https://h.example:8443/x"});
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(line_starting(r.out, "Host:"), "Host: h.example:8443");
}

TEST(sign_command, session_token_and_print_modes) {
  credentials c{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"};
  auto r = run({"--region", "us-east-1", "--service", "service", "http://example.amazonaws.com/"}, c);
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(line_starting(r.out, "X-Amz-Security-Token:"), "X-Amz-Security-Token: " + c.session_token);
  EXPECT_NE(line_starting(r.out, "Authorization:").find(
                "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
            std::string::npos);
  auto canonical = run({"--print", "canonical", "--region", "us-east-1", "--service", "service",
                        "http://example.amazonaws.com/"},
                       c);
  EXPECT_EQ(canonical.out, test::load_case("get-vanilla-with-session-token")
                                   .expected("header-canonical-request.txt")
                                   .value() +
                               "\n");
  auto sts = run({"--print", "string-to-sign", "--region", "us-east-1", "--service", "service",
                  "http://example.amazonaws.com/"},
                 c);
  EXPECT_TRUE(sts.out.starts_with("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"));
}

TEST(sign_command, presign_puts_the_signature_in_the_query) {
  auto r = run({"--presign", "3600", "--region", "us-east-1", "--service", "service",
                "http://example.amazonaws.com/"});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"),
            std::string::npos);
  EXPECT_EQ(line_starting(r.out, "Authorization:"), "");
}

TEST(sign_command, errors_exit_2_with_a_message) {
  struct bad {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<bad> cases = {
      {{"--service", "s", "http://h/"}, "--region is required"},
      {{"--region", "r", "http://h/"}, "--service is required"},
      {{"--region", "r", "--service", "s"}, "no URL given"},
      {{"--region", "r", "--service", "s", "h/x"}, "bad URL"},
      {{"--region", "r", "--service", "s", "--date", "yesterday", "http://h/"}, "bad --date"},
      {{"--region", "r", "--service", "s", "--header", "NoColon", "http://h/"}, "must look like"},
      {{"--region", "r", "--service", "s", "--header", "A: b\r\nX-Injected: 1", "http://h/"}, "line break"},
      {{"--region", "r", "--service", "s", "--data-file", "/nonexistent/file", "http://h/"}, "cannot read"},
      {{"--region", "r", "--service", "s", "--frobnicate", "http://h/"}, "unknown flag"},
      {{"--region", "r", "--service", "s", "--presign", "0", "http://h/"}, "--presign"},
      {{"--region", "r", "--service", "s", "--print", "json", "http://h/"}, "--print"},
      {{"--region"}, "needs a value"},
  };
  for (const auto& c : cases) {
    auto r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  auto none = run({"--region", "r", "--service", "s", "http://h/"}, std::nullopt);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("no AWS credentials"), std::string::npos);
  EXPECT_EQ(none.out, "");
}

// Every suite case through the CLI: URL from the request line and Host, headers as --header, body as --data.
TEST(sign_command, every_suite_case_signs_like_the_suite) {
  int checked = 0;
  for (const auto& name : test::suite_case_names()) {
    auto c = test::load_case(name);
    std::vector<std::string> args = {"--region", c.region, "--service", c.service, "--method", c.method,
                                     "--date", "20150830T123600Z"};
    std::string host;
    for (const auto& h : c.headers) {
      std::string value = h.value;
      for (char& ch : value) {
        if (ch == '\n') ch = ' ';  // obs-fold is whitespace, and whitespace collapses
      }
      if (h.name == "Host") host = value;
      args.push_back("--header");
      args.push_back(h.name + ": " + value);
    }
    if (c.sign_body) {
      args.push_back("--content-sha256-header");
      args.push_back("--data");
      args.push_back(c.body);
    }
    if (c.omit_session_token) args.push_back("--omit-session-token");
    if (!c.normalize) continue;  // the CLI always normalizes for non-S3 services, as AWS does
    args.push_back("http://" + host + c.target);
    auto r = run(args, c.creds);
    ASSERT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("Signature=" + c.expected("header-signature.txt").value() + "\n"), std::string::npos)
        << name << "\n" << r.out;
    ++checked;
  }
  EXPECT_EQ(checked, 31);  // the 7 "-unnormalized" cases sign a path the CLI would normalize
}

}  // namespace
}  // namespace sigv4::app
