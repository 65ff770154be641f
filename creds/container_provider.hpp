#pragma once
// ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
// AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every fetch,
// the agent rotates it) or AWS_CONTAINER_AUTHORIZATION_TOKEN. Plain-http FULL_URIs only to loopback and the
// container endpoints (169.254.170.2, 169.254.170.23, fd00:ec2::23), as in the SDKs.
#include <chrono>

#include "creds/provider.hpp"

namespace sigv4::creds {

class container_provider : public provider {
 public:
  container_provider(env_fn env, http_fn http);
  std::string_view name() const override { return "container"; }
  boost::asio::awaitable<fetch_result> fetch() override;

  // The URL to fetch from, or "" with `why` saying why the provider does not apply / is misconfigured.
  static std::string endpoint(const env_fn& env, std::string& why, bool& configured);

 private:
  env_fn env_;
  http_fn http_;
};

}  // namespace sigv4::creds
