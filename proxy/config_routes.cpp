// The `routes:` list: match, upstream, signing settings and header edits of each route, and the inference of
// region and signing name from the upstream host.
#include <algorithm>

#include "proxy/config_detail.hpp"
#include "conf/yaml_reader.hpp"

namespace sigv4::app::detail {
namespace {

bool valid_route_name(std::string_view name) {
  return !name.empty() && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// Header names from a list: validated and lower-cased.
std::vector<std::string> header_names(yaml_reader& r, const YAML::Node& v, int line, std::string_view key) {
  std::vector<std::string> out;
  r.for_each_element(v, line, key, [&](const YAML::Node& e, int el) {
    auto name = r.string(e, el, key);
    if (!name) return;
    if (!valid_header_name(*name)) {
      r.error(el, quote(key) + ": invalid header name '" + *name + "'");
    } else {
      out.push_back(lower(*name));
    }
  });
  return out;
}

void read_added_headers(yaml_reader& r, const YAML::Node& v, int line, route_config& route) {
  if (v.IsNull()) return;
  if (!v.IsMap()) {
    r.error(yaml_reader::line_of(v, line), "'headers' must be a mapping of header name to value");
    return;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    int hl = yaml_reader::line_of(it->first, line);
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (!valid_header_name(name)) {
      r.error(hl, "'headers': invalid header name '" + name + "'");
      continue;
    }
    auto l = lower(name);
    if (auto problem = added_header_problem(l)) {
      r.error(hl, "'headers': " + *problem);
      continue;
    }
    auto same = [&](const auto& h) { return lower(h.first) == l; };
    if (std::ranges::any_of(route.add_headers, same)) {
      r.error(hl, "'headers': header '" + name + "' is set twice");
      continue;
    }
    auto value = r.string(it->second, hl, "headers." + name);
    if (!value) continue;
    if (!valid_header_value(*value)) {
      r.error(hl, "'headers." + name + "': a header value cannot contain line breaks or NUL");
      continue;
    }
    route.add_headers.emplace_back(name, std::move(*value));
  }
}

void read_match(yaml_reader& r, const YAML::Node& v, int line, route_config& route) {
  r.for_each_key(
      v, line, "match", {"path_prefix", "host"}, [&](std::string_view key, const YAML::Node& mv, int ml) {
        auto s = r.string(mv, ml, "match." + std::string(key));
        if (!s) return;
        if (key == "path_prefix") {
          if (!s->starts_with('/') || s->find_first_of("?#") != std::string::npos) {
            r.error(ml, "'match.path_prefix' must start with '/' and have no query, not '" + *s + "'");
          } else {
            route.path_prefix = *s;
          }
        } else {
          auto host = lower(strip_port(*s));
          if (!valid_host(host)) {
            r.error(ml, "'match.host': invalid host '" + *s + "'");
          } else {
            route.host = host;
          }
        }
      });
}

// Which of region and service the file set, so inference fills only the others.
struct sigv4_given {
  bool region = false;
  bool service = false;
};

sigv4_given read_sigv4(yaml_reader& r, const YAML::Node& v, int line, sigv4_config& out) {
  sigv4_given given;
  const std::vector<std::string_view> known = {"region", "service", "unsigned_payload", "sign_headers",
                                               "role_arn", "external_id",
                                               "profile",
                                               // Recognised so their error can say what to do instead.
                                               "access_key", "secret_key"};
  r.for_each_key(v, line, "sigv4", known, [&](std::string_view key, const YAML::Node& sv, int sl) {
    std::string name = "sigv4." + std::string(key);
    if (key == "region" || key == "service") {
      auto s = r.string(sv, sl, name);
      if (s && s->empty()) r.error(sl, "'" + name + "' is empty");
      if (!s || s->empty()) return;
      (key == "region" ? given.region : given.service) = true;
      (key == "region" ? out.region : out.service) = *s;
    } else if (key == "unsigned_payload") {
      assign(out.unsigned_payload, r.boolean(sv, sl, name));
    } else if (key == "sign_headers") {
      out.sign_headers = header_names(r, sv, sl, name);
    } else if (key == "role_arn") {
      assign(out.role_arn, r.string(sv, sl, name));
    } else if (key == "external_id") {
      assign(out.external_id, r.string(sv, sl, name));
    } else if (key == "profile") {
      assign(out.profile, r.string(sv, sl, name));
    } else {
      // Keys in a file end up in backups, tickets and ConfigMaps; the credential chain keeps them out.
      r.error(sl, "'" + name +
                      "' is not supported: provide credentials through the environment (AWS_ACCESS_KEY_ID, "
                      "AWS_SECRET_ACCESS_KEY) or the default credential chain");
    }
  });
  return given;
}

void read_route(yaml_reader& r, const YAML::Node& node, int line, std::size_t index, route_config& route) {
  route.line = line;
  route.name = "route-" + std::to_string(index);
  std::string where = "route " + std::to_string(index);
  if (!node.IsNull() && !node.IsMap()) {
    r.error(line, where + " must be a mapping (name, match, upstream, ...)");
    return;
  }
  int upstream_line = 0;
  sigv4_given given;
  r.for_each_key(
      node, line, where,
      {"name", "match", "upstream", "sign_host", "connect_to", "sigv4", "strip_headers", "duplicate_headers",
       "headers"},
      [&](std::string_view key, const YAML::Node& v, int kl) {
        if (key == "name") {
          auto s = r.string(v, kl, key);
          if (s && !valid_route_name(*s)) {
            r.error(kl, "route name '" + *s + "' may only hold letters, digits, '-', '_' and '.'");
          } else if (s) {
            route.name = *s;
          }
        } else if (key == "match") {
          read_match(r, v, kl, route);
        } else if (key == "upstream") {
          upstream_line = yaml_reader::line_of(v, kl);
          auto s = r.string(v, kl, key);
          if (!s) return;
          std::string problem;
          auto u = net::parse_url(*s, &problem);
          if (!u) {
            r.error(upstream_line, "'upstream' '" + *s + "': " + problem);
          } else if (u->target.find('?') != std::string::npos) {
            r.error(upstream_line,
                    "'upstream' '" + *s + "' must not have a query; the client's query is passed on");
          } else {
            route.upstream = std::move(*u);
          }
        } else if (key == "sign_host") {
          auto s = r.string(v, kl, key);
          if (s && !valid_host_and_port(*s)) {
            r.error(kl, "'sign_host': invalid host '" + *s + "'");
          } else if (s) {
            route.sign_host = lower(*s);
          }
        } else if (key == "connect_to") {
          auto s = r.string(v, kl, key);
          if (!s) return;
          if (auto problem = connect_to_problem(*s)) return r.error(kl, *problem);
          route.connect_to = lower(*s);
        } else if (key == "sigv4") {
          given = read_sigv4(r, v, kl, route.sigv4);
        } else if (key == "strip_headers") {
          route.strip_headers = header_names(r, v, kl, key);
        } else if (key == "duplicate_headers") {
          route.duplicate_headers = header_names(r, v, kl, key);
        } else {
          read_added_headers(r, v, kl, route);
        }
      });
  if (upstream_line == 0) {
    r.error(line, where + " ('" + route.name + "') has no 'upstream'");
    return;
  }
  if (route.upstream.host.empty() || (given.region && given.service)) return;
  auto inferred = infer_sigv4(route.upstream.host);
  // An upstream given by address (a VPC endpoint IP, a test server) can still name its AWS host in sign_host.
  if (!inferred && !route.sign_host.empty()) inferred = infer_sigv4(route.sign_host);
  if (!inferred) {
    r.error(upstream_line, "cannot infer region and service from host '" + route.upstream.host +
                               "'; set sigv4.region and sigv4.service");
    return;
  }
  if (!given.region) route.sigv4.region = inferred->region;
  if (!given.service) route.sigv4.service = inferred->service;
}

}  // namespace

void read_routes(yaml_reader& r, const YAML::Node& node, int line, std::vector<route_config>& out) {
  r.for_each_element(node, line, "routes", [&](const YAML::Node& element, int element_line) {
    route_config route;
    read_route(r, element, element_line, out.size() + 1, route);
    out.push_back(std::move(route));
  });
}

}  // namespace sigv4::app::detail
