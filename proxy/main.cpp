#include <malloc.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "obs/process_metrics.hpp"
#include "proxy/config.hpp"
#include "proxy/credentials.hpp"
#include "proxy/doctor_command.hpp"
#include "proxy/healthcheck_command.hpp"
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
    "       sigv4-sidecar doctor [--config FILE] [flags]  credentials, identity, clock skew, upstreams\n"
    "       sigv4-sidecar healthcheck [--timeout DUR] [URL]  exit 0 when URL (admin /-/ready) is 200\n"
    "       sigv4-sidecar --version\n";

}  // namespace

int main(int argc, char** argv) {
  // A peer that goes away must cost an EPIPE, never the process (Asio sends with MSG_NOSIGNAL already; this
  // covers every other write). Children get the default back (creds/process_provider.cpp).
  std::signal(SIGPIPE, SIG_IGN);
  // OpenSSL gives its ~17 KiB record buffers back after every record (SSL_MODE_RELEASE_BUFFERS keeps idle
  // pooled connections small); with glibc's default trim threshold each free of the heap top returned memory
  // to the kernel and the next record faulted it back in: 30-60k page faults per 3 s under TLS load and ~10%
  // less throughput. Keep up to 1 MiB of free heap top instead, and stop the threshold from drifting.
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(sigv4::obs::heap_top_kept_bytes));
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
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
        .get_credentials = [&](std::string& why) -> std::optional<sigv4::credentials> {
          // The base identity as the proxy resolves it with an empty config: the default chain, no role.
          const sigv4::app::config defaults;
          auto base = sigv4::app::make_base_provider(defaults, env, sigv4::app::make_credentials_http(defaults.tls));
          auto r = sigv4::app::run_blocking(base.provider->fetch());
          if (!r.creds) {
            why = r.reason;
            return std::nullopt;
          }
          return r.creds->creds;
        },
        .now = [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }};
    return sigv4::app::run_sign(std::span(args).subspan(1), io);
  }
  if (!args.empty() && args[0] == "doctor") {
    return sigv4::app::run_doctor(std::span(args).subspan(1), std::cout, env);
  }
  if (!args.empty() && args[0] == "healthcheck") {
    return sigv4::app::run_healthcheck(std::span(args).subspan(1), std::cerr);
  }
  if (!args.empty() && args[0] == "check-config") {
    return sigv4::app::run_check_config(std::span(args).subspan(1), std::cout, std::cerr, env);
  }
  return sigv4::app::run_proxy(args, env);
}
