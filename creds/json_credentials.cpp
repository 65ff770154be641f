#include "creds/json_credentials.hpp"

#include <boost/json.hpp>

#include "signer/time.hpp"

namespace sigv4::creds {

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  // Drop fractional seconds and accept "+00:00" for Z: 2026-11-27T18:00:00.123+00:00
  std::string t(s);
  if (t.ends_with("+00:00")) t = t.substr(0, t.size() - 6) + "Z";
  if (auto dot = t.find('.'); dot != std::string::npos && t.ends_with("Z")) t = t.substr(0, dot) + "Z";
  auto parsed = parse_amz_date(t);
  if (!parsed) return std::nullopt;
  // system_clock counts nanoseconds in 64 bits (years 1678 to 2262): a year outside would overflow.
  using namespace std::chrono;
  if (*parsed < ceil<seconds>(system_clock::time_point::min()) ||
      *parsed > floor<seconds>(system_clock::time_point::max()))
    return std::nullopt;
  return system_clock::time_point(*parsed);
}

std::optional<snapshot> parse_json_credentials(std::string_view body, std::string provider, std::string& error) {
  boost::system::error_code ec;
  auto doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object()) {
    error = "the credentials document is not a JSON object";
    return std::nullopt;
  }
  const auto& o = doc.as_object();
  auto str = [&](const char* key) -> std::string {
    auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (auto code = str("Code"); !code.empty() && code != "Success") {
    error = "the credentials document says Code=" + code + (str("Message").empty() ? "" : ": " + str("Message"));
    return std::nullopt;
  }
  snapshot s;
  s.provider = std::move(provider);
  s.creds.access_key_id = str("AccessKeyId");
  s.creds.secret_access_key = str("SecretAccessKey");
  s.creds.session_token = str("Token");
  if (s.creds.session_token.empty()) s.creds.session_token = str("SessionToken");
  if (s.creds.empty()) {
    error = "the credentials document lacks AccessKeyId or SecretAccessKey";
    return std::nullopt;
  }
  if (auto exp = str("Expiration"); !exp.empty()) {
    s.expiration = parse_rfc3339(exp);
    if (!s.expiration) {
      error = "the credentials document has an unreadable Expiration '" + exp + "'";
      return std::nullopt;
    }
  }
  return s;
}

}  // namespace sigv4::creds
