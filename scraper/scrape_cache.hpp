#pragma once
// What one target's scrape loop keeps between scrapes, and the page → samples step it drives, as Prometheus'
// scrapeLoop.append and scrapeCache (scrape/scrape.go, 2.42): the label set of every series is built once
// (target labels, honor_labels / exported_, metric_relabel_configs) and found again by the series' raw bytes,
// so an unchanged series costs a hash lookup and no allocation; series that vanish from the page get stale
// markers; the synthetic series (up, scrape_duration_seconds, ...) are made here too. Pure: no I/O, no clock.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
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

// A process-unique series id (the remote-write spool's series reference later).
std::uint64_t next_series_id();

class scrape_cache {
 public:
  // Parses `page` (its format chosen by content_type, as Prometheus chooses) and appends its samples to `out`
  // at now_ms (or the page's timestamps, with honor_timestamps), then stale markers for the series the
  // previous scrape had and this one has not. On error nothing of the page stays in `out`; the caller then
  // reports the failure with append_all_stale.
  append_result append_page(std::string_view page, std::string_view content_type, std::int64_t now_ms,
                            const sample_context& ctx, std::vector<sample>& out);

  // A failed scrape (or a target that goes away): stale markers for every series the last successful scrape
  // had, which are then forgotten. with_report also marks the synthetic series (the target is gone).
  void append_all_stale(std::int64_t now_ms, std::vector<sample>& out, bool with_report);

  struct report {
    bool up = false;
    double duration_seconds = 0;
    append_result page;
  };
  // The synthetic series, at the scrape's start time. Their labels: the name plus the target's labels.
  void append_report(const report& r, std::int64_t start_ms, const labels& target_labels,
                     std::vector<sample>& out);

  // Reload changed what shapes label sets (target labels, honor_labels, metric_relabel_configs): build them
  // again from the next page. The staleness state is kept, so vanished series still get their markers.
  void forget_label_sets();

  std::size_t series_count() const { return series_.size(); }

 private:
  struct cached {
    series_ptr s;
    std::uint64_t last_iter = 0;
    std::uint64_t stale_iter = 0;  // iteration whose staleness set holds this series (0 = none)
  };
  // Builds the final labels of a newly seen series; empty when metric relabeling dropped it.
  std::string build(const sample_context& ctx, labels& parsed, labels& out) const;
  void done(bool flush);

  std::unordered_map<std::string, cached> series_;          // raw series bytes -> entry
  std::unordered_map<std::string, std::uint64_t> dropped_;  // raw bytes relabeling dropped -> last iteration
  std::vector<series_ptr> cur_, prev_;                      // series seen (without explicit timestamps)
  std::vector<series_ptr> report_series_;
  std::size_t successful_count_ = 0;
  std::uint64_t iter_ = 1;
  std::string key_;  // scratch: the lookup key, reused
  labels parsed_, built_;
};

}  // namespace sigv4::scraper
