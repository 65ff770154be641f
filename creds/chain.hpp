#pragma once
// The default credential chain, in botocore's order: environment; a profile that assumes a role; web
// identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN, or the profile's web_identity_token_file); the
// profile's own keys or credential_process; the container endpoint (ECS, EKS Pod Identity); EC2 IMDS.
// The first provider that applies decides: its credentials are used, or its failure is reported. A
// configured source that fails never falls through to a different identity (an IRSA pod whose STS call fails
// must not quietly sign as the node's instance role).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "creds/provider.hpp"

namespace sigv4::creds {

// What every provider may need, built once by the caller.
struct chain_context {
  env_fn env;
  http_fn http;
  clock_fn clock;
  std::string region;   // for STS endpoints when neither the profile nor AWS_REGION names one
  std::string profile;  // the profile to read; empty: AWS_PROFILE, else "default"
  bool imds_v1_fallback = false;  // IMDSv1 (no token) when the token PUT fails; off unless configured
  std::string sts_region;  // credentials.sts_region: every STS call of the chain goes there (empty: see region)
};

class chain_provider : public provider {
 public:
  explicit chain_provider(std::vector<std::unique_ptr<provider>> providers);
  std::string_view name() const override { return "chain"; }
  boost::asio::awaitable<fetch_result> fetch() override;

  // What the last fetch did with each provider: "environment: skipped (...)", "imds: used".
  const std::vector<std::string>& decisions() const { return decisions_; }

 private:
  std::vector<std::unique_ptr<provider>> providers_;
  std::vector<std::string> decisions_;
};

std::unique_ptr<chain_provider> default_chain(chain_context ctx);
// The older signature, for tests that need no profiles: no profile files unless the environment names them.
std::unique_ptr<chain_provider> default_chain(const env_fn& env, http_fn http, clock_fn clock);

// One named source: "default" (the chain above), "environment", "profile", "web_identity", "container",
// "imds". nullptr with `error` set for an unknown name. An explicit source that does not apply is a failure
// (the user asked for it), not a skip.
std::unique_ptr<provider> make_source(std::string_view source, chain_context ctx, std::string& error);

// A provider over the environment variables (AWS_ACCESS_KEY_ID...).
std::unique_ptr<provider> make_environment_provider(env_fn env);

// Reads another store's published credentials: the base identity for per-route assume-role refreshers.
class credential_store;
std::unique_ptr<provider> make_store_provider(const credential_store& store, std::string name);

}  // namespace sigv4::creds
