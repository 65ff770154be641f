#include "creds/environment.hpp"

#include <cstdlib>

namespace sigv4::creds {

std::string env_string(const env_lookup& env, const char* name) {
  const char* v = env(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::optional<credentials> from_environment(const env_lookup& getenv) {
  auto value = [&](const char* name) { return env_string(getenv, name); };
  // AWS_SECURITY_TOKEN: the legacy name botocore still reads when AWS_SESSION_TOKEN is absent.
  auto token = value("AWS_SESSION_TOKEN");
  if (token.empty()) token = value("AWS_SECURITY_TOKEN");
  credentials c{value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY"), token};
  if (c.empty()) return std::nullopt;
  return c;
}

std::optional<credentials> from_environment() {
  return from_environment([](const char* name) { return std::getenv(name); });
}

}  // namespace sigv4::creds
