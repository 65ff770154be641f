#pragma once
// The JSON credential document that IMDS and the ECS/EKS container endpoints serve:
// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration": "2026-11-27T18:00:00Z", ...}
#include <optional>
#include <string>
#include <string_view>

#include "creds/store.hpp"

namespace sigv4::creds {

// nullopt with `error` set when the document is not JSON or lacks the keys. Never puts a secret in `error`.
std::optional<snapshot> parse_json_credentials(std::string_view body, std::string provider, std::string& error);

// RFC 3339 UTC timestamps as AWS writes them: 2026-11-27T18:00:00Z, optionally with fractional seconds.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s);

}  // namespace sigv4::creds
