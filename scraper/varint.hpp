#pragma once
// Protobuf base-128 varints: the one encoder and decoder of the remote-write records (remote_write.cpp), the
// flat label sets (labels.cpp), the scrape cache's records (scrape_cache.cpp) and the spool's (spool_codec.cpp).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sigv4::scraper::detail {

// How many bytes put_varint writes for v (1 to 10).
constexpr std::size_t varint_size(std::uint64_t v) {
  return (static_cast<std::size_t>(std::bit_width(v | 1)) + 6) / 7;
}

// Writes v at p (room for varint_size(v) bytes); returns the end of what it wrote.
inline char* put_varint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void put_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  out.append(buf, static_cast<std::size_t>(put_varint(buf, v) - buf));
}

// Reads the varint of s at offset i into v; i moves past what was read. False when s ends inside it or it is
// longer than 10 bytes.
inline bool get_varint(std::string_view s, std::size_t& i, std::uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 64 && i < s.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(s[i++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}

// The same from the front of in, which loses the bytes read, also when false is returned.
inline bool get_varint(std::string_view& in, std::uint64_t& v) {
  std::size_t i = 0;
  const bool ok = get_varint(in, i, v);
  in.remove_prefix(i);
  return ok;
}

}  // namespace sigv4::scraper::detail
