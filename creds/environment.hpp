#pragma once
#include <functional>
#include <optional>
#include <string>

#include "signer/types.hpp"

namespace sigv4::creds {

using env_lookup = std::function<const char*(const char*)>;

// The variable's value, or "" when it is unset (the SDKs treat an empty value as unset).
std::string env_string(const env_lookup& env, const char* name);

// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN). Empty values count as unset, as in the SDKs.
std::optional<credentials> from_environment(const env_lookup& getenv);
std::optional<credentials> from_environment();

}  // namespace sigv4::creds
