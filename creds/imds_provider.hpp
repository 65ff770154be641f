#pragma once
// EC2 instance metadata (IMDSv2): PUT a session token, list the instance profile's role, fetch its
// credentials. Short timeouts, so a container behind an IMDS hop limit of 1 fails in a second, not a minute.
#include <chrono>

#include "creds/provider.hpp"

namespace sigv4::creds {

struct imds_settings {
  std::string endpoint = "http://169.254.169.254";  // AWS_EC2_METADATA_SERVICE_ENDPOINT
  bool disabled = false;                            // AWS_EC2_METADATA_DISABLED=true
  bool v1_fallback = false;                         // IMDSv1 only when asked for
  std::chrono::milliseconds timeout{1000};
  std::chrono::seconds token_ttl{21600};

  static imds_settings from_env(const env_fn& env);
};

class imds_provider : public provider {
 public:
  imds_provider(imds_settings s, http_fn http, clock_fn clock);
  std::string_view name() const override { return "imds"; }
  boost::asio::awaitable<fetch_result> fetch() override;

 private:
  boost::asio::awaitable<std::string> token(std::string& error);  // "" with error set on failure

  imds_settings settings_;
  http_fn http_;
  clock_fn clock_;
  std::string token_;
  std::chrono::system_clock::time_point token_expiry_{};
};

}  // namespace sigv4::creds
