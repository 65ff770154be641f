#pragma once
// scrape_cache's reuse of the last page (scrape_cache.hpp says what and why): what its per-sample hashes
// say, the records of its compressed label sets, and the lookup of a sample by the hash of its bytes.
// Only scrape_cache.cpp includes this.
#include <snappy.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/varint.hpp"

namespace sigv4::scraper::detail {

// What became of a sample of the last page: the two low bits of its keys_ entry.
enum record_kind : std::uint64_t {
  dropped = 0,    // metric_relabel_configs dropped it
  stored = 1,     // its labels are in prev_, stale-eligible: no explicit timestamp (one of known_)
  stored_ts = 2,  // its labels are in prev_; it had an explicit timestamp
  uncached = 3,   // not in prev_ (a duplicate on its page): built again
};
constexpr std::uint64_t kind_mask = 3;

inline bool decompress(const std::string& compressed, std::string& raw) {
  std::size_t n = 0;
  if (compressed.empty()) {
    raw.clear();
    return true;
  }
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &n)) return false;
  raw.resize(n);  // no clear() first: a buffer as long as last time (an unchanged page) is not zeroed again
  return snappy::RawUncompress(compressed.data(), compressed.size(), raw.data());
}

// The record of uncompressed prev_ at offset i: its labels and whether it is stale-eligible; i moves past it.
inline bool next_record(std::string_view all, std::size_t& i, std::string_view& flat, bool& stale) {
  std::uint64_t n = 0;
  if (i >= all.size() || !get_varint(all, i, n) || (n >> 1) > all.size() - i) return false;
  flat = all.substr(i, n >> 1);
  stale = (n & 1) != 0;
  i += n >> 1;
  return true;
}

// Calls fn(flat) for each stale-eligible label set of an uncompressed prev_.
template <class Fn>
void for_each_stale_eligible(std::string_view all, Fn&& fn) {
  std::size_t i = 0;
  std::string_view flat;
  bool stale = false;
  while (next_record(all, i, flat, stale)) {
    if (stale) fn(flat);
  }
}

// Buffers the lookups reuse from page to page (one set per thread, as scrape_cache's other scratch).
struct last_page_buffers {
  std::string raw;                        // the last page's prev_, uncompressed
  std::vector<std::uint32_t> record_at;   // per sample of the last page: its record's offset in raw
  std::vector<std::uint64_t> index_keys;  // open addressing over the last page's keys: key -> position + 1
  std::vector<std::uint32_t> index_pos;
};

// The last successful page's samples, for reuse: found by the hash of their raw bytes, their labels read
// back from prev_ (uncompressed once, when first needed).
class previous_page {
 public:
  previous_page(const std::vector<std::uint64_t>& keys, const std::string& compressed, bool usable,
                last_page_buffers& buf)
      : keys_(usable ? std::span<const std::uint64_t>(keys) : std::span<const std::uint64_t>()),
        compressed_(compressed),
        buf_(buf) {}

  // The position on the last page of the sample with this key (the same position first: pages rarely
  // change their order), or -1.
  std::ptrdiff_t find(std::size_t pos, std::uint64_t key) {
    if (pos < keys_.size() && (keys_[pos] & ~kind_mask) == key) return static_cast<std::ptrdiff_t>(pos);
    if (keys_.empty()) return -1;
    if (!indexed_) build_index();
    const std::size_t mask = buf_.index_keys.size() - 1;
    for (std::size_t at = slot(key, mask);; at = (at + 1) & mask) {
      if (buf_.index_pos[at] == 0) return -1;
      if (buf_.index_keys[at] == key) return static_cast<std::ptrdiff_t>(buf_.index_pos[at] - 1);
    }
  }
  std::uint64_t kind(std::ptrdiff_t j) const { return keys_[static_cast<std::size_t>(j)] & kind_mask; }
  // The final labels of a stored sample; empty when prev_ cannot be read (the caller builds them then).
  std::string_view labels(std::ptrdiff_t j) {
    if (!unpacked_) unpack();
    if (broken_) return {};
    std::size_t i = buf_.record_at[static_cast<std::size_t>(j)];
    std::string_view flat;
    bool stale = false;
    return next_record(buf_.raw, i, flat, stale) ? flat : std::string_view();
  }
  // prev_ uncompressed (for stale markers).
  std::string_view raw() {
    if (!decompressed_) {
      decompressed_ = true;
      broken_ = !decompress(compressed_, buf_.raw);
      if (broken_) buf_.raw.clear();
    }
    return buf_.raw;
  }

 private:
  static std::size_t slot(std::uint64_t key, std::size_t mask) { return (key ^ (key >> 29)) & mask; }

  void build_index() {
    indexed_ = true;
    std::size_t n = 64;
    while (n < 2 * keys_.size()) n *= 2;
    buf_.index_keys.assign(n, 0);
    buf_.index_pos.assign(n, 0);
    for (std::size_t j = 0; j < keys_.size(); ++j) {
      const std::uint64_t key = keys_[j] & ~kind_mask;
      for (std::size_t at = slot(key, n - 1);; at = (at + 1) & (n - 1)) {
        if (buf_.index_pos[at] == 0) {
          buf_.index_keys[at] = key;
          buf_.index_pos[at] = static_cast<std::uint32_t>(j + 1);
          break;
        }
        if (buf_.index_keys[at] == key) break;  // the first of equal keys (the later ones were duplicates)
      }
    }
  }

  // prev_ uncompressed, and where each stored sample's record starts.
  void unpack() {
    unpacked_ = true;
    raw();
    if (broken_) return;
    buf_.record_at.assign(keys_.size(), 0);
    std::size_t i = 0;
    for (std::size_t j = 0; j < keys_.size(); ++j) {
      const auto k = keys_[j] & kind_mask;
      if (k != stored && k != stored_ts) continue;
      buf_.record_at[j] = static_cast<std::uint32_t>(i);
      std::string_view flat;
      bool stale = false;
      if (!next_record(buf_.raw, i, flat, stale)) {
        broken_ = true;
        return;
      }
    }
  }

  std::span<const std::uint64_t> keys_;
  const std::string& compressed_;
  last_page_buffers& buf_;
  bool indexed_ = false;
  bool decompressed_ = false;
  bool unpacked_ = false;  // record_at filled
  bool broken_ = false;
};

}  // namespace sigv4::scraper::detail
