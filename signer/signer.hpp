#pragma once
// SigV4 (AWS4-HMAC-SHA256) request signing. Pure: time and credentials come in as arguments, the result says
// what to add to the request, and the request itself is never modified.
#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "signer/canonical.hpp"
#include "signer/header_policy.hpp"
#include "signer/types.hpp"

namespace sigv4 {

struct signing_params {
  std::string_view region;
  std::string_view service;
  std::chrono::sys_seconds time{};
  path_rule path = path_rule::standard();
  // Hex SHA-256 of the body, or unsigned_payload. Defaults to the hash of an empty body.
  std::string_view payload_hash = empty_payload_sha256;
  // Header signing only: add (and sign) X-Amz-Content-Sha256 carrying payload_hash. S3 requires it.
  bool content_sha256_header = false;
  // Add X-Amz-Security-Token after signing instead of signing it (some services, e.g. IoT, want this).
  bool omit_session_token = false;
  const header_policy* policy = nullptr;  // nullptr: header_policy::defaults()
};

struct added_header {
  std::string name;
  std::string value;
};

// Header signing: add these headers, in this order, to the request.
struct header_signature {
  std::vector<added_header> headers;
  std::string signature;
  // Kept for diagnostics (an upstream that says the signature does not match). Never log `headers`: they
  // carry the session token and the signature.
  std::string canonical_request;
  std::string string_to_sign;
};

// Query signing (presigned URL): append query_suffix to the target, after '?' or '&' as appropriate.
struct query_signature {
  std::string query_suffix;  // "X-Amz-Algorithm=...&...&X-Amz-Signature=..."
  std::string signature;
  std::string canonical_request;
  std::string string_to_sign;

  // The target with the signature appended.
  std::string signed_target(std::string_view target) const;
};

// Derives signing keys and caches the last few (one per secret, date, region and service): a key is good for
// a whole UTC day, and deriving it costs four HMACs. Thread-safe.
class signer {
 public:
  header_signature sign_headers(const request_view& request, const credentials& creds,
                                const signing_params& params) const;
  query_signature presign(const request_view& request, const credentials& creds, const signing_params& params,
                          std::chrono::seconds expires) const;

 private:
  using key = std::array<unsigned char, 32>;
  key signing_key(const credentials& creds, std::string_view date, std::string_view region,
                  std::string_view service) const;

  struct cache_entry {
    std::string secret, date, region, service;
    key value{};
  };
  static constexpr std::size_t cache_size = 8;
  mutable std::mutex mutex_;
  mutable std::array<cache_entry, cache_size> cache_{};
  mutable std::size_t next_slot_ = 0;
};

// The signing key itself (exposed for tests): HMAC chain "AWS4"+secret → date → region → service → aws4_request.
std::array<unsigned char, 32> derive_signing_key(std::string_view secret, std::string_view date,
                                                 std::string_view region, std::string_view service);

}  // namespace sigv4
