#include <chrono>
#include <iostream>
#include <string_view>
#include <vector>

#include "creds/environment.hpp"
#include "proxy/sign_command.hpp"

#ifndef SIGV4_SIDECAR_VERSION
#define SIGV4_SIDECAR_VERSION "dev"
#endif

namespace {

constexpr std::string_view usage =
    "usage: sigv4-sidecar <command> [flags]\n"
    "  sign [flags] URL     sign one request and print it (see 'sigv4-sidecar sign --help')\n"
    "  --version            print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "sigv4-sidecar " << SIGV4_SIDECAR_VERSION << '\n';
    return 0;
  }
  if (args[0] == "sign") {
    sigv4::app::sign_io io{
        .out = std::cout,
        .err = std::cerr,
        .get_credentials = [] { return sigv4::creds::from_environment(); },
        .now = [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }};
    return sigv4::app::run_sign(std::span(args).subspan(1), io);
  }
  std::cerr << "sigv4-sidecar: unknown command '" << args[0] << "'\n" << usage;
  return 2;
}
