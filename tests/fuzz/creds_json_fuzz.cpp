// libFuzzer target over the credential answers that come off the network or out of a child process:
//   the JSON document IMDS and the ECS/EKS container endpoints serve (parse_json_credentials),
//   credential_process output (parse_process_output),
//   STS's XML answers to AssumeRole, AssumeRoleWithWebIdentity and GetCallerIdentity (parse_sts_response).
// The first byte picks the parser (its low 7 bits, modulo 6) and, for STS, the HTTP status (its high bit:
// 403, else 200); the rest is the body. Seeds are a digit ('0' IMDS, '1' container, '2' process, '3'
// AssumeRole, '4' AssumeRoleWithWebIdentity, '5' GetCallerIdentity; 0xB3 is '3' with status 403), then a
// body from the creds unit tests.
// Invariants (what the headers promise): credentials xor an error; credentials have a non-empty access key id
// and secret (STS's also a session token and an expiration, GetCallerIdentity's an ARN); an STS error names
// the action, endpoint and status, and an answer that is not XML is never quoted; a JSON parser's error does
// not depend on the document's SecretAccessKey (so never carries it).
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "creds/json_credentials.hpp"
#include "creds/process_provider.hpp"
#include "creds/sts.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace sigv4::creds;

using sigv4::fuzz::check;

using json_parser = std::optional<snapshot> (*)(std::string_view body, std::string& error);

std::optional<snapshot> parse_imds(std::string_view body, std::string& error) {
  return parse_json_credentials(body, "imds", error);
}
std::optional<snapshot> parse_container(std::string_view body, std::string& error) {
  return parse_json_credentials(body, "container", error);
}

// The error must not depend on the secret's bytes: the same document with another SecretAccessKey of the
// same length (both re-serialized, so that only that value differs) gets the same error, or no secret could
// be kept out of it.
void check_secret_free(std::string_view body, json_parser parse) {
  boost::system::error_code ec;
  auto doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object()) return;
  auto* secret = doc.as_object().if_contains("SecretAccessKey");
  if (secret == nullptr || !secret->is_string() || secret->as_string().empty()) return;
  std::string before, after;
  parse(boost::json::serialize(doc), before);
  std::string other(secret->as_string());
  for (auto& c : other) c = c == 'x' ? 'y' : 'x';
  *secret = other;
  parse(boost::json::serialize(doc), after);
  check(before == after, "the error does not depend on the secret");
}

void check_json(std::string_view body, json_parser parse, std::string_view provider) {
  std::string error;
  auto s = parse(body, error);
  if (s) {
    check(error.empty(), "credentials and no error");
    check(!s->creds.access_key_id.empty() && !s->creds.secret_access_key.empty(),
          "key id and secret non-empty");
    check(s->provider == provider, "the provider is named");
    return;
  }
  check(!error.empty(), "no credentials and an error");
  check_secret_free(body, parse);
}

void check_sts(std::string_view action, int status, std::string_view body) {
  static const std::string url = "https://sts.us-east-1.amazonaws.com";
  auto r = parse_sts_response(action, status, body, url, "web_identity");
  const std::string where = "STS " + std::string(action) + " at " + url + ": HTTP " + std::to_string(status);
  if (!r.error.empty()) {
    check(!r.creds, "an error and no credentials");
    check(r.error.starts_with(where), "an STS error names action, endpoint and status");
    const auto not_xml = ", and the answer (" + std::to_string(body.size()) + " bytes) is not XML";
    if (r.error.compare(where.size(), not_xml.size(), not_xml) == 0) {
      // pugixml's description follows, nothing of the body.
      const auto rest = std::string_view(r.error).substr(where.size() + not_xml.size());
      check(rest.empty() || (rest.starts_with(": ") && rest.find('<') == std::string_view::npos),
            "an answer that is not XML is not quoted");
    }
    return;
  }
  if (action == "GetCallerIdentity") {
    check(!r.creds && !r.arn.empty(), "GetCallerIdentity gives an ARN");
    return;
  }
  check(r.creds != nullptr, "no error and credentials");
  const auto& c = r.creds->creds;
  check(!c.access_key_id.empty() && !c.secret_access_key.empty(), "key id and secret non-empty");
  check(!c.session_token.empty(), "STS credentials have a session token");
  check(r.creds->expiration.has_value(), "STS credentials expire");
  check(r.creds->provider == "web_identity", "the provider is named");
  check(status == 200, "credentials only from a 200");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int status = (data[0] & 0x80) != 0 ? 403 : 200;
  switch ((data[0] & 0x7f) % 6) {
    case 0:
      check_json(body, parse_imds, "imds");
      break;
    case 1:
      check_json(body, parse_container, "container");
      break;
    case 2:
      check_json(body, parse_process_output, "process");
      break;
    case 3:
      check_sts("AssumeRole", status, body);
      break;
    case 4:
      check_sts("AssumeRoleWithWebIdentity", status, body);
      break;
    case 5:
      check_sts("GetCallerIdentity", status, body);
      break;
  }
  return 0;
}
