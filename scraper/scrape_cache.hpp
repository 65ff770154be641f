#pragma once
// What one target's scrape loop keeps between scrapes, and the page → samples step it drives, as Prometheus'
// scrapeLoop.append and scrapeCache (scrape/scrape.go, 2.42) behave: target labels, honor_labels /
// exported_, metric_relabel_configs, limits, duplicates, staleness, the synthetic series (up,
// scrape_duration_seconds, ...). Pure: no I/O, no clock.
//
// Unlike Prometheus' cache it keeps no label set per series. Between scrapes a target keeps, per series, the
// hash of its final labels (sorted: 8 bytes), the hash of its raw bytes on the page (the metric name and the
// label text before the value, in page order: 8 bytes, its two low bits saying what became of it) and,
// snappy-compressed, the final label sets of the last page in page order (about 10 bytes a series on
// node_exporter-like pages): ~28 bytes a series, not the ~700 of a label set per series in a hash map.
//
// The raw-byte hashes are Prometheus' scrape cache (its map from the series' bytes to the series' labels)
// without the map: a sample whose raw bytes hash as those of a sample of the last page (the one at the same
// position, else any) gets that sample's final labels again, read back from the compressed sets, and skips
// label parsing, the target labels, metric_relabel_configs and the checks; a series that relabeling dropped
// is dropped again at once. That is only valid while what turns bytes into labels is the same, so the
// hashes are kept with a fingerprint of it (target labels, honor_labels, label limits, the rules, the
// format) and go unused when it changed. Anything else (a new or changed series) takes the full path: its
// labels are built again from the page into reused buffers (views, then one flat copy into the
// sample_batch), with no allocation. The compressed sets are rewritten only when a page differs from the
// last one (bench/scrape_pipeline_bench).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/labels.hpp"
#include "scraper/relabel.hpp"

namespace sigv4::scraper {

struct scrape_limits {
  std::size_t sample_limit = 0;  // 0 = none, for every limit
  std::size_t label_limit = 0;
  std::size_t label_name_length_limit = 0;
  std::size_t label_value_length_limit = 0;
};

struct sample_context {
  const labels* target_labels = nullptr;  // the target's labels without "__" ones
  bool honor_labels = false;
  bool honor_timestamps = true;
  const relabel_rules* metric_relabel = nullptr;
  scrape_limits limits;
};

struct append_result {
  std::size_t total = 0;         // samples on the page (scrape_samples_scraped)
  std::size_t added = 0;         // after metric relabeling (scrape_samples_post_metric_relabeling)
  std::size_t series_added = 0;  // series new to the cache (scrape_series_added)
  std::size_t duplicates = 0;    // a series repeated on one page: the later samples are dropped (counted)
  std::size_t reused = 0;        // samples whose final labels (or drop) were the last page's: not rebuilt
  std::string error;             // non-empty: the scrape failed, and why (a parse error names its line)
};

class scrape_cache {
 public:
  // Parses `page` (its format chosen by content_type, as Prometheus chooses) and appends its samples to `out`
  // at now_ms (or the page's timestamps, with honor_timestamps), then stale markers for the series the
  // previous scrape had and this one has not. On error nothing of the page stays in `out`; the caller then
  // reports the failure with append_all_stale.
  append_result append_page(std::string_view page, std::string_view content_type, std::int64_t now_ms,
                            const sample_context& ctx, sample_batch& out);

  // A failed scrape (or a target that goes away): stale markers for every series the last successful scrape
  // had (once: until a scrape succeeds again). with_report also marks the synthetic series (the target is
  // gone).
  void append_all_stale(std::int64_t now_ms, sample_batch& out, bool with_report);

  struct report {
    bool up = false;
    double duration_seconds = 0;
    append_result page;
  };
  // The synthetic series, at the scrape's start time. Their labels: the name plus the target's labels.
  void append_report(const report& r, std::int64_t start_ms, const labels& target_labels, sample_batch& out);

  // Series of the last successful scrape (those with explicit timestamps included).
  std::size_t series_count() const { return known_.size() + known_ts_.size(); }
  // Heap bytes kept between scrapes.
  std::size_t memory_bytes() const;

 private:
  // Sorted hashes of the last successful page's series: without explicit timestamps (staleness applies to
  // those only, as in Prometheus), and with.
  std::vector<std::uint64_t> known_, known_ts_;
  std::uint64_t digest_ = 0;  // of known_'s hashes in page order: an unchanged page is one comparison
  // Per sample of the last successful page, in page order: the hash of its raw bytes (parser::series()), the
  // two low bits replaced by what became of it (scrape_cache.cpp: record_kind).
  std::vector<std::uint64_t> keys_;
  std::uint64_t keys_context_ = 0;  // the fingerprint of what made keys_' labels
  // The final label sets of the samples keys_ says are stored, in page order, each [varint size << 1 |
  // stale-eligible][bytes], snappy-compressed: for stale markers (the stale-eligible ones are known_'s
  // series) and for reuse.
  std::string prev_;
  bool prev_live_ = false;  // known_'s series have no stale markers yet
  std::vector<std::string> report_;  // the synthetic series' flat label sets, for their stale markers
};

}  // namespace sigv4::scraper
