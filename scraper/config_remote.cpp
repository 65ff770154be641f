// One entry of remote_write: Prometheus 2.42's RemoteWriteConfig (its reserved headers, its checks), the
// queue settings, and sigv4 with the service defaulting to "aps" and the region taken from the URL's host.
#include <algorithm>

#include "scraper/config_detail.hpp"

namespace sigv4::scraper::detail {
namespace {

using conf::quote;

// config.go's reservedHeaders (2.42); Authorization has its own message.
constexpr std::string_view reserved_headers[] = {"host",
                                                 "content-encoding",
                                                 "content-length",
                                                 "content-type",
                                                 "user-agent",
                                                 "connection",
                                                 "keep-alive",
                                                 "proxy-authenticate",
                                                 "proxy-authorization",
                                                 "www-authenticate",
                                                 "accept-encoding",
                                                 "x-prometheus-remote-write-version",
                                                 "x-prometheus-remote-read-version",
                                                 "x-amz-date",
                                                 "x-amz-security-token",
                                                 "x-amz-content-sha256"};

bool valid_header_name(std::string_view name) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::ranges::all_of(name, [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
  });
}

// The host of an http(s) URL, or nullopt when it is not one.
std::optional<std::string> url_host(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  auto scheme = conf::lower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  auto authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  auto host = conf::strip_port(authority);
  if (host.empty() || host.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return conf::lower(host);
}

void read_headers(yaml_reader& r, const YAML::Node& v, int line, remote_write_settings& out) {
  if (v.IsNull()) return;
  if (!v.IsMap())
    return r.error(yaml_reader::line_of(v, line), "'headers' must be a mapping of header name to value");
  for (auto it = v.begin(); it != v.end(); ++it) {
    int hl = yaml_reader::line_of(it->first, line);
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    auto l = conf::lower(name);
    if (!valid_header_name(name)) {
      r.error(hl, "'headers': invalid header name '" + name + "'");
    } else if (l == "authorization") {
      r.error(hl,
              "authorization header must be changed via the basic_auth, authorization, oauth2, or sigv4 "
              "parameter");
    } else if (std::ranges::find(reserved_headers, std::string_view(l)) != std::end(reserved_headers)) {
      r.error(hl, name + " is a reserved header. It must not be changed");
    } else if (std::ranges::any_of(out.headers, [&](const auto& h) { return conf::lower(h.first) == l; })) {
      r.error(hl, "'headers': header '" + name + "' is set twice");
    } else if (auto value = r.string(it->second, hl, "headers." + name)) {
      if (value->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        r.error(hl, "'headers." + name + "': a header value cannot contain line breaks or NUL");
      } else {
        out.headers.emplace_back(name, std::move(*value));
      }
    }
  }
}

void read_queue(yaml_reader& r, const YAML::Node& v, int line, queue_settings& q) {
  r.for_each_key(v, line, "queue_config",
                 {"capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline",
                  "min_backoff", "max_backoff", "retry_on_http_429"},
                 [&](std::string_view key, const YAML::Node& qv, int ql) {
                   std::string name = "queue_config." + std::string(key);
                   if (key == "retry_on_http_429")
                     return conf::assign(q.retry_on_http_429, r.boolean(qv, ql, name));
                   if (key == "batch_send_deadline" || key == "min_backoff" || key == "max_backoff") {
                     auto d = r.duration(qv, ql, name);
                     if (d && d->count() == 0 && key == "batch_send_deadline") {
                       return r.error(ql, quote(name) + " must be greater than 0");
                     }
                     return conf::assign(key == "batch_send_deadline" ? q.batch_send_deadline
                                         : key == "min_backoff"       ? q.min_backoff
                                                                      : q.max_backoff,
                                         d);
                   }
                   auto n = r.integer(qv, ql, name, 1, 100'000'000);
                   conf::assign(key == "capacity"     ? q.capacity
                                : key == "max_shards" ? q.max_shards
                                : key == "min_shards" ? q.min_shards
                                                      : q.max_samples_per_send,
                                n);
                 });
  if (q.min_shards > q.max_shards) r.error(line, "queue_config: min_shards is greater than max_shards");
  if (q.min_backoff > q.max_backoff) r.error(line, "queue_config: min_backoff is greater than max_backoff");
}

// Accepted so that a Prometheus file loads; the sidecar sends no metadata.
void read_metadata(yaml_reader& r, const YAML::Node& v, int line) {
  r.for_each_key(v, line, "metadata_config", {"send", "send_interval", "max_samples_per_send"},
                 [&](std::string_view key, const YAML::Node& mv, int ml) {
                   std::string name = "metadata_config." + std::string(key);
                   if (key == "send") {
                     r.boolean(mv, ml, name);
                   } else if (key == "send_interval") {
                     r.duration(mv, ml, name);
                   } else {
                     r.integer(mv, ml, name, 0, 100'000'000);
                   }
                 });
}

}  // namespace

remote_write_settings read_remote(yaml_reader& r, const YAML::Node& node, int line) {
  remote_write_settings rw;
  rw.line = line;
  if (node.IsNull()) {
    r.error(line, "empty or null remote write config section");
    return rw;
  }
  http_client client;
  int url_line = 0;
  std::vector<std::string_view> keys = {"url",
                                        "name",
                                        "remote_timeout",
                                        "headers",
                                        "write_relabel_configs",
                                        "queue_config",
                                        "metadata_config",
                                        "sigv4",
                                        "send_exemplars",
                                        "send_native_histograms"};
  keys.insert(keys.end(), http_client_keys.begin(), http_client_keys.end());
  r.for_each_key(node, line, "remote_write", keys, [&](std::string_view key, const YAML::Node& v, int kl) {
    if (key == "url") {
      url_line = kl;
      auto s = r.string(v, kl, key);
      if (!s) return;
      if (!url_host(*s)) return r.error(kl, "'url' '" + *s + "' must be an http or https URL with a host");
      rw.url = std::move(*s);
    } else if (key == "name") {
      conf::assign(rw.name, r.string(v, kl, key));
    } else if (key == "remote_timeout") {
      auto d = r.duration(v, kl, key);
      if (d && d->count() == 0) return r.error(kl, "'remote_timeout' must be greater than 0");
      conf::assign(rw.remote_timeout, d);
    } else if (key == "headers") {
      read_headers(r, v, kl, rw);
    } else if (key == "write_relabel_configs") {
      read_relabel_list(r, v, kl, key, false, rw.write_relabel_configs, rw.write_relabel);
    } else if (key == "queue_config") {
      read_queue(r, v, kl, rw.queue);
    } else if (key == "metadata_config") {
      read_metadata(r, v, kl);
    } else if (key == "sigv4") {
      read_sigv4(r, v, kl, client.sigv4);
    } else if (key == "send_exemplars" || key == "send_native_histograms") {
      // The scraper keeps neither, so there is nothing more to send.
      r.boolean(v, kl, key);
    } else {
      read_http_client_key(r, key, v, kl, client);
    }
  });
  if (url_line == 0) r.error(line, "url for remote_write is empty");
  check_http_client(r, client, line);
  rw.tls = std::move(client.tls);
  rw.basic_auth = std::move(client.basic_auth);
  rw.authorization = std::move(client.authorization);
  rw.follow_redirects = client.follow_redirects;
  rw.sigv4 = std::move(client.sigv4);
  if (rw.sigv4.enabled && !rw.url.empty()) {
    auto host = url_host(rw.url).value_or("");
    auto inferred = conf::infer_sigv4(host);
    if (rw.sigv4.service.empty()) rw.sigv4.service = "aps";
    if (rw.sigv4.region.empty() && inferred) rw.sigv4.region = inferred->region;
    if (rw.sigv4.region.empty()) {
      r.error(rw.sigv4.line, "cannot infer the sigv4 region from host '" + host + "'; set sigv4.region");
    }
  }
  return rw;
}

}  // namespace sigv4::scraper::detail
