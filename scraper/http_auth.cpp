#include "scraper/http_auth.hpp"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>

namespace sigv4::scraper {
namespace {

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Prometheus trims the file's surrounding whitespace (a trailing newline).
bool read_secret(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!out.empty() && ws(out.back())) out.pop_back();
  std::size_t start = 0;
  while (start < out.size() && ws(out[start])) ++start;
  out.erase(0, start);
  return true;
}

}  // namespace

authorize_result authorize(const request_auth& auth, std::string_view method, std::string_view target,
                           std::string_view payload_hash, header_list& headers, const signer& s,
                           std::chrono::sys_seconds now) {
  authorize_result r;
  if (!auth.basic_user.empty() || !auth.basic_password.empty() || !auth.basic_password_file.empty()) {
    std::string password = auth.basic_password;
    if (!auth.basic_password_file.empty() && !read_secret(auth.basic_password_file, password)) {
      r.error = "cannot read basic_auth password_file " + auth.basic_password_file;
      return r;
    }
    headers.emplace_back("Authorization", "Basic " + base64(auth.basic_user + ":" + password));
  } else if (!auth.authz_credentials.empty() || !auth.authz_credentials_file.empty()) {
    std::string secret = auth.authz_credentials;
    if (!auth.authz_credentials_file.empty() && !read_secret(auth.authz_credentials_file, secret)) {
      r.error = "cannot read authorization credentials_file " + auth.authz_credentials_file;
      return r;
    }
    headers.emplace_back("Authorization",
                         (auth.authz_type.empty() ? "Bearer" : auth.authz_type) + " " + secret);
  }
  if (!auth.sigv4) return r;
  auto snap = auth.store != nullptr ? auth.store->current() : nullptr;
  const bool expired = snap && !snap->creds.empty() && snap->expiration &&
                       *snap->expiration <= std::chrono::system_clock::now();
  if (!snap || snap->creds.empty() || expired) {
    r.error = expired ? "no AWS credentials: those from " + snap->provider + " expired by this host's clock"
                      : "no AWS credentials";
    if (auth.store != nullptr) {
      auto why = auth.store->unavailable_reason();
      if (!why.empty()) r.error += ": " + why;
    }
    r.sigv4_unavailable = true;
    r.sigv4_expired = expired;
    return r;
  }
  std::vector<header> view;
  view.reserve(headers.size());
  for (const auto& [n, v] : headers) view.push_back({n, v});
  signing_params params{
      .region = auth.region, .service = auth.service, .time = now, .payload_hash = payload_hash};
  auto sig = s.sign_headers({method, target, view}, snap->creds, params);
  for (auto& h : sig.headers) headers.emplace_back(std::move(h.name), std::move(h.value));
  return r;
}

}  // namespace sigv4::scraper
