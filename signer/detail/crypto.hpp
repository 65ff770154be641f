#pragma once
// The one place the signer touches OpenSSL. SHA-256 goes through EVP with a digest fetched once per process,
// so OpenSSL picks its SHA-NI / AVX2 code path and no per-call provider lookup happens on the hot path.
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace sigv4::detail {

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view data);
digest hmac_sha256(std::span<const unsigned char> key, std::string_view message);

// Incremental SHA-256; owns one EVP_MD_CTX.
class sha256_stream {
 public:
  sha256_stream();
  ~sha256_stream();
  sha256_stream(sha256_stream&& other) noexcept;
  sha256_stream& operator=(sha256_stream&& other) noexcept;
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;

  void update(const void* data, std::size_t size);
  // Returns the digest and resets the stream for reuse.
  digest finish();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay out of this header
};

// Lower-case hex, appended to out.
void append_hex(std::string& out, std::span<const unsigned char> bytes);
inline std::string to_hex(std::span<const unsigned char> bytes) {
  std::string s;
  append_hex(s, bytes);
  return s;
}

}  // namespace sigv4::detail
