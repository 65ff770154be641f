#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "creds/environment.hpp"
#include "proxy/config.hpp"
#include "proxy/run_command.hpp"
#include "proxy/sign_command.hpp"

#ifndef SIGV4_SIDECAR_VERSION
#define SIGV4_SIDECAR_VERSION "dev"
#endif

namespace {

constexpr std::string_view usage =
    "usage: sigv4-sidecar [--config FILE] [flags]   run the proxy (see README for every flag)\n"
    "       sigv4-sidecar sign [flags] URL           sign one request and print it\n"
    "       sigv4-sidecar check-config FILE          validate a config; every error with its line\n"
    "       sigv4-sidecar --version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage;
    return 0;
  }
  auto env = [](const char* name) -> const char* { return std::getenv(name); };
  if (!args.empty() && args[0] == "--version") {
    std::cout << "sigv4-sidecar " << SIGV4_SIDECAR_VERSION << '\n';
    return 0;
  }
  if (!args.empty() && args[0] == "sign") {
    sigv4::app::sign_io io{
        .out = std::cout,
        .err = std::cerr,
        .get_credentials = [] { return sigv4::creds::from_environment(); },
        .now = [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }};
    return sigv4::app::run_sign(std::span(args).subspan(1), io);
  }
  if (!args.empty() && args[0] == "check-config") {
    return sigv4::app::run_check_config(std::span(args).subspan(1), std::cout, std::cerr, env);
  }
  return sigv4::app::run_proxy(args, env);
}
