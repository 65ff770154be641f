#include "signer/payload_hash.hpp"

namespace sigv4 {

std::string sha256_hex(std::string_view body) { return detail::to_hex(detail::sha256(body)); }

}  // namespace sigv4
