#include "signer/signer.hpp"

#include <span>

#include "signer/detail/crypto.hpp"
#include "signer/time.hpp"

namespace sigv4 {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

std::span<const unsigned char> bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string scope_of(std::string_view date, std::string_view region, std::string_view service) {
  std::string s;
  s.reserve(date.size() + region.size() + service.size() + 16);
  s.append(date).append("/").append(region).append("/").append(service).append("/aws4_request");
  return s;
}

std::string build_canonical_request(const request_view& request, std::span<const query_param> extra_query,
                                    const canonical_headers& headers,
                                    const signing_params& params) {
  auto [path, query] = split_target(request.target);
  std::string out;
  out.reserve(request.target.size() * 2 + headers.block.size() + headers.signed_headers.size() + 128);
  out.append(request.method).append("\n");
  append_canonical_path(out, path, params.path);
  out += '\n';
  append_canonical_query(out, query, extra_query);
  out += '\n';
  out += headers.block;
  out += '\n';
  out += headers.signed_headers;
  out += '\n';
  out += params.payload_hash;
  return out;
}

std::string build_string_to_sign(std::string_view amz_date, std::string_view scope,
                                 std::string_view canonical_request) {
  std::string sts;
  sts.reserve(algorithm.size() + amz_date.size() + scope.size() + 67);
  sts.append(algorithm).append("\n").append(amz_date).append("\n").append(scope).append("\n");
  detail::append_hex(sts, detail::sha256(canonical_request));
  return sts;
}

const header_policy& policy_of(const signing_params& params) {
  static const header_policy defaults = header_policy::defaults();
  return params.policy != nullptr ? *params.policy : defaults;
}

}  // namespace

std::array<unsigned char, 32> derive_signing_key(std::string_view secret, std::string_view date,
                                                 std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k += secret;
  auto k_date = detail::hmac_sha256(bytes(k), date);
  auto k_region = detail::hmac_sha256(k_date, region);
  auto k_service = detail::hmac_sha256(k_region, service);
  return detail::hmac_sha256(k_service, "aws4_request");
}

signer::key signer::signing_key(const credentials& creds, std::string_view date, std::string_view region,
                                std::string_view service) const {
  {
    std::lock_guard lock(mutex_);
    for (const auto& e : cache_) {
      if (e.date == date && e.region == region && e.service == service && e.secret == creds.secret_access_key &&
          !e.date.empty()) {
        return e.value;
      }
    }
  }
  key k = derive_signing_key(creds.secret_access_key, date, region, service);
  std::lock_guard lock(mutex_);
  auto& slot = cache_[next_slot_];
  next_slot_ = (next_slot_ + 1) % cache_size;
  slot = cache_entry{creds.secret_access_key, std::string(date), std::string(region), std::string(service), k};
  return k;
}

header_signature signer::sign_headers(const request_view& request, const credentials& creds,
                                      const signing_params& params) const {
  const std::string amz_date = format_amz_date(params.time);
  const std::string_view date = std::string_view(amz_date).substr(0, 8);
  const bool token = !creds.session_token.empty();
  const bool sign_token = token && !params.omit_session_token;

  header_signature result;
  if (token) result.headers.push_back({"X-Amz-Security-Token", creds.session_token});
  result.headers.push_back({"X-Amz-Date", amz_date});
  if (params.content_sha256_header) {
    result.headers.push_back({"x-amz-content-sha256", std::string(params.payload_hash)});
  }

  std::vector<header> added;
  added.reserve(3);
  for (const auto& h : result.headers) {
    if (h.name == "X-Amz-Security-Token" && !sign_token) continue;
    added.push_back({h.name, h.value});
  }
  const canonical_headers ch = build_canonical_headers(request.headers, policy_of(params), added);

  const std::string scope = scope_of(date, params.region, params.service);
  result.canonical_request = build_canonical_request(request, {}, ch, params);
  result.string_to_sign = build_string_to_sign(amz_date, scope, result.canonical_request);
  result.signature = detail::to_hex(
      detail::hmac_sha256(signing_key(creds, date, params.region, params.service), result.string_to_sign));

  std::string auth;
  auth.reserve(algorithm.size() + creds.access_key_id.size() + scope.size() + ch.signed_headers.size() + 120);
  auth.append(algorithm)
      .append(" Credential=")
      .append(creds.access_key_id)
      .append("/")
      .append(scope)
      .append(", SignedHeaders=")
      .append(ch.signed_headers)
      .append(", Signature=")
      .append(result.signature);
  result.headers.push_back({"Authorization", std::move(auth)});
  return result;
}

query_signature signer::presign(const request_view& request, const credentials& creds,
                                const signing_params& params, std::chrono::seconds expires) const {
  const std::string amz_date = format_amz_date(params.time);
  const std::string_view date = std::string_view(amz_date).substr(0, 8);
  const std::string scope = scope_of(date, params.region, params.service);
  const std::string credential = creds.access_key_id + "/" + scope;
  const std::string expires_s = std::to_string(expires.count());
  const bool token = !creds.session_token.empty();
  const canonical_headers ch = build_canonical_headers(request.headers, policy_of(params));

  std::vector<query_param> added = {{"X-Amz-Algorithm", algorithm},
                                    {"X-Amz-Credential", credential},
                                    {"X-Amz-Date", amz_date},
                                    {"X-Amz-SignedHeaders", ch.signed_headers},
                                    {"X-Amz-Expires", expires_s}};
  if (token) added.push_back({"X-Amz-Security-Token", creds.session_token});
  const std::size_t signed_count = token && params.omit_session_token ? added.size() - 1 : added.size();

  query_signature result;
  result.canonical_request =
      build_canonical_request(request, std::span(added).first(signed_count), ch, params);
  result.string_to_sign = build_string_to_sign(amz_date, scope, result.canonical_request);
  result.signature = detail::to_hex(
      detail::hmac_sha256(signing_key(creds, date, params.region, params.service), result.string_to_sign));

  added.push_back({"X-Amz-Signature", result.signature});
  for (std::size_t i = 0; i < added.size(); ++i) {
    if (i != 0) result.query_suffix += '&';
    result.query_suffix += added[i].first;
    result.query_suffix += '=';
    append_uri_encoded(result.query_suffix, added[i].second, false);
  }
  return result;
}

std::string query_signature::signed_target(std::string_view target) const {
  std::string out(target);
  if (out.find('?') == std::string::npos) {
    out += '?';
  } else if (out.back() != '?' && out.back() != '&') {
    out += '&';
  }
  out += query_suffix;
  return out;
}

}  // namespace sigv4
