#pragma once
// AWS STS over its Query protocol: AssumeRole and GetCallerIdentity signed by our own signer with the base
// credentials, AssumeRoleWithWebIdentity unsigned. Answers are XML, read with pugixml; STS error documents
// are reported verbatim (code and message), with the endpoint and the HTTP status.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "creds/provider.hpp"

namespace sigv4::creds {

struct sts_endpoint {
  std::string url;     // "https://sts.eu-west-1.amazonaws.com" or an override, no trailing '/'
  std::string region;  // the region STS requests are signed for
  std::string source;  // "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL" or "regional", for messages
};

// AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the regional endpoint https://sts.REGION.amazonaws.com
// (REGION: `region`, else sts_region(env, "us-east-1"); .amazonaws.com.cn for cn-*).
sts_endpoint resolve_sts_endpoint(const env_fn& env, std::string_view region = {});

// The region the SDKs call STS in: AWS_REGION, else AWS_DEFAULT_REGION, else `fallback` (a profile's or the
// proxy's region).
std::string sts_region(const env_fn& env, std::string_view fallback);

struct assume_role_params {
  std::string role_arn;
  std::string role_session_name;  // empty: "sigv4-sidecar-<unix seconds>"
  std::optional<std::string> external_id;
  std::optional<std::int64_t> duration_seconds;
};

struct sts_result {
  std::shared_ptr<const snapshot> creds;  // set on success; provider named by the caller
  std::string error;                      // on failure: "STS AssumeRole at URL: HTTP 403 AccessDenied: message"
  std::string arn;                        // AssumedRoleUser/Arn, or GetCallerIdentity's Arn
  std::string account;                    // GetCallerIdentity only
  std::string date_header;                // the response's Date header (doctor measures clock skew with it)
};

class sts_client {
 public:
  sts_client(sts_endpoint endpoint, http_fn http, clock_fn clock);

  boost::asio::awaitable<sts_result> assume_role(const credentials& base, const assume_role_params& p,
                                                 std::string provider_name);
  boost::asio::awaitable<sts_result> assume_role_with_web_identity(const assume_role_params& p,
                                                                   const std::string& token,
                                                                   std::string provider_name);
  boost::asio::awaitable<sts_result> get_caller_identity(const credentials& c);

  const sts_endpoint& endpoint() const { return endpoint_; }

 private:
  sts_endpoint endpoint_;
  http_fn http_;
  clock_fn clock_;
};

// Pure, for tests: the credentials (or the error) in an STS answer for `action`.
sts_result parse_sts_response(std::string_view action, int status, std::string_view body,
                              std::string_view endpoint_url, std::string provider_name);

// IRSA and profiles with web_identity_token_file: AssumeRoleWithWebIdentity with the token file re-read on
// every fetch. Where the token file and role come from (environment, profile) is the chain's business.
class web_identity_provider : public provider {
 public:
  web_identity_provider(std::string token_file, assume_role_params params, sts_client sts);
  std::string_view name() const override { return "web_identity"; }
  boost::asio::awaitable<fetch_result> fetch() override;

 private:
  std::string token_file_;
  assume_role_params params_;
  sts_client sts_;
};

// AssumeRole on top of any provider: fetches the base credentials, then signs AssumeRole with them.
// The result's provider is "assume_role(<base provider>)".
class assume_role_provider : public provider {
 public:
  assume_role_provider(std::unique_ptr<provider> base, assume_role_params params, sts_client sts);
  std::string_view name() const override { return name_; }
  boost::asio::awaitable<fetch_result> fetch() override;

 private:
  std::unique_ptr<provider> base_;
  assume_role_params params_;
  sts_client sts_;
  std::string name_;
};

}  // namespace sigv4::creds
