#include "creds/imds_provider.hpp"

#include "creds/environment.hpp"
#include "creds/json_credentials.hpp"

namespace sigv4::creds {

imds_settings imds_settings::from_env(const env_fn& env) {
  imds_settings s;
  if (auto e = env_string(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT"); !e.empty()) {
    while (e.ends_with('/')) e.pop_back();
    s.endpoint = e;
  }
  auto disabled = env_string(env, "AWS_EC2_METADATA_DISABLED");
  for (char& c : disabled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  s.disabled = disabled == "true";
  return s;
}

imds_provider::imds_provider(imds_settings s, http_fn http, clock_fn clock)
    : settings_(std::move(s)), http_(std::move(http)), clock_(std::move(clock)) {}

boost::asio::awaitable<std::string> imds_provider::token(std::string& error) {
  // Reuse the session token until a minute before its TTL runs out.
  if (!token_.empty() && clock_() + std::chrono::minutes(1) < token_expiry_) co_return token_;
  http_request put{.method = "PUT",
                   .url = settings_.endpoint + "/latest/api/token",
                   .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(settings_.token_ttl.count())}},
                   .body = {},
                   .timeout = settings_.timeout};
  auto r = co_await http_(std::move(put));
  if (r.status == 200 && !r.body.empty()) {
    token_ = r.body;
    token_expiry_ = clock_() + settings_.token_ttl;
    co_return token_;
  }
  token_.clear();
  error = r.status == 0 ? "IMDS token request to " + settings_.endpoint + ": " + r.error
                        : "IMDS token request to " + settings_.endpoint + " answered HTTP " + std::to_string(r.status);
  co_return std::string();
}

boost::asio::awaitable<fetch_result> imds_provider::fetch() {
  if (settings_.disabled) co_return fetch_result::skip("AWS_EC2_METADATA_DISABLED is true");
  std::string error;
  std::string tok = co_await token(error);
  if (tok.empty() && !settings_.v1_fallback) co_return fetch_result::fail(error);

  auto get = [&](std::string path) -> boost::asio::awaitable<http_response> {
    http_request req{.method = "GET", .url = settings_.endpoint + path, .headers = {}, .body = {},
                     .timeout = settings_.timeout};
    if (!tok.empty()) req.headers.emplace_back("X-aws-ec2-metadata-token", tok);
    co_return co_await http_(std::move(req));
  };
  const std::string base = "/latest/meta-data/iam/security-credentials/";
  auto roles = co_await get(base);
  if (roles.status == 401) token_.clear();  // expired token: the next attempt gets a fresh one
  if (roles.status != 200) {
    co_return fetch_result::fail(
        "IMDS " + settings_.endpoint + base +
        (roles.status == 0 ? ": " + roles.error
                           : " answered HTTP " + std::to_string(roles.status) +
                                 (roles.status == 404 ? " (no instance profile attached)" : "")));
  }
  std::string role = roles.body.substr(0, roles.body.find('\n'));
  while (!role.empty() && (role.back() == '\r' || role.back() == ' ')) role.pop_back();
  if (role.empty()) co_return fetch_result::fail("IMDS lists no instance profile role");
  auto doc = co_await get(base + role);
  if (doc.status != 200) {
    if (doc.status == 401) token_.clear();
    co_return fetch_result::fail("IMDS " + settings_.endpoint + base + role +
                                 (doc.status == 0 ? ": " + doc.error : " answered HTTP " + std::to_string(doc.status)));
  }
  auto s = parse_json_credentials(doc.body, "imds", error);
  if (!s) co_return fetch_result::fail("IMDS role " + role + ": " + error);
  co_return fetch_result::ok(std::move(*s));
}

}  // namespace sigv4::creds
