// The YAML config file: top-level settings and their sections (routes are in config_routes.cpp), the checks
// that need the whole config, and error formatting.
#include "proxy/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "proxy/config_detail.hpp"
#include "conf/yaml_reader.hpp"

namespace sigv4::app {
namespace detail {
namespace {

void read_listen(yaml_reader& r, const YAML::Node& v, int line, std::string_view key, std::string& out) {
  auto text = r.string(v, line, key);
  if (!text) return;
  std::string problem;
  if (auto addr = normalize_listen(*text, &problem)) {
    out = *addr;
  } else {
    r.error(yaml_reader::line_of(v, line), quote(key) + ": " + problem);
  }
}

void read_limits(yaml_reader& r, const YAML::Node& node, int line, limits_config& out) {
  r.for_each_key(node, line, "limits", {"max_request_body", "max_header_bytes", "max_connections"},
                 [&](std::string_view key, const YAML::Node& v, int kl) {
                   if (key == "max_request_body") {
                     assign(out.max_request_body, r.size(v, kl, "limits.max_request_body"));
                   } else if (key == "max_header_bytes") {
                     auto n = r.size(v, kl, "limits.max_header_bytes");
                     if (n && *n == 0) r.error(kl, "'limits.max_header_bytes' must be greater than 0");
                     if (n && *n > 0) out.max_header_bytes = *n;
                   } else {
                     assign(out.max_connections, r.integer(v, kl, "limits.max_connections", 1, 1'000'000));
                   }
                 });
}

void read_timeouts(yaml_reader& r, const YAML::Node& node, int line, timeouts_config& out) {
  struct field {
    std::string_view key;
    std::chrono::milliseconds timeouts_config::*member;
    bool zero_ok;  // 0 is meaningful only where it means "don't wait"
  };
  static const std::vector<field> fields = {
      {"client_header", &timeouts_config::client_header, false},
      {"client_body", &timeouts_config::client_body, false},
      {"client_idle", &timeouts_config::client_idle, false},
      {"upstream_connect", &timeouts_config::upstream_connect, false},
      {"upstream_response_header", &timeouts_config::upstream_response_header, false},
      {"upstream_idle", &timeouts_config::upstream_idle, true},
      {"shutdown_grace", &timeouts_config::shutdown_grace, true},
      {"lingering_close", &timeouts_config::lingering_close, true},
  };
  std::vector<std::string_view> known;
  for (const auto& f : fields) known.push_back(f.key);
  r.for_each_key(node, line, "timeouts", known, [&](std::string_view key, const YAML::Node& v, int kl) {
    const auto& f = *std::ranges::find(fields, key, &field::key);
    std::string name = "timeouts." + std::string(key);
    auto d = r.duration(v, kl, name);
    if (!d) return;
    if (d->count() == 0 && !f.zero_ok) {
      r.error(kl, "'" + name + "' must be greater than 0");
      return;
    }
    out.*f.member = *d;
  });
}

void read_forward_proxy(yaml_reader& r, const YAML::Node& node, int line, forward_proxy_config& out) {
  r.for_each_key(node, line, "forward_proxy", {"allow", "upstream_scheme", "connect_to"},
                 [&](std::string_view key, const YAML::Node& v, int kl) {
                   if (key == "connect_to") {
                     auto s = r.string(v, kl, "forward_proxy.connect_to");
                     if (!s) return;
                     if (auto problem = connect_to_problem(*s))
                       return r.error(kl, "'forward_proxy." + problem->substr(1));
                     out.connect_to = lower(*s);
                     return;
                   }
                   if (key == "upstream_scheme") {
                     auto s = r.string(v, kl, "forward_proxy.upstream_scheme");
                     if (s && *s != "http" && *s != "https") {
                       r.error(yaml_reader::line_of(v, kl),
                               "'forward_proxy.upstream_scheme' must be http or https, not '" + *s + "'");
                     } else if (s) {
                       out.upstream_scheme = *s;
                     }
                     return;
                   }
                   r.for_each_element(v, kl, "forward_proxy.allow", [&](const YAML::Node& e, int el) {
                     auto entry = r.string(e, el, "forward_proxy.allow");
                     if (!entry) return;
                     if (auto problem = allow_entry_problem(*entry)) {
                       r.error(el, *problem);
                     } else {
                       out.allow.push_back(lower(*entry));
                     }
                   });
                 });
}

void read_credentials(yaml_reader& r, const YAML::Node& node, int line, credentials_config& out) {
  out.line = line;
  r.for_each_key(node, line, "credentials",
                 {"source", "profile", "role_arn", "external_id", "session_name", "duration", "sts_region",
                  "imds_v1_fallback"},
                 [&](std::string_view key, const YAML::Node& v, int kl) {
                   std::string name = "credentials." + std::string(key);
                   if (key == "source") {
                     auto s = r.string(v, kl, name);
                     if (!s) return;
                     bool known = false;
                     std::string all;
                     for (auto src : credential_sources) {
                       known = known || src == *s;
                       all += (all.empty() ? "" : ", ") + std::string(src);
                     }
                     if (known) {
                       out.source = *s;
                     } else {
                       r.error(kl, name + " " + quote(*s) + " is not one of " + all);
                     }
                   } else if (key == "imds_v1_fallback") {
                     assign(out.imds_v1_fallback, r.boolean(v, kl, name));
                   } else if (key == "duration") {
                     auto s = r.string(v, kl, name);
                     if (!s) return;
                     auto d = parse_duration(*s);
                     if (!d || *d < std::chrono::minutes(15) || *d > std::chrono::hours(12)) {
                       r.error(kl, name + " " + quote(*s) + " must be a duration from 15m to 12h (STS limits)");
                     } else {
                       out.duration = std::chrono::duration_cast<std::chrono::seconds>(*d);
                     }
                   } else {
                     auto s = r.string(v, kl, name);
                     if (!s) return;
                     if (s->empty()) {
                       r.error(kl, name + " is empty");
                       return;
                     }
                     (key == "profile"        ? out.profile
                      : key == "role_arn"     ? out.role_arn
                      : key == "external_id"  ? out.external_id
                      : key == "session_name" ? out.session_name
                                              : out.sts_region) = *s;
                   }
                 });
  if (!out.profile.empty() && out.source != "default" && out.source != "profile") {
    r.error(line, "credentials.profile is only used with source default or profile, not " + out.source);
  }
}

void read_top_level(yaml_reader& r, const YAML::Node& root, parsed_document& doc) {
  std::vector<std::string_view> known = {"listen",        "admin_listen",  "log_level",     "log_format",
                                         "threads",       "busy_poll_us",  "limits",        "timeouts",
                                         "tls",           "upstream_pool", "routes",        "forward_proxy",
                                         "log_signing",   "log_failed_requests",            "credentials"};
  // The scraper owns its keys and their checks; one file configures both.
  known.insert(known.end(), std::begin(scraper::top_level_keys), std::end(scraper::top_level_keys));
  config& cfg = doc.cfg;
  r.for_each_key(root, 1, "the top level", known, [&](std::string_view key, const YAML::Node& v, int kl) {
    if (key == "listen") {
      read_listen(r, v, kl, key, cfg.listen);
    } else if (key == "admin_listen") {
      read_listen(r, v, kl, key, cfg.admin_listen);
    } else if (key == "log_level" || key == "log_format") {
      auto s = r.string(v, kl, key);
      bool level = key == "log_level";
      if (s && (level ? valid_log_level(*s) : valid_log_format(*s))) {
        (level ? cfg.log_level : cfg.log_format) = *s;
      } else if (s) {
        r.error(yaml_reader::line_of(v, kl), std::string(key) + " '" + *s + "' is not one of " +
                                                 (level ? "debug, info, warn, error" : "logfmt, json"));
      }
    } else if (key == "log_signing") {
      assign(cfg.log_signing, r.boolean(v, kl, key));
    } else if (key == "log_failed_requests") {
      assign(cfg.log_failed_requests, r.boolean(v, kl, key));
    } else if (key == "threads") {
      assign(cfg.threads, r.integer(v, kl, key, 0, 256));
    } else if (key == "busy_poll_us") {
      assign(cfg.busy_poll_us, r.integer(v, kl, key, 0, 10'000));
    } else if (key == "limits") {
      read_limits(r, v, kl, cfg.limits);
    } else if (key == "timeouts") {
      read_timeouts(r, v, kl, cfg.timeouts);
    } else if (key == "tls") {
      r.for_each_key(v, kl, "tls", {"ca_file", "insecure_skip_verify"},
                     [&](std::string_view k, const YAML::Node& tv, int tl) {
                       if (k == "ca_file") {
                         assign(cfg.tls.ca_file, r.string(tv, tl, "tls.ca_file"));
                       } else {
                         assign(cfg.tls.insecure_skip_verify, r.boolean(tv, tl, "tls.insecure_skip_verify"));
                       }
                     });
    } else if (key == "upstream_pool") {
      r.for_each_key(v, kl, "upstream_pool", {"max_idle_per_upstream"},
                     [&](std::string_view, const YAML::Node& pv, int pl) {
                       assign(cfg.pool.max_idle_per_upstream,
                              r.integer(pv, pl, "upstream_pool.max_idle_per_upstream", 0, 100'000));
                     });
    } else if (key == "credentials") {
      read_credentials(r, v, kl, cfg.credentials);
    } else if (key == "routes") {
      read_routes(r, v, kl, cfg.routes);
    } else if (key == "forward_proxy") {
      read_forward_proxy(r, v, kl, cfg.forward_proxy);
    } else {
      scraper::read_top_level_key(r, key, v, kl, cfg.scrape);
    }
  });
  scraper::finish(r, cfg.scrape);
}

}  // namespace

parsed_document parse_document(std::string_view yaml_text, const env_lookup& env) {
  parsed_document doc;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    doc.errors.push_back({line, "YAML syntax error: " + e.msg});
    return doc;
  }
  yaml_reader r(env, doc.errors, &doc.warnings);
  if (!root.IsNull() && !root.IsMap()) {
    r.error(yaml_reader::line_of(root, 1), "the config must be a mapping of keys (like 'listen: ...')");
    return doc;
  }
  doc.structured = true;
  read_top_level(r, root, doc);
  // Route-level checks run after the route is read; report in file order all the same.
  std::ranges::stable_sort(doc.errors, {}, &config_error::line);
  std::ranges::stable_sort(doc.warnings, {}, &config_error::line);
  return doc;
}

std::optional<std::string> read_text_file(const std::string& path, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::string> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  // A directory opens fine on Linux and fails only on read.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fail("cannot read '" + path + "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open '" + path + "': " + std::strerror(errno));
  try {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return fail("cannot read '" + path + "'");
    return text;
  } catch (const std::ios_base::failure& e) {  // libstdc++ reports read errors by throwing from the buffer
    return fail("cannot read '" + path + "': " + e.what());
  }
}

void check_whole(const config& cfg, std::vector<config_error>& errors) {
  if (cfg.routes.empty() && cfg.forward_proxy.allow.empty() && cfg.scrape.job_count() == 0) {
    errors.push_back({0, "no upstream configured: add routes or forward_proxy.allow"});
  }
  // Port 0 picks a free port, so two such listeners never collide.
  if (cfg.listen == cfg.admin_listen && !cfg.listen.ends_with(":0")) {
    errors.push_back(
        {0, "listen and admin_listen are both " + cfg.listen + "; give the admin endpoint its own port"});
  }
  for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (cfg.routes[i].name != cfg.routes[j].name) continue;
      std::string first =
          cfg.routes[j].line > 0 ? " (first on line " + std::to_string(cfg.routes[j].line) + ")" : "";
      errors.push_back({cfg.routes[i].line, "duplicate route name '" + cfg.routes[i].name + "'" + first});
      break;
    }
  }
}

}  // namespace detail

config_result parse_config(std::string_view yaml_text, const env_lookup& env) {
  auto doc = detail::parse_document(yaml_text, env);
  if (doc.structured) detail::check_whole(doc.cfg, doc.errors);
  config_result result;
  result.errors = std::move(doc.errors);
  result.warnings = std::move(doc.warnings);
  if (result.errors.empty()) result.cfg = std::move(doc.cfg);
  return result;
}

config_result load_config_file(const std::string& path, const env_lookup& env) {
  std::string problem;
  auto text = detail::read_text_file(path, &problem);
  if (!text) return config_result{.cfg = std::nullopt, .errors = {{0, problem}}, .warnings = {}};
  return parse_config(*text, env);
}

}  // namespace sigv4::app
