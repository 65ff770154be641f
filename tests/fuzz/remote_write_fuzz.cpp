// libFuzzer target over the remote-write encoder (scraper/remote_write.hpp), as a round trip through protoc's
// own classes (sigv4_remote_proto, the unit tests' oracle). FuzzedDataProvider picks external labels, whether
// the records go through record_builder (external labels merged in) or append_timeseries, and up to 32
// series: up to 8 labels each (names and values any valid UTF-8, as label sets hold; a "pad" label up to 17
// KiB so record lengths cross varint boundaries), a timestamp and the value's 64 bits (NaN payloads, the
// stale marker, -0.0 included). Everything is encoded, snappy-compressed, decompressed and parsed as a
// prometheus.WriteRequest. Invariants: the flat form reads back as the labels it was written from (read_flat,
// to_labels, hash_flat); snappy gives the raw bytes back; the request parses, with one TimeSeries per sample
// in order, the expected labels (the series' own, external ones filling gaps), one sample with the timestamp
// and the value bit-exact, and no metadata; and the raw bytes are those protoc serializes for that request.
#include <fuzzer/FuzzedDataProvider.h>
#include <snappy.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "remote.pb.h"
#include "scraper/labels.hpp"
#include "scraper/remote_write.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace sigv4::scraper;

using sigv4::fuzz::check;

// A label of the fuzzer's choosing, or nothing when it is not one a label set may hold.
void add_label(FuzzedDataProvider& fdp, labels& ls) {
  const std::string name = fdp.ConsumeRandomLengthString(64);
  const std::string value = fdp.ConsumeRandomLengthString(512);
  if (name.empty() || value.empty() || !valid_utf8(name) || !valid_utf8(value)) return;
  set(ls, name, value);
}

struct sample {
  labels lbls;  // what the receiver must see
  std::int64_t t;
  double v;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  labels external;
  for (int n = fdp.ConsumeIntegralInRange(0, 4); n > 0; --n) add_label(fdp, external);
  const bool builder = fdp.ConsumeBool();
  record_builder rb(external, {});

  std::vector<sample> want;
  std::string raw, flat;
  label_views views, read_back;
  for (int n = fdp.ConsumeIntegralInRange(0, 32); n > 0 && fdp.remaining_bytes() > 0; --n) {
    labels own;
    for (int k = fdp.ConsumeIntegralInRange(0, 8); k > 0; --k) add_label(fdp, own);
    if (fdp.ConsumeIntegralInRange(0, 7) == 0) {
      set(own, "pad", std::string(fdp.ConsumeIntegralInRange<std::size_t>(1, 17000), 'p'));
    }
    const auto t = fdp.ConsumeIntegral<std::int64_t>();
    const auto v = std::bit_cast<double>(fdp.ConsumeIntegral<std::uint64_t>());

    flat.clear();
    to_views(own, views);
    append_flat(flat, views);
    check(read_flat(flat, read_back) && read_back == views, "read_flat reads the flat form back");
    check(to_labels(flat) == own, "to_labels reads the flat form back");
    check(hash_flat(flat) == hash(own), "hash_flat is hash of the labels");

    labels expected = own;
    if (builder) {
      check(rb.build(flat, t, v, raw), "no write relabeling: nothing is dropped");
      for (const auto& l : external) {
        if (get(own, l.name).empty()) expected.push_back(l);
      }
      sort_labels(expected);
    } else {
      append_timeseries(raw, flat, t, v);
    }
    want.push_back({std::move(expected), t, v});
  }

  std::string body, back;
  compress(raw, body);
  check(snappy::Uncompress(body.data(), body.size(), &back), "snappy decompresses the body");
  check(back == raw, "snappy gives the raw bytes back");

  prometheus::WriteRequest req;
  check(req.ParseFromString(raw), "protobuf parses the request");
  check(req.timeseries_size() == static_cast<int>(want.size()), "one TimeSeries per sample");
  check(req.metadata_size() == 0, "no metadata");
  prometheus::WriteRequest reference;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& ts = req.timeseries(static_cast<int>(i));
    const auto& w = want[i];
    check(ts.labels_size() == static_cast<int>(w.lbls.size()), "every label comes back");
    auto* ref = reference.add_timeseries();
    for (std::size_t k = 0; k < w.lbls.size(); ++k) {
      const auto& l = ts.labels(static_cast<int>(k));
      check(l.name() == w.lbls[k].name && l.value() == w.lbls[k].value, "labels come back equal, in order");
      auto* rl = ref->add_labels();
      rl->set_name(w.lbls[k].name);
      rl->set_value(w.lbls[k].value);
    }
    check(ts.samples_size() == 1, "one sample per TimeSeries");
    check(ts.samples(0).timestamp() == w.t, "the timestamp comes back");
    check(std::bit_cast<std::uint64_t>(ts.samples(0).value()) == std::bit_cast<std::uint64_t>(w.v),
          "the value comes back bit-exact");
    auto* rs = ref->add_samples();
    rs->set_value(w.v);
    rs->set_timestamp(w.t);
  }
  check(reference.SerializeAsString() == raw, "the bytes are protoc's");
  return 0;
}
