#include "proxy/routing.hpp"

#include "signer/canonical.hpp"

namespace sigv4::app {
namespace {

std::string_view strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::string_view trim_slash(std::string_view s) { return s.ends_with('/') ? s.substr(0, s.size() - 1) : s; }

decision reject(int status, std::string reason) {
  decision d;
  d.status = status;
  d.reason = std::move(reason);
  return d;
}

}  // namespace

std::shared_ptr<const runtime> compile(config cfg, const store_resolver& store_for) {
  auto rt = std::make_shared<runtime>();
  for (const auto& r : cfg.routes) {
    route_runtime rr{.cfg = r, .policy = header_policy::defaults(), .key = {}, .host_header = {}, .base_path = {}};
    for (const auto& h : r.sigv4.sign_headers) rr.policy.also_sign(h);
    rr.key = {r.upstream.scheme, r.upstream.host, r.upstream.port, {}};
    if (!r.connect_to.empty()) {
      if (auto ct = net::parse_url("http://" + r.connect_to)) {
        rr.key.tls_name = rr.key.host;
        rr.key.host = ct->host;
        rr.key.port = ct->port;
      }
    }
    rr.host_header = r.sign_host.empty() ? r.upstream.host_header() : r.sign_host;
    auto [path, query] = split_target(r.upstream.target);
    rr.base_path = std::string(trim_slash(path));
    if (store_for) rr.creds = store_for(r.sigv4);
    rt->routes.push_back(std::move(rr));
  }
  rt->cfg = std::move(cfg);
  return rt;
}

decision decide(const runtime& rt, std::string_view method, std::string_view target, std::string_view host) {
  if (method == "CONNECT") {
    return reject(405,
                  "CONNECT is not supported: a TLS tunnel cannot be signed; scrape through the sidecar with "
                  "'scheme: http' and let it speak https upstream");
  }
  if (target.starts_with("http://") || target.starts_with("https://") || target.starts_with("HTTP://") ||
      target.starts_with("HTTPS://")) {
    const auto& fp = rt.cfg.forward_proxy;
    std::string err;
    auto u = net::parse_url(target, &err);
    if (!u) return reject(400, "invalid absolute-form request target: " + err);
    if (fp.allow.empty()) return reject(403, "forward proxying is disabled: " + u->host + " is not allowed");
    if (!host_allowed(fp, u->host)) {
      return reject(403, "host " + u->host + " is not in forward_proxy.allow; nothing was sent");
    }
    auto inferred = infer_sigv4(u->host);
    if (!inferred) return reject(403, "cannot infer the SigV4 region and service of host " + u->host);
    decision d;
    d.what = decision::kind::forward;
    d.target = u->target;
    const bool explicit_port = !u->default_port();
    d.key = {fp.upstream_scheme, u->host,
             explicit_port ? u->port : std::uint16_t(fp.upstream_scheme == "https" ? 443 : 80), {}};
    d.host_header = explicit_port ? u->host + ":" + std::to_string(u->port) : u->host;
    if (!fp.connect_to.empty()) {
      if (auto ct = net::parse_url("http://" + fp.connect_to)) {
        d.key.tls_name = d.key.host;
        d.key.host = ct->host;
        d.key.port = ct->port;
      }
    }
    d.region = inferred->region;
    d.service = inferred->service;
    return d;
  }
  if (!target.starts_with('/')) return reject(400, "invalid request target: must start with '/'");

  auto [path, query] = split_target(target);
  std::string_view request_host = strip_port(host);
  for (const auto& r : rt.routes) {
    if (!r.cfg.host.empty() && !iequals(r.cfg.host, request_host)) continue;
    if (!path.starts_with(r.cfg.path_prefix)) continue;
    decision d;
    d.what = decision::kind::route;
    d.route = &r;
    std::string_view rest = target.substr(trim_slash(r.cfg.path_prefix).size());
    if (r.base_path.empty() && (rest.empty() || rest.front() == '?')) d.target.push_back('/');
    d.target.append(r.base_path).append(rest);
    return d;
  }
  return reject(404, "no route for host '" + std::string(request_host) + "' and path '" + std::string(path) + "'");
}

}  // namespace sigv4::app
