#pragma once
// Hashes a request body as it streams through, so the payload hash is ready when the last byte arrives and
// the body is never copied for signing.
#include <cstddef>
#include <string>
#include <string_view>

#include "signer/detail/crypto.hpp"

namespace sigv4 {

class payload_hasher {
 public:
  void update(const void* data, std::size_t size) { stream_.update(data, size); }
  void update(std::string_view s) { stream_.update(s.data(), s.size()); }
  // Lower-case hex SHA-256 of everything fed so far; the hasher starts over afterwards.
  std::string finish_hex() { return detail::to_hex(stream_.finish()); }

 private:
  detail::sha256_stream stream_;
};

// Hex SHA-256 of a whole body held in memory.
std::string sha256_hex(std::string_view body);

}  // namespace sigv4
