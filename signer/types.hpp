#pragma once
#include <array>
#include <span>
#include <string>
#include <string_view>

namespace sigv4 {

// An AWS credential set. Only the refresher and the signer ever hold the secret; nothing logs this type.
struct credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when the credentials are long-lived

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

struct header {
  std::string_view name;
  std::string_view value;
};

// What the signer needs to know about a request, borrowed from the caller. The target is the raw request
// target as it goes on the wire (path and query, byte for byte); the signer never rewrites it.
struct request_view {
  std::string_view method;
  std::string_view target;
  std::span<const header> headers;  // in wire order; repeated names are repeated headers
};

// The headers sign_headers writes (lower case). A request arriving with any of them has them replaced, never
// passed on (a client's own signature would be forwarded), and a config cannot add them.
inline constexpr std::array<std::string_view, 4> signer_written_headers = {"authorization", "x-amz-date",
                                                                          "x-amz-security-token",
                                                                          "x-amz-content-sha256"};

inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace sigv4
