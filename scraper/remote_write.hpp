#pragma once
// Remote-write 1.0 request bodies, built one sample at a time: each sample becomes a WriteRequest.timeseries
// entry (its labels, one sample) the moment it is queued, so a batch of them, concatenated, is already the
// serialized prometheus.WriteRequest and sending is one snappy call (block format). Prometheus 2.42 sends the
// same shape: one TimeSeries per sample. Sans-I/O: the sender POSTs what comes out, with Content-Encoding:
// snappy, Content-Type: application/x-protobuf and X-Prometheus-Remote-Write-Version: 0.1.0.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/labels.hpp"
#include "scraper/relabel.hpp"

namespace sigv4::scraper {

// Appends one WriteRequest.timeseries entry: TimeSeries{labels = flat_labels (append_flat's bytes), one
// Sample{value, timestamp}}. The bytes are those protoc's SerializeToString writes (tests compare).
void append_timeseries(std::string& out, std::string_view flat_labels, std::int64_t t_ms, double v);

// A serialized WriteRequest → the request body (snappy block format).
void compress(std::string_view raw, std::string& out_snappy);

// What one remote_write endpoint makes of a scraped sample: the external labels merged in (the series'
// own value wins on a shared name, as in Prometheus 2.42), then write_relabel_configs (which see the
// external labels, as Prometheus' do), then the wire record. Buffers are reused: no allocation per sample.
class record_builder {
 public:
  record_builder(labels external, relabel_rules write_relabel);

  // Appends the sample's record to `out`; false when write relabeling dropped it (nothing appended).
  bool build(std::string_view flat_labels, std::int64_t t_ms, double v, std::string& out);
  bool relabels() const { return !write_relabel_.empty(); }

 private:
  struct external_label {
    std::string name;
    std::string flat;  // the label alone in flat form: merged in by copying bytes
  };
  labels external_;  // sorted
  std::vector<external_label> external_flat_;
  std::size_t external_bytes_ = 0;  // of all external labels in flat form
  relabel_rules write_relabel_;
  label_views own_, merged_, external_views_;
  labels relabeled_;
  std::string flat_;
};

}  // namespace sigv4::scraper
