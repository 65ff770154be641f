#include "proxy/routing.hpp"

#include <gtest/gtest.h>

namespace sigv4::app {
namespace {

route_config route(std::string name, std::string prefix, std::string upstream, std::string host = {}) {
  route_config r;
  r.name = std::move(name);
  r.path_prefix = std::move(prefix);
  r.host = std::move(host);
  r.upstream = *net::parse_url(upstream);
  r.sigv4 = {.region = "us-east-1", .service = "aps", .unsigned_payload = false, .sign_headers = {},
             .role_arn = {}, .external_id = {}, .profile = {}};
  return r;
}

std::shared_ptr<const runtime> make(std::vector<route_config> routes, std::vector<std::string> allow = {}) {
  config c;
  c.routes = std::move(routes);
  c.forward_proxy.allow = std::move(allow);
  return compile(std::move(c));
}

TEST(routing, prefix_is_replaced_by_the_upstream_path) {
  auto rt = make({route("amp", "/amp/", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/"),
                  route("all", "/", "https://abc.execute-api.us-east-1.amazonaws.com")});
  auto d = decide(*rt, "POST", "/amp/api/v1/remote_write", "127.0.0.1:8005");
  ASSERT_EQ(d.what, decision::kind::route);
  EXPECT_EQ(d.route->cfg.name, "amp");
  EXPECT_EQ(d.target, "/workspaces/ws-1/api/v1/remote_write");
  EXPECT_EQ(d.route->host_header, "aps-workspaces.us-east-1.amazonaws.com");

  d = decide(*rt, "GET", "/prod/metrics?x=%2F&y=a:b@c", "localhost");
  ASSERT_EQ(d.what, decision::kind::route);
  EXPECT_EQ(d.route->cfg.name, "all");
  EXPECT_EQ(d.target, "/prod/metrics?x=%2F&y=a:b@c");  // byte for byte

  d = decide(*rt, "GET", "/?q=1", "localhost");
  EXPECT_EQ(d.target, "/?q=1");
}

TEST(routing, prefix_without_rest_and_query_only) {
  auto rt = make({route("amp", "/amp", "https://h.us-east-1.amazonaws.com/base")});
  EXPECT_EQ(decide(*rt, "GET", "/amp", "h").target, "/base");
  EXPECT_EQ(decide(*rt, "GET", "/amp?x=1", "h").target, "/base?x=1");
  auto root = make({route("r", "/amp", "https://h.us-east-1.amazonaws.com")});
  EXPECT_EQ(decide(*root, "GET", "/amp", "h").target, "/");
  EXPECT_EQ(decide(*root, "GET", "/amp?x", "h").target, "/?x");
  EXPECT_EQ(decide(*root, "GET", "/amp/x", "h").target, "/x");
}

TEST(routing, host_match_ignores_port_and_case) {
  auto rt = make({route("a", "/", "https://a.us-east-1.amazonaws.com", "alpha.local"),
                  route("b", "/", "https://b.us-east-1.amazonaws.com", "beta.local")});
  EXPECT_EQ(decide(*rt, "GET", "/", "BETA.local:8005").route->cfg.name, "b");
  EXPECT_EQ(decide(*rt, "GET", "/", "alpha.local").route->cfg.name, "a");
  auto none = decide(*rt, "GET", "/", "gamma.local");
  EXPECT_EQ(none.what, decision::kind::reject);
  EXPECT_EQ(none.status, 404);
}

TEST(routing, sign_host_and_connect_to) {
  auto r = route("r", "/", "https://abc.execute-api.us-east-1.amazonaws.com:8443/");
  r.sign_host = "custom.example.com";
  r.connect_to = "127.0.0.1:9443";
  auto rt = make({r});
  const auto& rr = rt->routes[0];
  EXPECT_EQ(rr.host_header, "custom.example.com");
  EXPECT_EQ(rr.key.host, "127.0.0.1");
  EXPECT_EQ(rr.key.port, 9443);
  EXPECT_EQ(rr.key.tls_name, "abc.execute-api.us-east-1.amazonaws.com");
}

TEST(routing, connect_is_refused_with_a_reason) {
  auto rt = make({route("r", "/", "https://a.us-east-1.amazonaws.com")});
  auto d = decide(*rt, "CONNECT", "abc.execute-api.us-east-1.amazonaws.com:443", "");
  EXPECT_EQ(d.status, 405);
  EXPECT_NE(d.reason.find("cannot be signed"), std::string::npos);
}

TEST(routing, forward_proxy_only_to_allowed_hosts) {
  auto rt = make({route("r", "/", "https://a.us-east-1.amazonaws.com")}, {"*.execute-api.us-east-1.amazonaws.com"});
  auto ok = decide(*rt, "GET", "http://abc.execute-api.us-east-1.amazonaws.com/prod/metrics?x=1", "");
  ASSERT_EQ(ok.what, decision::kind::forward);
  EXPECT_EQ(ok.key.scheme, "https");
  EXPECT_EQ(ok.key.port, 443);
  EXPECT_EQ(ok.host_header, "abc.execute-api.us-east-1.amazonaws.com");
  EXPECT_EQ(ok.target, "/prod/metrics?x=1");
  EXPECT_EQ(ok.region, "us-east-1");
  EXPECT_EQ(ok.service, "execute-api");

  for (auto bad : {"http://evil.example.com/", "http://execute-api.us-east-1.amazonaws.com/",
                   "http://abc.execute-api.us-east-1.amazonaws.com.evil.com/",
                   "http://abc.execute-api.us-west-2.amazonaws.com/"}) {
    auto d = decide(*rt, "GET", bad, "");
    EXPECT_EQ(d.what, decision::kind::reject) << bad;
    EXPECT_EQ(d.status, 403) << bad;
  }
  auto off = make({route("r", "/", "https://a.us-east-1.amazonaws.com")});
  EXPECT_EQ(decide(*off, "GET", "http://abc.execute-api.us-east-1.amazonaws.com/", "").status, 403);
}

TEST(routing, malformed_targets) {
  auto rt = make({route("r", "/", "https://a.us-east-1.amazonaws.com")});
  EXPECT_EQ(decide(*rt, "OPTIONS", "*", "h").status, 400);
  EXPECT_EQ(decide(*rt, "GET", "http://user:pw@abc/", "h").status, 400);
}

}  // namespace
}  // namespace sigv4::app
