#pragma once
// What the spool holds for remote_write (sans-I/O): one record per scrape append, the sample_batch as it was
// appended (each sample's flat label set, series hash, timestamp and value), snappy-compressed. The
// endpoints' external labels and write_relabel_configs are applied when a record is read back, so one
// record serves every endpoint of the instance and a config change applies to the backlog too.
//
// Payload (inside snappy): `version` byte 1, then per sample: varint label bytes, the flat labels
// (remote_write.hpp's wire Label fields), fixed64 series hash, fixed64 timestamp ms, fixed64 value bits
// (all little-endian). The hash only picks a shard; a different hash function in a later release would
// move series between shards, never reorder one.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "scraper/labels.hpp"

namespace sigv4::scraper {

inline constexpr std::uint8_t spool_record_samples = 1;  // spool::record::type of these records

// `scratch` keeps its capacity between calls. Returns the newest timestamp (the record's, for max_age).
std::int64_t encode_spool_record(const sample_batch& batch, std::string& scratch, std::string& out);

// Appends the record's samples to `out` (not cleared). False, with `out` as it was, when the bytes are not
// such a record: a checksummed record that still fails here was written by a different release.
bool decode_spool_record(std::string_view payload, std::string& scratch, sample_batch& out);

// The samples of the batch delivered or given up for good, per read record, so that a reader commits a
// record only when every sample of it is done with: the longest prefix of fully-done records.
template <typename Position>
class ack_tracker {
 public:
  using origin = std::uint64_t;
  static constexpr origin none = ~origin{0};

  // A record read: `samples` of it went to the queue. Zero: done right away.
  origin add(Position end, std::size_t samples) {
    records_.push_back({end, samples});
    return base_ + records_.size() - 1;
  }
  // `n` samples of that record done with (sent, or failed for good).
  void done(origin o, std::size_t n = 1) {
    if (o == none || o < base_) return;
    auto& r = records_.at(static_cast<std::size_t>(o - base_));
    r.pending -= std::min(r.pending, n);
  }
  // The end of the longest done prefix not reported yet; false when it did not move.
  bool committable(Position& end) {
    bool moved = false;
    while (!records_.empty() && records_.front().pending == 0) {
      end = records_.front().end;
      records_.pop_front();
      ++base_;
      moved = true;
    }
    return moved;
  }
  std::size_t outstanding() const { return records_.size(); }

 private:
  struct entry {
    Position end;
    std::size_t pending;
  };
  std::deque<entry> records_;
  origin base_ = 0;
};

}  // namespace sigv4::scraper
