#pragma once
// The default credential chain, in the SDKs' order: environment, profile, web identity, container, IMDS.
// The first provider that applies decides: its credentials are used, or its failure is reported. A
// configured source that fails never falls through to a different identity (an IRSA pod whose STS call fails
// must not quietly sign as the node's instance role).
#include <memory>
#include <vector>

#include "creds/provider.hpp"

namespace sigv4::creds {

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

// The providers of the default chain that exist so far, built from the environment.
std::unique_ptr<chain_provider> default_chain(const env_fn& env, http_fn http, clock_fn clock);

// A provider over the environment variables (AWS_ACCESS_KEY_ID...).
std::unique_ptr<provider> make_environment_provider(env_fn env);

}  // namespace sigv4::creds
