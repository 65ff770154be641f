#pragma once
// Where a request goes, decided from its method, target and Host alone (no I/O, unit-tested on its own).
// Requests go only to configured upstreams: a route, or a forward-proxy host on the allowlist.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "creds/store.hpp"
#include "net/upstream.hpp"
#include "proxy/config.hpp"
#include "signer/header_policy.hpp"

namespace sigv4::app {

struct route_runtime {
  route_config cfg;
  header_policy policy;
  net::upstream_key key;    // where connections go (connect_to applied)
  std::string host_header;  // Host sent upstream and signed
  std::string base_path;    // the upstream URL's path without its trailing '/'
  // The credentials this route signs with (its role's, or the base identity's); null = the base store.
  const creds::credential_store* creds = nullptr;
};

// A config compiled for serving; immutable once published.
struct runtime {
  config cfg;
  std::vector<route_runtime> routes;
};
// `store_for` picks each route's credentials (by its sigv4.role_arn); without it every route uses the base.
using store_resolver = std::function<const creds::credential_store*(const sigv4_config&)>;
std::shared_ptr<const runtime> compile(config cfg, const store_resolver& store_for = {});

struct decision {
  enum class kind { route, forward, reject } what = kind::reject;
  const route_runtime* route = nullptr;  // kind::route
  std::string target;                    // what to send upstream (route, forward)
  // kind::forward
  net::upstream_key key;
  std::string host_header;
  std::string region, service;
  // kind::reject
  int status = 0;
  std::string reason;
};

decision decide(const runtime& rt, std::string_view method, std::string_view target, std::string_view host);

}  // namespace sigv4::app
