// The run-mode command line (ours plus aws-sigv4-proxy's drop-in flags) and `check-config`.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <ostream>

#include "proxy/config_detail.hpp"

namespace sigv4::app {
namespace {

struct flag_values {
  std::optional<std::string> config_path, listen, admin_listen, log_level, log_format, ca_file;
  std::optional<std::string> storage_path;  // the scraper's spool: wins over the file's storage.path
  std::optional<std::size_t> max_request_body;
  std::optional<int> threads, busy_poll_us;
  std::optional<bool> no_verify_ssl;
  std::optional<std::chrono::milliseconds> upstream_idle;
  bool log_failed_requests = false, log_signing = false;
  std::vector<std::string> duplicate;
  // The --host route.
  std::optional<std::string> host, sign_host, name, region, role_arn;
  std::string scheme = "https";
  std::vector<std::string> strip;
  std::vector<std::pair<std::string, std::string>> custom_headers;
  bool unsigned_payload = false;
  std::vector<std::string> route_flags;  // route flags seen, to reject them when there is no --host
};

enum class arity { value, boolean };

struct flag_spec {
  std::string_view name;
  arity kind;
  bool route_flag;
};

constexpr flag_spec flags[] = {
    {"--config", arity::value, false},        {"--listen", arity::value, false},
    {"--admin-listen", arity::value, false},  {"--max-request-body", arity::value, false},
    {"--log-level", arity::value, false},     {"--log-format", arity::value, false},
    {"--ca-file", arity::value, false},       {"--threads", arity::value, false},
    {"--busy-poll-us", arity::value, false},  {"--port", arity::value, false},
    {"--no-verify-ssl", arity::boolean, false}, {"--verbose", arity::boolean, false},
    {"--host", arity::value, false},
    {"--name", arity::value, true},           {"--region", arity::value, true},
    {"--sign-host", arity::value, true},      {"--upstream-url-scheme", arity::value, true},
    {"--strip", arity::value, true},          {"--unsigned-payload", arity::boolean, true},
    {"--custom-headers", arity::value, true}, {"--role-arn", arity::value, true},
    // The rest of aws-sigv4-proxy's flags, so its users can swap images without editing their charts.
    {"--duplicate-headers", arity::value, true}, {"--log-failed-requests", arity::boolean, false},
    {"--log-signing-process", arity::boolean, false}, {"--transport.idle-conn-timeout", arity::value, false},
    // Prometheus' spelling (its agent mode has --storage.agent.path).
    {"--storage.path", arity::value, false},
};

void parse_custom_headers(std::string_view text, flag_values& f, std::vector<config_error>& errors) {
  for (std::size_t start = 0; start <= text.size();) {
    auto comma = std::min(text.find(',', start), text.size());
    auto item = text.substr(start, comma - start);
    start = comma + 1;
    auto eq = item.find('=');
    auto name = item.substr(0, eq);
    if (eq == std::string_view::npos || !detail::valid_header_name(name)) {
      errors.push_back({0, "--custom-headers: '" + std::string(item) + "' must look like Name=value"});
    } else if (auto problem = detail::added_header_problem(detail::lower(name))) {
      errors.push_back({0, "--custom-headers: " + *problem});
    } else {
      f.custom_headers.emplace_back(name, item.substr(eq + 1));
    }
  }
}

void apply_flag(std::string_view name, const std::string& v, flag_values& f,
                std::vector<config_error>& errors) {
  auto fail = [&](std::string message) {
    errors.push_back({0, std::string(name) + ": " + std::move(message)});
  };
  if (name == "--config") {
    f.config_path = v;
  } else if (name == "--listen" || name == "--port" || name == "--admin-listen") {
    std::string problem;
    auto addr = detail::normalize_listen(v, &problem);
    if (!addr) return fail(problem);
    (name == "--admin-listen" ? f.admin_listen : f.listen) = *addr;
  } else if (name == "--max-request-body") {
    f.max_request_body = parse_size(v);
    if (!f.max_request_body) fail("invalid size '" + v + "' (use e.g. 1048576, 512KiB, 16MiB, 10MB)");
  } else if (name == "--log-level") {
    if (!detail::valid_log_level(v)) return fail("'" + v + "' is not one of debug, info, warn, error");
    f.log_level = v;
  } else if (name == "--log-format") {
    if (!detail::valid_log_format(v)) return fail("'" + v + "' is not one of logfmt, json");
    f.log_format = v;
  } else if (name == "--ca-file") {
    f.ca_file = v;
  } else if (name == "--threads" || name == "--busy-poll-us") {
    const bool threads = name == "--threads";
    const int max = threads ? 256 : 10'000;
    int n = -1;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || ptr != v.data() + v.size() || n < 0 || n > max) {
      return fail("must be a whole number from 0 to " + std::to_string(max) + ", not '" + v + "'");
    }
    (threads ? f.threads : f.busy_poll_us) = n;
  } else if (name == "--host") {
    if (v.find("://") != std::string::npos)
      return fail("takes a host name, not a URL; set --upstream-url-scheme");
    if (!detail::valid_host_and_port(v)) return fail("invalid host '" + v + "'");
    f.host = detail::lower(v);
  } else if (name == "--sign-host") {
    if (!detail::valid_host_and_port(v)) return fail("invalid host '" + v + "'");
    f.sign_host = detail::lower(v);
  } else if (name == "--name" || name == "--region") {
    if (v.empty()) return fail("needs a value");
    (name == "--name" ? f.name : f.region) = v;
  } else if (name == "--upstream-url-scheme") {
    if (v != "http" && v != "https") return fail("must be http or https, not '" + v + "'");
    f.scheme = v;
  } else if (name == "--strip") {
    if (!detail::valid_header_name(v)) return fail("invalid header name '" + v + "'");
    f.strip.push_back(detail::lower(v));
  } else if (name == "--custom-headers") {
    parse_custom_headers(v, f, errors);
  } else if (name == "--role-arn") {
    f.role_arn = v;
  } else if (name == "--duplicate-headers") {
    if (!detail::valid_header_name(v)) return fail("invalid header name '" + v + "'");
    f.duplicate.push_back(detail::lower(v));
  } else if (name == "--transport.idle-conn-timeout") {
    f.upstream_idle = parse_duration(v);
    if (!f.upstream_idle) fail("invalid duration '" + v + "' (use e.g. 40s, 1m)");
  } else if (name == "--storage.path") {
    if (v.empty()) return fail("needs a directory");
    f.storage_path = v;
  }
}

void apply_bool(std::string_view name, bool on, flag_values& f) {
  if (name == "--no-verify-ssl") f.no_verify_ssl = on;
  if (name == "--unsigned-payload") f.unsigned_payload = on;
  if (name == "--log-failed-requests") f.log_failed_requests = on;
  if (name == "--log-signing-process") f.log_signing = on;
  // --verbose=false leaves the level alone rather than guessing a level to go back to. As in
  // aws-sigv4-proxy, --verbose implies the other log options.
  if (name == "--verbose" && on) {
    f.log_level = "debug";
    f.log_failed_requests = true;
    f.log_signing = true;
  }
}

flag_values parse_flags(std::span<const std::string_view> args, std::vector<config_error>& errors) {
  flag_values f;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-v") arg = "--verbose";
    if (!arg.starts_with("--")) {
      errors.push_back({0, "unexpected argument '" + std::string(arg) + "'"});
      continue;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    std::optional<std::string> inline_value;
    if (eq != std::string_view::npos) inline_value = std::string(arg.substr(eq + 1));
    const auto* spec = std::ranges::find(flags, name, &flag_spec::name);
    if (spec == std::end(flags)) {
      errors.push_back({0, "unknown flag '" + std::string(name) + "'"});
      continue;
    }
    if (spec->route_flag) f.route_flags.emplace_back(name);
    if (spec->kind == arity::boolean) {
      if (inline_value && *inline_value != "true" && *inline_value != "false") {
        errors.push_back({0, std::string(name) + " takes true or false, not '" + *inline_value + "'"});
      } else {
        apply_bool(name, !inline_value || *inline_value == "true", f);
      }
      continue;
    }
    if (!inline_value) {
      if (i + 1 == args.size()) {
        errors.push_back({0, std::string(name) + " needs a value"});
        continue;
      }
      inline_value = std::string(args[++i]);
    }
    apply_flag(name, *inline_value, f, errors);
  }
  return f;
}

void add_host_route(const flag_values& f, config& cfg, std::vector<config_error>& errors) {
  route_config route;
  route.name = "route-" + std::to_string(cfg.routes.size() + 1);
  std::string problem;
  auto upstream = net::parse_url(f.scheme + "://" + *f.host, &problem);
  if (!upstream) {
    errors.push_back({0, "--host '" + *f.host + "': " + problem});
    return;
  }
  route.upstream = std::move(*upstream);
  route.sign_host = f.sign_host.value_or("");
  route.sigv4.region = f.region.value_or("");
  route.sigv4.service = f.name.value_or("");
  if (!f.region || !f.name) {
    auto inferred = infer_sigv4(*f.host);
    if (!inferred && f.sign_host) inferred = infer_sigv4(*f.sign_host);
    if (!inferred) {
      errors.push_back(
          {0, "cannot infer region and service from --host " + *f.host + "; pass --region and --name"});
      return;
    }
    if (!f.region) route.sigv4.region = inferred->region;
    if (!f.name) route.sigv4.service = inferred->service;
  }
  route.sigv4.unsigned_payload = f.unsigned_payload;
  route.sigv4.role_arn = f.role_arn.value_or("");
  route.strip_headers = f.strip;
  route.duplicate_headers = f.duplicate;
  route.add_headers = f.custom_headers;
  cfg.routes.push_back(std::move(route));
}

}  // namespace

cli_result config_from_args(std::span<const std::string_view> args, const env_lookup& env) {
  cli_result result;
  auto& errors = result.errors;
  flag_values f = parse_flags(args, errors);

  config cfg;
  bool whole_checks = true;
  if (f.config_path) {
    result.config_path = *f.config_path;
    std::string problem;
    if (auto text = detail::read_text_file(*f.config_path, &problem)) {
      auto doc = detail::parse_document(*text, env);
      cfg = std::move(doc.cfg);
      errors.insert(errors.end(), doc.errors.begin(), doc.errors.end());
      result.warnings = std::move(doc.warnings);
      whole_checks = doc.structured;
    } else {
      errors.push_back({0, "--config: " + problem});
      whole_checks = false;
    }
  } else if (!f.host) {
    errors.push_back({0, "no upstream configured: pass --host (and --region, --name) or --config FILE"});
    whole_checks = false;
  }

  // Flags win over the file.
  if (f.listen) cfg.listen = *f.listen;
  if (f.admin_listen) cfg.admin_listen = *f.admin_listen;
  if (f.log_level) cfg.log_level = *f.log_level;
  if (f.log_format) cfg.log_format = *f.log_format;
  if (f.ca_file) cfg.tls.ca_file = *f.ca_file;
  if (f.no_verify_ssl) cfg.tls.insecure_skip_verify = *f.no_verify_ssl;
  if (f.max_request_body) cfg.limits.max_request_body = *f.max_request_body;
  if (f.threads) cfg.threads = *f.threads;
  if (f.busy_poll_us) cfg.busy_poll_us = *f.busy_poll_us;
  if (f.upstream_idle) cfg.timeouts.upstream_idle = *f.upstream_idle;
  if (f.log_failed_requests) cfg.log_failed_requests = true;
  if (f.log_signing) cfg.log_signing = true;
  if (f.storage_path) cfg.scrape.storage.path = *f.storage_path;

  if (f.host) {
    add_host_route(f, cfg, errors);
  } else {
    for (const auto& flag : f.route_flags) {
      errors.push_back(
          {0, flag + " configures the --host route; pass --host too (or use routes in the config file)"});
    }
  }
  if (whole_checks) detail::check_whole(cfg, errors);
  if (errors.empty()) result.cfg = std::move(cfg);
  return result;
}

int run_check_config(std::span<const std::string_view> args, std::ostream& out, std::ostream& err,
                     const env_lookup& env) {
  constexpr std::string_view usage = "usage: sigv4-sidecar check-config FILE\n";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << usage;
    return 0;
  }
  if (args.size() != 1 || args[0].starts_with('-')) {
    err << usage;
    return 2;
  }
  std::string path(args[0]);
  std::string problem;
  auto text = detail::read_text_file(path, &problem);
  if (!text) {
    config_error e{0, problem};
    err << format_errors(std::span(&e, 1), path);
    return 1;
  }
  auto doc = detail::parse_document(*text, env);
  if (doc.structured) detail::check_whole(doc.cfg, doc.errors);
  if (!doc.errors.empty()) err << format_errors(doc.errors, path);
  for (auto& w : doc.warnings) w.message = "warning: " + w.message;
  err << format_errors(doc.warnings, path);
  if (!doc.errors.empty()) return 1;
  auto routes = doc.cfg.routes.size();
  auto patterns = doc.cfg.forward_proxy.allow.size();
  out << path << ": OK, " << routes << (routes == 1 ? " route" : " routes");
  if (patterns == 0) {
    out << ", forward proxy off";
  } else {
    out << ", forward proxy allows " << patterns << (patterns == 1 ? " host pattern" : " host patterns");
  }
  const auto& scrape = doc.cfg.scrape;
  if (!scrape.empty()) {
    auto jobs = scrape.job_count();
    out << ", " << jobs << (jobs == 1 ? " scrape job" : " scrape jobs") << ", " << scrape.remote_count()
        << " remote_write";
    if (scrape.agent_line > 0) {
      auto n = scrape.instances.size();
      out << " (" << n << (n == 1 ? " Grafana Agent instance)" : " Grafana Agent instances)");
    }
  }
  out << '\n';
  return 0;
}

}  // namespace sigv4::app
