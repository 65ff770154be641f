#include "scraper/labels.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "scraper/varint.hpp"

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

using detail::get_varint;
using detail::put_varint;
using detail::varint_size;

void escape_into(std::string& out, std::string_view value) {
  for (char c : value) {
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
}

template <class Range>
std::string to_string_range(const Range& ls) {
  std::string out = "{";
  for (const auto& l : ls) {
    if (out.size() > 1) out += ", ";
    out += l.name;
    out += "=\"";
    escape_into(out, l.value);
    out += '"';
  }
  out += '}';
  return out;
}

// proto3 leaves out empty strings; doing the same keeps the bytes identical to protoc's.
constexpr std::size_t string_field_size(std::size_t len) {
  return len == 0 ? 0 : 1 + varint_size(len) + len;
}

}  // namespace

std::uint64_t hash_flat(std::string_view flat) {
  return XXH3_64bits(flat.data(), flat.size());
}

std::uint64_t hash(std::span<const label_view> ls) {
  thread_local std::string flat;
  flat.clear();
  append_flat(flat, ls);
  return hash_flat(flat);
}

std::uint64_t hash(const labels& ls) {
  thread_local label_views vs;
  to_views(ls, vs);
  return hash(vs);
}

std::string to_string(std::span<const label_view> ls) {
  return to_string_range(ls);
}

void to_views(const labels& ls, label_views& out) {
  out.clear();
  for (const auto& l : ls) out.push_back({l.name, l.value});
}

void append_flat(std::string& out, std::span<const label_view> ls) {
  // One pass into room for the worst case (a label's three varints at 5 bytes each), then cut to size:
  // computing exact sizes first walked every label twice.
  std::size_t room = 0;
  for (const auto& l : ls) room += 3 + 15 + l.name.size() + l.value.size();
  const std::size_t at = out.size();
  out.resize(at + room);
  char* p = out.data() + at;
  for (const auto& l : ls) {
    const std::size_t n = l.name.size(), v = l.value.size();
    const std::size_t inner = string_field_size(n) + string_field_size(v);
    *p++ = 0x0a;  // TimeSeries.labels
    if (inner < 0x80) {
      *p++ = static_cast<char>(inner);
    } else {
      p = put_varint(p, inner);
    }
    if (n != 0) {
      *p++ = 0x0a;  // Label.name
      p = n < 0x80 ? (*p = static_cast<char>(n), p + 1) : put_varint(p, n);
      std::memcpy(p, l.name.data(), n);
      p += n;
    }
    if (v != 0) {
      *p++ = 0x12;  // Label.value
      p = v < 0x80 ? (*p = static_cast<char>(v), p + 1) : put_varint(p, v);
      std::memcpy(p, l.value.data(), v);
      p += v;
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

bool read_flat(std::string_view flat, label_views& out) {
  out.clear();
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < flat.size()) {
    if (flat[i++] != 0x0a || !get_varint(flat, i, n) || n > flat.size() - i) return false;
    std::string_view inner = flat.substr(i, n);
    i += n;
    label_view l;
    std::size_t k = 0;
    while (k < inner.size()) {
      const char tag = inner[k++];
      std::uint64_t len = 0;
      if ((tag != 0x0a && tag != 0x12) || !get_varint(inner, k, len) || len > inner.size() - k) return false;
      (tag == 0x0a ? l.name : l.value) = inner.substr(k, len);
      k += len;
    }
    out.push_back(l);
  }
  return true;
}

labels to_labels(std::string_view flat) {
  label_views vs;
  labels out;
  if (!read_flat(flat, vs)) return out;
  for (const auto& v : vs) out.push_back({std::string(v.name), std::string(v.value)});
  return out;
}

std::uint64_t sample_batch::add(std::span<const label_view> ls, std::int64_t t_ms, double v) {
  const auto off = static_cast<std::uint32_t>(arena_.size());
  append_flat(arena_, ls);
  const auto len = static_cast<std::uint32_t>(arena_.size() - off);
  const std::uint64_t h = hash_flat(std::string_view(arena_).substr(off, len));
  entries_.push_back({off, len, h, t_ms, v});
  return h;
}

void sample_batch::add_flat(std::string_view flat, std::uint64_t h, std::int64_t t_ms, double v) {
  const auto off = static_cast<std::uint32_t>(arena_.size());
  arena_.append(flat);
  entries_.push_back({off, static_cast<std::uint32_t>(flat.size()), h, t_ms, v});
}

void sample_batch::truncate(std::size_t n) {
  if (n >= entries_.size()) return;
  arena_.resize(entries_[n].off);
  entries_.resize(n);
}

void sample_batch::clear() {
  arena_.clear();
  entries_.clear();
}


std::string to_string(const labels& ls) {
  return to_string_range(ls);
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
