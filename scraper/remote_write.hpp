#pragma once
// Remote-write 1.0 request bodies: a batch of samples becomes one snappy-compressed (block format)
// prometheus.WriteRequest. Sans-I/O: the sender POSTs what comes out, with Content-Encoding: snappy,
// Content-Type: application/x-protobuf and X-Prometheus-Remote-Write-Version: 0.1.0.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/labels.hpp"

namespace sigv4::scraper {

namespace detail {

// A batch regrouped by series, in the order each series first appears, with each series' samples in batch
// order (the queue keeps a series' samples in append order, which is timestamp order). Buffers are reused.
class series_grouper {
 public:
  struct group {
    const series* s;
    std::uint32_t first;  // into order()
    std::uint32_t count;
  };
  void regroup(std::span<const sample> batch);
  std::span<const group> groups() const { return groups_; }
  // Indices into the batch, grouped: groups()[g] owns order()[first, first + count).
  std::span<const std::uint32_t> order() const { return order_; }

 private:
  std::vector<group> groups_;
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> group_of_;                         // per sample
  std::vector<std::pair<const series*, std::uint32_t>> slots_;  // open addressing: series -> group
};

// A series' labels with the external labels merged in (the series' own value wins on a shared name, as in
// Prometheus 2.42's processExternalLabels), sorted by name. Pointers into both inputs: no copies.
void merge_external(const labels& own, const labels& external, std::vector<const label*>& out);

}  // namespace detail

// The production encoder: writes the protobuf wire format directly into a reused buffer (protoc's output
// byte for byte, tests check that), then compresses. See remote_write.cpp for why it is not protoc's code.
class write_request_encoder {
 public:
  // `external` must be sorted by name (a `labels` invariant); an unsorted set is sorted into a copy.
  void encode(std::span<const sample> batch, const labels& external, std::string& out_snappy);
  // The serialized WriteRequest of the last encode(), before compression.
  std::string_view last_uncompressed() const { return raw_; }

 private:
  detail::series_grouper grouper_;
  std::vector<const label*> merged_;
  std::vector<std::uint32_t> label_sizes_;
  std::vector<std::uint32_t> series_sizes_;
  labels sorted_external_;
  std::string raw_;
};

// The same through protoc-generated classes (lite runtime), kept as the reference the benchmark measures
// the hand encoder against. The message is reused, so its repeated fields keep their allocations.
class protoc_write_request_encoder {
 public:
  protoc_write_request_encoder();
  ~protoc_write_request_encoder();
  protoc_write_request_encoder(const protoc_write_request_encoder&) = delete;
  protoc_write_request_encoder& operator=(const protoc_write_request_encoder&) = delete;

  void encode(std::span<const sample> batch, const labels& external, std::string& out_snappy);
  std::string_view last_uncompressed() const { return raw_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  detail::series_grouper grouper_;
  std::vector<const label*> merged_;
  labels sorted_external_;
  std::string raw_;
};

}  // namespace sigv4::scraper
