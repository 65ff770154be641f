#pragma once
#include <span>
#include <string_view>

#include "proxy/config.hpp"

namespace sigv4::app {

// Runs the proxy until SIGTERM/SIGINT; exit code 0 after a clean drain, 1 on a startup failure (cannot
// listen, bad TLS setup), 2 on a bad command line or config.
int run_proxy(std::span<const std::string_view> args, const env_lookup& env);

}  // namespace sigv4::app
