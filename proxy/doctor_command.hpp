#pragma once
// `sigv4-sidecar doctor [--config FILE] [flags]`: what an operator runs at 3 a.m. It resolves credentials the
// way the proxy would (which provider won, why each other one was skipped), shows the key's last 4
// characters and expiry, asks STS GetCallerIdentity who that is, assumes each route's role, and measures the
// clock skew against STS's and each upstream's Date header. Never prints a secret.
#include <iosfwd>
#include <span>
#include <string_view>

#include "proxy/config.hpp"

namespace sigv4::app {

// Exit 0 when credentials resolve and STS accepts them; 1 when something is wrong; 2 on bad arguments.
int run_doctor(std::span<const std::string_view> args, std::ostream& out, const env_lookup& env);

}  // namespace sigv4::app
