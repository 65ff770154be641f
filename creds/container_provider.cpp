#include "creds/container_provider.hpp"

#include <fstream>
#include <iterator>

#include "creds/environment.hpp"
#include "creds/json_credentials.hpp"
#include "net/url.hpp"

namespace sigv4::creds {
namespace {

bool allowed_http_host(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]" || host.starts_with("127.");
}

}  // namespace

container_provider::container_provider(env_fn env, http_fn http) : env_(std::move(env)), http_(std::move(http)) {}

std::string container_provider::endpoint(const env_fn& env, std::string& why, bool& configured) {
  configured = true;
  if (auto rel = env_string(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !rel.empty()) {
    return "http://169.254.170.2" + (rel.starts_with('/') ? rel : "/" + rel);
  }
  auto full = env_string(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (full.empty()) {
    configured = false;
    why = "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set";
    return {};
  }
  std::string err;
  auto u = net::parse_url(full, &err);
  if (!u) {
    why = "AWS_CONTAINER_CREDENTIALS_FULL_URI: " + err;
    return {};
  }
  if (u->scheme == "http" && !allowed_http_host(u->host)) {
    why = "AWS_CONTAINER_CREDENTIALS_FULL_URI may use plain http only to loopback, 169.254.170.2, "
          "169.254.170.23 or fd00:ec2::23, not " + u->host;
    return {};
  }
  return full;
}

boost::asio::awaitable<fetch_result> container_provider::fetch() {
  std::string why;
  bool configured = false;
  std::string url = endpoint(env_, why, configured);
  if (!configured) co_return fetch_result::skip(why);
  if (url.empty()) co_return fetch_result::fail(why);

  http_request req{.method = "GET", .url = url, .headers = {}, .body = {}, .timeout = std::chrono::seconds(2)};
  if (auto file = env_string(env_, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    std::ifstream in(file);
    if (!in) co_return fetch_result::fail("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + file);
    std::string token(std::istreambuf_iterator<char>(in), {});
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    req.headers.emplace_back("Authorization", token);
  } else if (auto token = env_string(env_, "AWS_CONTAINER_AUTHORIZATION_TOKEN"); !token.empty()) {
    req.headers.emplace_back("Authorization", token);
  }
  auto r = co_await http_(std::move(req));
  if (r.status != 200) {
    co_return fetch_result::fail("container credentials endpoint " + url +
                                 (r.status == 0 ? ": " + r.error : " answered HTTP " + std::to_string(r.status)));
  }
  std::string error;
  auto s = parse_json_credentials(r.body, "container", error);
  if (!s) co_return fetch_result::fail("container credentials endpoint " + url + ": " + error);
  co_return fetch_result::ok(std::move(*s));
}

}  // namespace sigv4::creds
