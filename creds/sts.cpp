#include "creds/sts.hpp"

#include <pugixml.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "creds/environment.hpp"
#include "creds/json_credentials.hpp"
#include "net/url.hpp"
#include "signer/canonical.hpp"
#include "signer/payload_hash.hpp"
#include "signer/signer.hpp"
#include "signer/time.hpp"

namespace sigv4::creds {
namespace {

constexpr std::string_view sts_version = "2011-06-15";
constexpr std::string_view form_content_type = "application/x-www-form-urlencoded; charset=utf-8";
// One deadline for the whole exchange, as the SDKs use for STS: long enough for a cold TLS handshake to a
// regional endpoint, short enough that a refresh retries well before the old credentials run out.
constexpr std::chrono::seconds sts_timeout{10};

std::string strip_slashes(std::string s) {
  while (s.ends_with('/')) s.pop_back();
  return s;
}

std::string trim(std::string s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && blank(s[i])) ++i;
  return s.substr(i);
}

// The Query protocol's form body: Action and Version first, then the parameters, RFC 3986-encoded (what the
// SDKs send; '+' would also decode as a space, but %20 is unambiguous).
struct form {
  std::string body;
  explicit form(std::string_view action) {
    body.append("Action=").append(action).append("&Version=").append(sts_version);
  }
  void add(std::string_view key, std::string_view value) {
    body.append("&").append(key).append("=");
    append_uri_encoded(body, value, false);
  }
};

void add_role_params(form& f, const assume_role_params& p, const clock_fn& clock) {
  f.add("RoleArn", p.role_arn);
  if (!p.role_session_name.empty()) {
    f.add("RoleSessionName", p.role_session_name);
  } else {
    auto now = std::chrono::floor<std::chrono::seconds>(clock().time_since_epoch()).count();
    f.add("RoleSessionName", "sigv4-sidecar-" + std::to_string(now));
  }
  if (p.duration_seconds) f.add("DurationSeconds", std::to_string(*p.duration_seconds));
}

// Element children by local name, so a namespace prefix (never sent by STS, but legal XML) does not matter.
pugi::xml_node child(pugi::xml_node n, std::string_view local) {
  for (auto c : n.children()) {
    if (c.type() != pugi::node_element) continue;
    std::string_view name = c.name();
    if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(colon + 1);
    if (name == local) return c;
  }
  return {};
}

std::string text(pugi::xml_node n, std::string_view local) { return child(n, local).child_value(); }

std::string local_name(pugi::xml_node n) {
  std::string_view name = n.name();
  if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(colon + 1);
  return std::string(name);
}

// STS error messages can quote the request back (SignatureDoesNotMatch carries the canonical request, whose
// X-Amz-Security-Token line is the base session token), so every secret we sent is cut out of them.
void redact(std::string& s, std::string_view secret) {
  if (secret.empty()) return;
  for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at)) {
    constexpr std::string_view mask = "<redacted>";
    s.replace(at, secret.size(), mask);
    at += mask.size();
  }
}

// POSTs `body` to the endpoint; signed with `base` when it is not null. A transport failure comes back as
// status 0 with `error` set, as from the HTTP client.
boost::asio::awaitable<http_response> post(const sts_endpoint& endpoint, const http_fn& http, const clock_fn& clock,
                                           std::string body, const credentials* base) {
  std::string err;
  auto u = net::parse_url(endpoint.url + "/", &err);
  if (!u) co_return http_response{0, "bad STS endpoint URL: " + err, {}, {}};
  // The client would send this Host itself; sending it explicitly makes what is signed what goes on the wire
  // (host:port for a non-default port, as the server sees it).
  const std::string host = u->host_header();
  http_request req{.method = "POST",
                   .url = endpoint.url + "/",
                   .headers = {{"Host", host}, {"Content-Type", std::string(form_content_type)}},
                   .body = std::move(body),
                   .timeout = sts_timeout};
  if (base != nullptr) {
    static const signer shared_signer;  // thread-safe; its key cache serves every STS client
    const std::string payload_hash = sha256_hex(req.body);
    const header hs[] = {{"Host", host}, {"Content-Type", form_content_type}};
    signing_params sp;
    sp.region = endpoint.region;
    sp.service = "sts";
    sp.time = std::chrono::floor<std::chrono::seconds>(clock());
    sp.payload_hash = payload_hash;
    auto sig = shared_signer.sign_headers(request_view{"POST", u->target, hs}, *base, sp);
    for (auto& h : sig.headers) req.headers.emplace_back(std::move(h.name), std::move(h.value));
  }
  co_return co_await http(std::move(req));
}

// The common tail of every call: transport errors, parsing, the Date header, redaction, expiry.
sts_result finish(std::string_view action, const http_response& r, const sts_endpoint& endpoint,
                  std::string provider_name, const clock_fn& clock, std::initializer_list<std::string_view> secrets) {
  sts_result out;
  if (r.status == 0) {
    out.error = "STS " + std::string(action) + " at " + endpoint.url + ": " + r.error;
  } else {
    out = parse_sts_response(action, r.status, r.body, endpoint.url, std::move(provider_name));
    out.date_header = r.header("Date");
    if (out.creds && out.creds->expiration && *out.creds->expiration <= clock()) {
      // Using them would fail every request and refresh in a tight loop; say what is wrong instead.
      using std::chrono::floor, std::chrono::seconds;
      out.error = "STS " + std::string(action) + " at " + endpoint.url + ": the credentials it issued expired at " +
                  format_iso8601(floor<seconds>(*out.creds->expiration)) + ", before now (" +
                  format_iso8601(floor<seconds>(clock())) + "): is the clock wrong?";
      out.creds.reset();
    }
  }
  for (auto s : secrets) redact(out.error, s);
  return out;
}

}  // namespace

std::string sts_region(const env_fn& env, std::string_view fallback) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto r = env_string(env, name); !r.empty()) return r;
  }
  return std::string(fallback);
}

sts_endpoint resolve_sts_endpoint(const env_fn& env, std::string_view region) {
  sts_endpoint e;
  e.region = region.empty() ? sts_region(env, "us-east-1") : std::string(region);
  if (auto u = strip_slashes(env_string(env, "AWS_ENDPOINT_URL_STS")); !u.empty()) {
    e.url = std::move(u);
    e.source = "AWS_ENDPOINT_URL_STS";
  } else if (auto g = strip_slashes(env_string(env, "AWS_ENDPOINT_URL")); !g.empty()) {
    e.url = std::move(g);
    e.source = "AWS_ENDPOINT_URL";
  } else {
    e.url = "https://sts." + e.region + (e.region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com");
    e.source = "regional";
  }
  return e;
}

sts_result parse_sts_response(std::string_view action, int status, std::string_view body,
                              std::string_view endpoint_url, std::string provider_name) {
  sts_result out;
  const std::string where = "STS " + std::string(action) + " at " + std::string(endpoint_url) + ": HTTP " +
                            std::to_string(status);
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(body.data(), body.size());
  auto root = doc.document_element();
  if (!parsed || root.empty()) {
    // No part of the body is quoted: a truncated success document would carry the secret key.
    out.error = where + ", and the answer (" + std::to_string(body.size()) + " bytes) is not XML" +
                (body.empty() ? std::string() : std::string(": ") + parsed.description());
    return out;
  }
  if (local_name(root) == "ErrorResponse") {
    auto error = child(root, "Error");
    auto code = text(error, "Code");
    out.error = where + " " + (code.empty() ? "(no error code)" : code) + ": " + text(error, "Message");
    return out;
  }
  const std::string want = std::string(action) + "Response";
  if (status != 200 || local_name(root) != want) {
    out.error = where + ", an unexpected <" + local_name(root) + "> document" +
                (status == 200 ? " instead of <" + want + ">" : "");
    return out;
  }
  auto result = child(root, std::string(action) + "Result");
  if (action == "GetCallerIdentity") {
    out.arn = text(result, "Arn");
    out.account = text(result, "Account");
    if (out.arn.empty()) out.error = where + ", but the answer has no GetCallerIdentityResult/Arn";
    return out;
  }
  auto c = child(result, "Credentials");
  snapshot s;
  s.provider = std::move(provider_name);
  s.creds.access_key_id = trim(text(c, "AccessKeyId"));
  s.creds.secret_access_key = trim(text(c, "SecretAccessKey"));
  s.creds.session_token = trim(text(c, "SessionToken"));
  if (s.creds.empty() || s.creds.session_token.empty()) {
    out.error = where + ", but the answer lacks Credentials/AccessKeyId, SecretAccessKey or SessionToken";
    return out;
  }
  // STS credentials always expire; without a readable Expiration nothing would ever refresh them.
  auto exp = trim(text(c, "Expiration"));
  s.expiration = parse_rfc3339(exp);
  if (!s.expiration) {
    out.error = where + ", but the answer has " +
                (exp.empty() ? std::string("no Expiration") : "an unreadable Expiration '" + exp + "'");
    return out;
  }
  out.arn = text(child(result, "AssumedRoleUser"), "Arn");
  out.creds = std::make_shared<const snapshot>(std::move(s));
  return out;
}

sts_client::sts_client(sts_endpoint endpoint, http_fn http, clock_fn clock)
    : endpoint_(std::move(endpoint)), http_(std::move(http)), clock_(std::move(clock)) {}

boost::asio::awaitable<sts_result> sts_client::assume_role(const credentials& base, const assume_role_params& p,
                                                           std::string provider_name) {
  form f("AssumeRole");
  add_role_params(f, p, clock_);
  if (p.external_id) f.add("ExternalId", *p.external_id);
  auto r = co_await post(endpoint_, http_, clock_, std::move(f.body), &base);
  co_return finish("AssumeRole", r, endpoint_, std::move(provider_name), clock_,
                   {base.secret_access_key, base.session_token});
}

boost::asio::awaitable<sts_result> sts_client::assume_role_with_web_identity(const assume_role_params& p,
                                                                             const std::string& token,
                                                                             std::string provider_name) {
  form f("AssumeRoleWithWebIdentity");
  add_role_params(f, p, clock_);
  f.add("WebIdentityToken", token);
  auto r = co_await post(endpoint_, http_, clock_, std::move(f.body), nullptr);
  co_return finish("AssumeRoleWithWebIdentity", r, endpoint_, std::move(provider_name), clock_, {token});
}

boost::asio::awaitable<sts_result> sts_client::get_caller_identity(const credentials& c) {
  form f("GetCallerIdentity");
  auto r = co_await post(endpoint_, http_, clock_, std::move(f.body), &c);
  co_return finish("GetCallerIdentity", r, endpoint_, {}, clock_, {c.secret_access_key, c.session_token});
}

web_identity_provider::web_identity_provider(std::string token_file, assume_role_params params, sts_client sts)
    : token_file_(std::move(token_file)), params_(std::move(params)), sts_(std::move(sts)) {}

boost::asio::awaitable<fetch_result> web_identity_provider::fetch() {
  // Re-read on every fetch: the kubelet rotates the projected service account token in place.
  std::ifstream in(token_file_, std::ios::binary);
  if (!in) {
    co_return fetch_result::fail("cannot read the web identity token file " + token_file_ + ": " +
                                 std::strerror(errno));
  }
  std::string token = trim(std::string(std::istreambuf_iterator<char>(in), {}));
  if (in.bad()) co_return fetch_result::fail("cannot read the web identity token file " + token_file_);
  if (token.empty()) co_return fetch_result::fail("the web identity token file " + token_file_ + " is empty");
  auto r = co_await sts_.assume_role_with_web_identity(params_, token, "web_identity");
  if (!r.creds) co_return fetch_result::fail(std::move(r.error));
  co_return fetch_result{std::move(r.creds), true, {}};
}

assume_role_provider::assume_role_provider(std::unique_ptr<provider> base, assume_role_params params,
                                           sts_client sts)
    : base_(std::move(base)), params_(std::move(params)), sts_(std::move(sts)), name_("assume_role") {}

boost::asio::awaitable<fetch_result> assume_role_provider::fetch() {
  auto b = co_await base_->fetch();
  if (!b.applies || !b.creds) {
    // A role to assume was asked for explicitly, so base credentials that are not there are a failure.
    co_return fetch_result::fail("assume role " + params_.role_arn + ": base credentials (" +
                                 std::string(base_->name()) + "): " +
                                 (b.reason.empty() ? std::string("none") : b.reason));
  }
  // Name the provider that actually produced the base credentials (a chain names its winner).
  std::string base_name = b.creds->provider.empty() ? std::string(base_->name()) : b.creds->provider;
  auto r = co_await sts_.assume_role(b.creds->creds, params_, "assume_role(" + base_name + ")");
  if (!r.creds) co_return fetch_result::fail(std::move(r.error));
  co_return fetch_result{std::move(r.creds), true, {}};
}

}  // namespace sigv4::creds
