// Why samples are written in wire form when they are queued, by hand, and not through protoc's classes (the
// issue's rule: protoc unless a benchmark shows a hand encoder is much faster). bench/remote_write_bench, one
// run, pinned to one core of this shared 2-core VM, 2000 samples of 2000 node_exporter-like series (10 labels
// each) plus 2 external labels (631 KB raw, 52 KB snappy), GCC 12 -O2:
//   hand   records + compress   3.27 M samples/s
//   protoc fill + serialize + compress   1.15 M samples/s   (2.8x slower; snappy alone is 17.5 M/s)
// protoc's cost is per message (a TimeSeries, its Labels and its Sample filled, then walked
// twice: sizes, then serialize); here the labels are already the bytes TimeSeries.labels holds (the scraper
// keeps label sets flat, labels.hpp), so a record is a length prefix, one copy and 9 + ~7 bytes of sample.
// The tests decode what is sent with the protoc-generated classes and compare bytes with protoc's output, so
// protoc's code stays the oracle.
#include "scraper/remote_write.hpp"

#include <snappy.h>

#include <bit>
#include <cstring>

#include "scraper/varint.hpp"

namespace sigv4::scraper {

namespace {

static_assert(std::endian::native == std::endian::little, "fixed64 is written with memcpy");

using detail::get_varint;
using detail::put_varint;
using detail::varint_size;

// The label field of a flat set starting at `at`: where it ends, and its name.
bool flat_field(std::string_view flat, std::size_t at, std::size_t& end, std::string_view& name) {
  std::size_t i = at;
  std::uint64_t len = 0, nlen = 0;
  if (flat[i++] != 0x0a || !get_varint(flat, i, len) || len > flat.size() - i) return false;
  end = i + len;
  name = {};
  if (i < end && flat[i] == 0x0a) {
    ++i;
    if (!get_varint(flat, i, nlen) || nlen > end - i) return false;
    name = flat.substr(i, nlen);
  }
  return true;
}

// The own set and the external set, both sorted, merged by name; the own value wins.
void merge(std::span<const label_view> own, std::span<const label_view> external, label_views& out) {
  out.clear();
  std::size_t i = 0, j = 0;
  while (i < own.size() && j < external.size()) {
    if (own[i].name < external[j].name) {
      out.push_back(own[i++]);
    } else if (external[j].name < own[i].name) {
      out.push_back(external[j++]);
    } else {
      out.push_back(own[i++]);
      ++j;
    }
  }
  for (; i < own.size(); ++i) out.push_back(own[i]);
  for (; j < external.size(); ++j) out.push_back(external[j]);
}

// TimeSeries.samples: one Sample{value, timestamp}. proto3 leaves out fields at their default: a double whose
// bits are all zero (so -0.0 is written) and a zero int64. Doing the same keeps the output identical to
// protoc's.
struct sample_field {
  std::uint64_t bits;
  std::int64_t t_ms;
  std::size_t inner;  // Sample's size
  sample_field(std::int64_t t, double v)
      : bits(std::bit_cast<std::uint64_t>(v)),
        t_ms(t),
        inner((bits != 0 ? 9 : 0) + (t != 0 ? 1 + varint_size(static_cast<std::uint64_t>(t)) : 0)) {}
  std::size_t size() const { return 1 + varint_size(inner) + inner; }
  char* put(char* p) const {
    *p++ = 0x12;  // TimeSeries.samples
    p = put_varint(p, inner);
    if (bits != 0) {
      *p++ = 0x09;  // Sample.value, fixed64
      std::memcpy(p, &bits, 8);
      p += 8;
    }
    if (t_ms != 0) {
      *p++ = 0x10;  // Sample.timestamp, varint
      p = put_varint(p, static_cast<std::uint64_t>(t_ms));
    }
    return p;
  }
};

}  // namespace

void append_timeseries(std::string& out, std::string_view flat_labels, std::int64_t t_ms, double v) {
  const sample_field sample(t_ms, v);
  const std::size_t series = flat_labels.size() + sample.size();
  const std::size_t at = out.size();
  out.resize(at + 1 + varint_size(series) + series);
  char* p = out.data() + at;
  *p++ = 0x0a;  // WriteRequest.timeseries
  p = put_varint(p, series);
  std::memcpy(p, flat_labels.data(), flat_labels.size());
  p += flat_labels.size();
  sample.put(p);
}

void compress(std::string_view raw, std::string& out_snappy) {
  out_snappy.resize(snappy::MaxCompressedLength(raw.size()));
  std::size_t n = 0;
  snappy::RawCompress(raw.data(), raw.size(), out_snappy.data(), &n);
  out_snappy.resize(n);
}

record_builder::record_builder(labels external, relabel_rules write_relabel)
    : external_(std::move(external)), write_relabel_(std::move(write_relabel)) {
  sort_labels(external_);
  to_views(external_, external_views_);
  for (const auto& l : external_views_) {
    external_label e{std::string(l.name), {}};
    append_flat(e.flat, std::span(&l, 1));
    external_bytes_ += e.flat.size();
    external_flat_.push_back(std::move(e));
  }
}

bool record_builder::build(std::string_view flat_labels, std::int64_t t_ms, double v, std::string& out) {
  if (external_.empty() && write_relabel_.empty()) {
    append_timeseries(out, flat_labels, t_ms, v);
    return true;
  }
  if (write_relabel_.empty()) {
    // The external labels merged in as bytes, straight into the record: each label of the flat set is a
    // self-contained field, so the merge copies fields and re-encodes nothing. The record's length is
    // written first, as if no external label were overridden (the usual case), and fixed after if one was.
    const sample_field sample(t_ms, v);
    const std::size_t guess = flat_labels.size() + external_bytes_ + sample.size();
    const std::size_t at = out.size();
    out.resize(at + 1 + varint_size(guess) + guess);
    char* const head = out.data() + at;
    char* const labels_at = put_varint(head + 1, guess);
    char* p = labels_at;
    auto copy = [&p](std::string_view bytes) {
      std::memcpy(p, bytes.data(), bytes.size());
      p += bytes.size();
    };
    // The series' own fields are copied in runs, between the places where external labels go in; past the
    // last of those, the rest in one.
    std::size_t i = 0, j = 0, run = 0;
    while (i < flat_labels.size() && j < external_flat_.size()) {
      std::size_t end = 0;
      std::string_view name;
      if (!flat_field(flat_labels, i, end, name)) {
        out.resize(at);
        return false;
      }
      if (name_less(external_flat_[j].name, name)) {
        copy(flat_labels.substr(run, i - run));
        run = i;
        do {
          copy(external_flat_[j++].flat);
        } while (j < external_flat_.size() && name_less(external_flat_[j].name, name));
      }
      if (j < external_flat_.size() && external_flat_[j].name == name) ++j;  // the series' own value wins
      i = end;
    }
    copy(flat_labels.substr(run));
    for (; j < external_flat_.size(); ++j) copy(external_flat_[j].flat);
    const std::size_t series = static_cast<std::size_t>(p - labels_at) + sample.size();
    *head = 0x0a;  // WriteRequest.timeseries
    if (series != guess) {
      char* const moved = put_varint(head + 1, series);  // shorter or as long: an override only removes
      if (moved != labels_at) {
        std::memmove(moved, labels_at, static_cast<std::size_t>(p - labels_at));
        p -= labels_at - moved;
      }
    }
    p = sample.put(p);
    out.resize(static_cast<std::size_t>(p - out.data()));
    return true;
  }
  if (!read_flat(flat_labels, own_)) return false;
  merge(own_, external_views_, merged_);
  {
    // relabeled_ keeps its strings between samples, so this copies bytes but rarely allocates.
    relabeled_.resize(merged_.size());
    for (std::size_t i = 0; i < merged_.size(); ++i) {
      relabeled_[i].name.assign(merged_[i].name);
      relabeled_[i].value.assign(merged_[i].value);
    }
    if (!process(relabeled_, write_relabel_) || relabeled_.empty()) return false;
    to_views(relabeled_, merged_);
  }
  flat_.clear();
  append_flat(flat_, merged_);
  append_timeseries(out, flat_, t_ms, v);
  return true;
}

}  // namespace sigv4::scraper
