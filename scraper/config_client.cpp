// The blocks scrape jobs and remote_write share: the HTTP client settings (Prometheus' HTTPClientConfig
// checks, in its words), sigv4, relabel lists and label maps.
#include <algorithm>
#include <limits>

#include "scraper/config_detail.hpp"

namespace sigv4::scraper::detail {
namespace {

using conf::quote;

// Relabel templates use Go's ${1}, which is not an environment variable: these keys are read as written.
std::optional<std::string> raw_string(yaml_reader& r, const YAML::Node& v, int line, std::string_view key) {
  if (v.IsNull()) return std::string();
  if (!v.IsScalar()) {
    r.error(yaml_reader::line_of(v, line), quote(key) + " must be a single value");
    return std::nullopt;
  }
  return v.Scalar();
}

void read_tls(yaml_reader& r, const YAML::Node& v, int line, tls_settings& out) {
  r.for_each_key(v, line, "tls_config",
                 {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"},
                 [&](std::string_view key, const YAML::Node& tv, int tl) {
                   std::string name = "tls_config." + std::string(key);
                   if (key == "insecure_skip_verify")
                     return conf::assign(out.insecure_skip_verify, r.boolean(tv, tl, name));
                   auto s = r.string(tv, tl, name);
                   if (!s) return;
                   (key == "ca_file"     ? out.ca_file
                    : key == "cert_file" ? out.cert_file
                    : key == "key_file"  ? out.key_file
                                         : out.server_name) = *s;
                 });
  if (out.cert_file.empty() != out.key_file.empty()) {
    r.error(line, "tls_config: cert_file and key_file must be given together");
  }
}

void read_basic_auth(yaml_reader& r, const YAML::Node& v, int line, basic_auth_settings& out) {
  r.for_each_key(
      v, line, "basic_auth", {"username", "password", "password_file"},
      [&](std::string_view key, const YAML::Node& bv, int bl) {
        auto s = r.string(bv, bl, "basic_auth." + std::string(key));
        if (!s) return;
        (key == "username" ? out.username : key == "password" ? out.password : out.password_file) = *s;
      });
  if (!out.password.empty() && !out.password_file.empty()) {
    r.error(line, "at most one of basic_auth password & password_file must be configured");
  }
}

void read_authorization(yaml_reader& r, const YAML::Node& v, int line, http_client& c) {
  authorization_settings a;
  r.for_each_key(v, line, "authorization", {"type", "credentials", "credentials_file", "sigv4"},
                 [&](std::string_view key, const YAML::Node& av, int al) {
                   if (key == "sigv4") {
                     c.sigv4_in_authorization = true;
                     return read_sigv4(r, av, al, c.sigv4);
                   }
                   auto s = r.string(av, al, "authorization." + std::string(key));
                   if (!s) return;
                   if (key == "type") {
                     c.authorization_type_line = al;
                     a.type = *s;
                   } else {
                     c.authorization_has_credentials = true;
                     (key == "credentials" ? a.credentials : a.credentials_file) = *s;
                   }
                 });
  auto first = a.type.find_first_not_of(" \t");
  a.type = first == std::string::npos ? "Bearer"
                                      : a.type.substr(first, a.type.find_last_not_of(" \t") + 1 - first);
  if (conf::lower(a.type) == "basic") {
    r.error(c.authorization_type_line,
            "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
  }
  if (!a.credentials.empty() && !a.credentials_file.empty()) {
    r.error(line, "at most one of authorization credentials & credentials_file must be configured");
  }
  // An authorization block that only carries sigv4 is not an Authorization header.
  if (!c.sigv4_in_authorization || c.authorization_has_credentials) c.authorization = std::move(a);
}

}  // namespace

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

void read_sigv4(yaml_reader& r, const YAML::Node& v, int line, sigv4_settings& out) {
  out.enabled = true;
  out.line = line;
  r.for_each_key(
      v, line, "sigv4",
      {"region", "service", "service_name", "access_key", "secret_key", "profile", "role_arn", "external_id"},
      [&](std::string_view key, const YAML::Node& sv, int sl) {
        std::string name = "sigv4." + std::string(key);
        auto s = r.string(sv, sl, name);
        if (!s) return;
        if (s->empty()) return r.error(sl, quote(name) + " is empty");
        if (key == "access_key" || key == "secret_key") {
          // Keys in a file end up in backups, tickets and ConfigMaps.
          r.warn(sl, quote(name) +
                         " puts a credential in the config file; prefer the environment "
                         "or the default credential chain");
        }
        (key == "region"                             ? out.region
         : key == "service" || key == "service_name" ? out.service
         : key == "access_key"                       ? out.access_key
         : key == "secret_key"                       ? out.secret_key
         : key == "profile"                          ? out.profile
         : key == "role_arn"                         ? out.role_arn
                                                     : out.external_id) = *s;
      });
  if (out.access_key.empty() != out.secret_key.empty()) {
    r.error(line, "sigv4: access_key and secret_key must be given together");
  }
}

void read_http_client_key(yaml_reader& r, std::string_view key, const YAML::Node& v, int line,
                          http_client& out) {
  if (key == "tls_config") {
    read_tls(r, v, line, out.tls);
  } else if (key == "basic_auth") {
    out.basic_auth_line = line;
    read_basic_auth(r, v, line, out.basic_auth.emplace());
  } else if (key == "authorization") {
    out.authorization_line = line;
    read_authorization(r, v, line, out);
  } else if (key == "bearer_token" || key == "bearer_token_file") {
    out.bearer_line = out.bearer_line == 0 ? line : out.bearer_line;
    conf::assign(key == "bearer_token" ? out.bearer_token : out.bearer_token_file, r.string(v, line, key));
  } else if (key == "follow_redirects") {
    conf::assign(out.follow_redirects, r.boolean(v, line, key));
  } else if (key == "enable_http2") {
    // Accepted for compatibility: the sidecar speaks HTTP/1.1, which every target and receiver accepts.
    r.boolean(v, line, key);
  } else if (key == "oauth2") {
    r.error(line, "'oauth2' is not supported; use sigv4, authorization or basic_auth");
  } else {
    r.error(line, quote(key) + " is not supported: the sidecar connects to targets and receivers directly");
  }
}

void check_http_client(yaml_reader& r, http_client& c, int line) {
  bool bearer = !c.bearer_token.empty() || !c.bearer_token_file.empty();
  if (!c.bearer_token.empty() && !c.bearer_token_file.empty()) {
    r.error(c.bearer_line, "at most one of bearer_token & bearer_token_file must be configured");
  }
  if (c.basic_auth && bearer) {
    r.error(c.bearer_line,
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
  }
  if (c.authorization && bearer) {
    r.error(c.bearer_line, "authorization is not compatible with bearer_token & bearer_token_file");
  }
  if (c.authorization && c.basic_auth) {
    r.error(std::max(c.basic_auth_line, c.authorization_line),
            "at most one of basic_auth, oauth2 & authorization must be configured");
  }
  if (!c.authorization && bearer) {
    authorization_settings a;
    a.credentials = c.bearer_token;
    a.credentials_file = c.bearer_token_file;
    c.authorization = std::move(a);
  }
  if (c.sigv4.enabled && (c.basic_auth || c.authorization)) {
    r.error(c.sigv4.line, "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured");
  }
  if (c.sigv4_in_authorization && c.authorization_type_line > 0 && !c.authorization_has_credentials) {
    r.warn(c.authorization_type_line,
           "authorization.type is ignored when sigv4 is present: requests are signed with SigV4 instead");
  }
  (void)line;
}

void read_labels(yaml_reader& r, const YAML::Node& v, int line, std::string_view key, labels& out) {
  if (v.IsNull()) return;
  if (!v.IsMap())
    return r.error(yaml_reader::line_of(v, line), quote(key) + " must be a mapping of label names to values");
  for (auto it = v.begin(); it != v.end(); ++it) {
    int kl = yaml_reader::line_of(it->first, line);
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (!is_valid_label_name(name)) {
      r.error(kl, "\"" + name + "\" is not a valid label name");
      continue;
    }
    auto value = r.string(it->second, kl, std::string(key) + "." + name);
    if (!value) continue;
    if (std::ranges::any_of(out, [&](const label& l) { return l.name == name; })) {
      r.error(kl, quote(key) + ": label '" + name + "' is given twice");
      continue;
    }
    out.push_back({name, std::move(*value)});
  }
  // An empty value means "no such label".
  std::erase_if(out, [](const label& l) { return l.value.empty(); });
  sort_labels(out);
}

void read_relabel_list(yaml_reader& r, const YAML::Node& v, int line, std::string_view key,
                       bool target_relabel, std::vector<relabel_spec>& specs, relabel_rules& rules) {
  std::size_t index = 0;
  r.for_each_element(v, line, key, [&](const YAML::Node& e, int el) {
    ++index;
    // yaml-cpp places a bare '-' at the next token, so the list's line and the entry's number say where.
    if (e.IsNull()) {
      return r.error(el, "empty or null relabeling rule in " + std::string(key) + " (entry " +
                             std::to_string(index) + ")");
    }
    relabel_spec spec;
    std::string action_text = "replace";
    int target_line = el;
    std::size_t errors_before = r.error_count();
    r.for_each_key(
        e, el, key,
        {"source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"},
        [&](std::string_view k, const YAML::Node& rv, int rl) {
          std::string name = std::string(key) + "." + std::string(k);
          if (k == "source_labels") {
            spec.source_labels_set = true;
            conf::assign(spec.source_labels, r.strings(rv, rl, name));
          } else if (k == "modulus") {
            conf::assign(spec.modulus, r.integer(rv, rl, name, 0, std::numeric_limits<long long>::max()));
          } else if (k == "action") {
            action_text = rv.IsScalar() ? rv.Scalar() : std::string();
          } else {
            auto s = raw_string(r, rv, rl, name);
            if (!s) return;
            if (k == "regex") spec.regex_set = true;
            if (k == "target_label") target_line = rl;
            (k == "separator"      ? spec.separator
             : k == "regex"        ? spec.regex
             : k == "target_label" ? spec.target_label
                                   : spec.replacement) = *s;
          }
        });
    auto action = parse_action(action_text);
    if (!action) return r.error(el, action_error(action_text));
    spec.action = *action;
    if (r.error_count() != errors_before) return;
    auto compiled = compile(spec);
    if (auto* problem = std::get_if<std::string>(&compiled)) return r.error(el, *problem);
    rules.push_back(std::get<relabel_rule>(std::move(compiled)));
    bool writes = spec.action == relabel_action::replace || spec.action == relabel_action::hashmod ||
                  spec.action == relabel_action::lowercase || spec.action == relabel_action::uppercase;
    const std::string& t = spec.target_label;
    bool meaningful = t == "__address__" || t == "__scheme__" || t == "__metrics_path__" ||
                      t == "__scrape_interval__" || t == "__scrape_timeout__" || t.starts_with("__param_") ||
                      t.starts_with("__tmp") || t.starts_with("__meta_");
    if (target_relabel && writes && t.starts_with("__") && !meaningful) {
      r.warn(target_line,
             "'" + t +
                 "' is not a Prometheus label: labels starting with '__' are dropped after target "
                 "relabeling, so this rule changes nothing");
    }
    specs.push_back(std::move(spec));
  });
}

}  // namespace sigv4::scraper::detail
