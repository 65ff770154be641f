#pragma once
// `sigv4-sidecar healthcheck [--timeout DUR] [URL]`: the probe a container image can run without curl
// (Docker HEALTHCHECK, a compose healthcheck, an exec probe). One plain-HTTP GET of URL, default
// http://127.0.0.1:8006/-/ready; exit 0 on 200, else 1 with a one-line reason on stderr.
#include <iosfwd>
#include <span>
#include <string_view>

namespace sigv4::app {

inline constexpr std::string_view default_healthcheck_url = "http://127.0.0.1:8006/-/ready";

// Exit 0 when URL answers 200; 1 when it answers anything else or cannot be reached within the timeout
// (default 3s); 2 on bad arguments.
int run_healthcheck(std::span<const std::string_view> args, std::ostream& err);

}  // namespace sigv4::app
