#pragma once
// What one target's scrape loop keeps between scrapes, and the page → samples step it drives, as Prometheus'
// scrapeLoop.append and scrapeCache (scrape/scrape.go, 2.42) behave: target labels, honor_labels /
// exported_, metric_relabel_configs, limits, duplicates, staleness, the synthetic series (up,
// scrape_duration_seconds, ...). Pure: no I/O, no clock.
//
// Unlike Prometheus' cache it keeps no label set per series: every sample's labels are built again from the
// page into reused buffers (views, then one flat copy into the sample_batch), which costs no allocation and
// less time than a hash-map lookup by the series' bytes did. Between scrapes a target keeps only the sorted
// hashes of its series (8 bytes each) and, for the stale markers of series that vanish, their label sets
// snappy-compressed (about 10 bytes a series on node_exporter-like pages) — rewritten only when the set of
// series changed. So a million scraped series cost ~20 MB here, not the ~700 MB that a label set per series
// in a hash map did (bench/scrape_pipeline_bench).
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
  // The flat label sets of known_'s series, each [varint size][bytes], snappy-compressed.
  std::string prev_;
  bool prev_live_ = false;  // known_'s series have no stale markers yet
  std::vector<std::string> report_;  // the synthetic series' flat label sets, for their stale markers
};

}  // namespace sigv4::scraper
