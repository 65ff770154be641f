// libFuzzer target over the config loaders: the bytes are a config file, read two ways.
//   1. The proxy's parse_config (proxy/config.hpp), the string form behind load_config_file: the whole file,
//      the scraper's keys (Prometheus' global/scrape_configs/remote_write, Grafana Agent's metrics:)
//      delegated to scraper/config.hpp as in production.
//   2. The scraper's section alone (read_top_level_key for each top-level key, then finish()), as
//      tests/unit/scraper/config_test.cpp loads it, so that scraper-only files reach every scraper check
//      without needing a route.
// Invariant: a config or errors, never both, never neither; every error and warning has a message and a line
// within the file (0 only for what is not tied to a line), and format_errors names that line. Any exception
// escaping (yaml-cpp's included: a reader must check a node's type before converting it) is a bug, as is a
// crash or a sanitizer report.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config.hpp"
#include "scraper/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using sigv4::fuzz::check;
using sigv4::fuzz::must_not_throw;

// A few variables for ${VAR} expansion; anything else is unset (an error on its line).
const char* env(const char* name) {
  std::string_view n(name);
  if (n == "ROLE_NAME") return "reader";
  if (n == "TENANT") return "t-1";
  if (n == "REGION") return "us-east-1";
  if (n == "EMPTY") return "";
  return nullptr;
}

void check_diagnostics(const std::vector<sigv4::conf::config_error>& list, int lines) {
  for (const auto& e : list) {
    check(!e.message.empty(), "an error has a message");
    check(e.line >= 0 && e.line <= lines, "an error's line is within the file");
    if (e.line > 0) {
      auto text = sigv4::conf::format_errors(std::span(&e, 1), "f");
      check(text.starts_with("f: line " + std::to_string(e.line) + ": "), "format_errors names the line");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // yaml-cpp counts \n, \r\n and a lone \r as line breaks; +1 for the last line, +1 for an error at EOF.
  const int lines = 2 + static_cast<int>(std::count(text.begin(), text.end(), '\n') +
                                         std::count(text.begin(), text.end(), '\r'));
  const sigv4::conf::env_lookup lookup = env;

  must_not_throw("parse_config", [&] {
    auto r = sigv4::app::parse_config(text, lookup);
    check(r.cfg.has_value() == r.errors.empty(), "a config xor errors");
    check_diagnostics(r.errors, lines);
    check_diagnostics(r.warnings, lines);
    if (r.cfg)
      check(!r.cfg->routes.empty() || !r.cfg->forward_proxy.allow.empty() || r.cfg->scrape.job_count() > 0,
            "a valid config has something to do");
  });

  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException&) {
    return 0;  // a syntax error: parse_config reported it above, with its line
  }
  must_not_throw("the scraper's config section", [&] {
    std::vector<sigv4::conf::config_error> errors, warnings;
    sigv4::conf::yaml_reader r(lookup, errors, &warnings);
    sigv4::scraper::scraper_config cfg;
    std::vector<std::string_view> keys(std::begin(sigv4::scraper::top_level_keys),
                                       std::end(sigv4::scraper::top_level_keys));
    r.for_each_key(root, 1, "the top level", keys, [&](std::string_view key, const YAML::Node& v, int line) {
      sigv4::scraper::read_top_level_key(r, key, v, line, cfg);
    });
    sigv4::scraper::finish(r, cfg);
    check_diagnostics(errors, lines);
    check_diagnostics(warnings, lines);
    if (errors.empty()) {
      for (const auto& inst : cfg.instances) {
        for (const auto& job : inst.jobs) {
          check(!job.job_name.empty(), "a job has a name");
          check(job.scrape_interval.count() > 0 && job.scrape_timeout.count() > 0,
                "effective interval, timeout");
          check(job.scrape_timeout <= job.scrape_interval, "timeout within interval");
        }
      }
    }
  });
  return 0;
}
