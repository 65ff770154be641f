#pragma once
// Byte classes of the two lexers (promlex.l, openmetricslex.l), one table lookup per byte.
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace sigv4::scraper::detail::chars {

enum : std::uint8_t {
  blank = 1,        // [ \t]
  name_start = 2,   // metric name: [a-zA-Z_:]
  name_char = 4,    // [a-zA-Z0-9_:]
  lname_start = 8,  // label name: [a-zA-Z_]
  lname_char = 16,  // [a-zA-Z0-9_]
  digit = 32,
  text_value = 64,  // promlex sValue: [^{ \t\n] and not NUL
  om_token = 128,   // openmetricslex value/timestamp: [^ \n] and not NUL
};

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t f = 0;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool dig = c >= '0' && c <= '9';
    if (c == ' ' || c == '\t') f |= blank;
    if (alpha || c == '_' || c == ':') f |= name_start | name_char;
    if (dig) f |= name_char | lname_char | digit;
    if (alpha || c == '_') f |= lname_start | lname_char;
    if (c != 0 && c != '{' && c != ' ' && c != '\t' && c != '\n') f |= text_value;
    if (c != 0 && c != ' ' && c != '\n') f |= om_token;
    t[static_cast<std::size_t>(c)] = f;
  }
  return t;
}
inline constexpr auto table = make_table();

// c: a byte, or -1 past the end.
inline bool is(int c, std::uint8_t cls) {
  return c >= 0 && (table[static_cast<std::size_t>(c)] & cls) != 0;
}

// value.NormalNaN: Prometheus replaces every parsed NaN with it, so that a page cannot write the stale
// marker (value.StaleNaN, another NaN) into a series.
inline double normal_nan() {
  return std::bit_cast<double>(std::uint64_t{0x7ff8000000000001});
}

}  // namespace sigv4::scraper::detail::chars
