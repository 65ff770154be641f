#include "scraper/labels.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace sigv4::scraper {

void sort_labels(labels& ls) {
  std::ranges::sort(ls, {}, &label::name);
}

std::string_view get(const labels& ls, std::string_view name) {
  for (const auto& l : ls) {
    if (l.name == name) return l.value;
  }
  return {};
}

void set(labels& ls, std::string_view name, std::string_view value) {
  auto it = std::ranges::lower_bound(ls, name, {}, [](const label& l) { return std::string_view(l.name); });
  bool found = it != ls.end() && it->name == name;
  if (value.empty()) {
    if (found) ls.erase(it);
  } else if (found) {
    it->value.assign(value);
  } else {
    ls.insert(it, label{std::string(name), std::string(value)});
  }
}

namespace {

// 64-bit FNV-1a, then a final avalanche (splitmix64's) so that nearby label sets spread over shards.
constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ull;
constexpr std::uint64_t fnv_prime = 0x100000001b3ull;

void mix(std::uint64_t& h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= fnv_prime;
  }
}

}  // namespace

std::uint64_t hash(const labels& ls) {
  std::uint64_t h = fnv_offset;
  for (const auto& l : ls) {
    mix(h, l.name);
    h ^= 0xff;  // a byte that never occurs in UTF-8 text separates name and value
    h *= fnv_prime;
    mix(h, l.value);
    h ^= 0xfe;
    h *= fnv_prime;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

std::string to_string(const labels& ls) {
  std::string out = "{";
  for (const auto& l : ls) {
    if (out.size() > 1) out += ", ";
    out += l.name;
    out += "=\"";
    for (char c : l.value) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    unsigned char c = *p;
    std::size_t n;
    std::uint32_t lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t k = 2; k < n; ++k) {
      if ((p[k] & 0xc0) != 0x80) return false;
    }
    p += n;
  }
  return true;
}

double stale_nan() {
  return std::bit_cast<double>(stale_nan_bits);
}
bool is_stale_nan(double v) {
  return std::bit_cast<std::uint64_t>(v) == stale_nan_bits;
}

}  // namespace sigv4::scraper
