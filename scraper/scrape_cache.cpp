#include "scraper/scrape_cache.hpp"

#include <algorithm>
#include <atomic>

#include "scraper/textparse.hpp"

namespace sigv4::scraper {

std::uint64_t next_series_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

series_ptr make_series(labels ls) {
  auto s = std::make_shared<series>();
  s->hash = hash(ls);
  s->lbls = std::move(ls);
  s->id = next_series_id();
  return s;
}

// Target labels onto the page's labels, as mutateSampleLabels: with honor_labels the page wins; without it
// the target wins and a page label it overwrites is kept as exported_<name> (exported_exported_<name>, ...
// when that is taken too), the shorter names renamed first.
void merge_target_labels(const labels& page, const labels& target, bool honor, labels& out) {
  out = page;
  if (honor) {
    for (const auto& l : target) {
      if (get(page, l.name).empty()) set(out, l.name, l.value);
    }
    return;
  }
  std::vector<label> conflicts;
  for (const auto& l : target) {
    auto exposed = get(page, l.name);
    if (!exposed.empty()) conflicts.push_back({l.name, std::string(exposed)});
    set(out, l.name, l.value);
  }
  if (conflicts.empty()) return;
  std::ranges::stable_sort(conflicts, {}, [](const label& l) { return l.name.size(); });
  for (std::size_t i = 0; i < conflicts.size(); ++i) {
    std::string name = conflicts[i].name;
    for (;;) {
      name = "exported_" + name;
      bool taken = !get(page, name).empty() || !get(target, name).empty();
      for (std::size_t k = 0; k < i && !taken; ++k) taken = conflicts[k].name == name;
      if (!taken) break;
    }
    conflicts[i].name = std::move(name);
  }
  for (const auto& l : conflicts) set(out, l.name, l.value);
}

std::string check_limits(const labels& ls, const scrape_limits& lim) {
  if (lim.label_limit != 0 && ls.size() > lim.label_limit) {
    return "label_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
           ", number of labels: " + std::to_string(ls.size()) +
           ", limit: " + std::to_string(lim.label_limit) + ")";
  }
  for (const auto& l : ls) {
    if (lim.label_name_length_limit != 0 && l.name.size() > lim.label_name_length_limit) {
      return "label_name_length_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
             ", label name: " + l.name + ", length: " + std::to_string(l.name.size()) +
             ", limit: " + std::to_string(lim.label_name_length_limit) + ")";
    }
    if (lim.label_value_length_limit != 0 && l.value.size() > lim.label_value_length_limit) {
      return "label_value_length_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
             ", label name: " + l.name + ", value: \"" + l.value +
             "\", length: " + std::to_string(l.value.size()) +
             ", limit: " + std::to_string(lim.label_value_length_limit) + ")";
    }
  }
  return {};
}

}  // namespace

std::string scrape_cache::build(const sample_context& ctx, labels& parsed, labels& out) const {
  static const labels none;
  merge_target_labels(parsed, ctx.target_labels ? *ctx.target_labels : none, ctx.honor_labels, out);
  if (ctx.metric_relabel != nullptr && !ctx.metric_relabel->empty() && !process(out, *ctx.metric_relabel)) {
    out.clear();
    return {};
  }
  if (out.empty()) return {};
  if (get(out, "__name__").empty()) return "__name__ label is missing";
  if (!valid_metric_name(get(out, "__name__")))
    return "invalid metric name or label names: " + to_string(out);
  for (const auto& l : out) {
    if (!is_valid_label_name(l.name)) return "invalid metric name or label names: " + to_string(out);
  }
  return check_limits(out, ctx.limits);
}

append_result scrape_cache::append_page(std::string_view page, std::string_view content_type,
                                        std::int64_t now_ms, const sample_context& ctx,
                                        std::vector<sample>& out) {
  append_result r;
  const std::size_t start = out.size();
  std::vector<series_ptr> cur;
  cur.reserve(prev_.size());
  std::size_t non_stale = 0;
  bool over_limit = false;

  parser p(page, format_for_content_type(content_type));
  for (;;) {
    scraper::entry e = p.next();
    if (e == scraper::entry::eof) break;
    if (e == scraper::entry::invalid) {
      const auto& e = p.error();
      r.error = e ? "line " + std::to_string(e->line) + ": " + e->message : std::string("invalid page");
      break;
    }
    if (e != scraper::entry::sample) continue;
    ++r.total;
    std::int64_t t = now_ms;
    std::optional<std::int64_t> ts = ctx.honor_timestamps ? p.timestamp_ms() : std::nullopt;
    if (ts) t = *ts;
    std::string_view raw = p.series();
    key_.assign(raw);
    if (auto d = dropped_.find(key_); d != dropped_.end()) {
      d->second = iter_;
      continue;
    }
    auto it = series_.find(key_);
    bool is_new = it == series_.end();
    if (is_new) {
      p.labels(parsed_);
      std::string problem = build(ctx, parsed_, built_);
      if (!problem.empty()) {
        r.error = std::move(problem);
        break;
      }
      if (built_.empty()) {
        dropped_.emplace(key_, iter_);
        continue;
      }
      it = series_.emplace(key_, cached{make_series(built_), iter_, 0}).first;
    } else if (it->second.last_iter == iter_ && !ts) {
      // The same series twice on one page at the scrape's timestamp: TSDB refuses the second sample as a
      // duplicate (ErrDuplicateSampleForTimestamp); it is counted and the scrape goes on.
      ++r.duplicates;
      ++r.added;
      continue;
    }
    it->second.last_iter = iter_;
    const double v = p.value();
    if (!is_stale_nan(v)) ++non_stale;
    if (ctx.limits.sample_limit != 0 && non_stale > ctx.limits.sample_limit) {
      // Keep parsing to report the true total; the scrape fails as a whole.
      over_limit = true;
      ++r.added;
      continue;
    }
    out.push_back(sample{it->second.s, t, v});
    // No series comes here twice per page (a repeat is a duplicate above), so cur holds each once.
    if (!ts) cur.push_back(it->second.s);
    if (is_new) ++r.series_added;
    ++r.added;
  }
  if (r.error.empty() && over_limit) r.error = "sample limit exceeded";
  if (!r.error.empty()) {
    out.resize(start);
    return r;
  }
  // Staleness: what the previous scrape had and this one lacks. A page usually keeps its series and their
  // order, which one pass confirms; otherwise a sorted copy is searched (no per-series node allocations,
  // which a hash set built on every scrape cost as much as the rest of the cache's work).
  // The search goes by label hash, as Prometheus' seriesCur/seriesPrev do, not by series object: after
  // forget_label_sets, or when a series is spelled differently on the page (label order), a new object
  // carries the same labels, and a stale marker for the old one would end the live series at its own
  // timestamp.
  if (!std::ranges::equal(cur, prev_)) {
    std::vector<std::uint64_t> now;
    now.reserve(cur.size());
    for (const auto& s : cur) now.push_back(s->hash);
    std::ranges::sort(now);
    for (const auto& s : prev_) {
      if (!std::ranges::binary_search(now, s->hash)) out.push_back(sample{s, now_ms, stale_nan()});
    }
  }
  prev_ = std::move(cur);
  done(!page.empty());
  return r;
}

void scrape_cache::done(bool flush) {
  const std::size_t count = series_.size() + dropped_.size();
  if (flush) {
    successful_count_ = count;
  } else if (count > successful_count_ * 2 + 1000) {
    flush = true;  // series churn in scrapes that kept failing: Prometheus' forced flush
  }
  if (flush) {
    std::erase_if(series_, [&](const auto& kv) { return kv.second.last_iter != iter_; });
    std::erase_if(dropped_, [&](const auto& kv) { return kv.second != iter_; });
  }
  ++iter_;
}

void scrape_cache::forget_label_sets() {
  series_.clear();
  dropped_.clear();
}

void scrape_cache::append_all_stale(std::int64_t now_ms, std::vector<sample>& out, bool with_report) {
  for (const auto& s : prev_) out.push_back(sample{s, now_ms, stale_nan()});
  prev_.clear();
  if (with_report) {
    for (const auto& s : report_series_) out.push_back(sample{s, now_ms, stale_nan()});
  }
  done(false);
}

void scrape_cache::append_report(const report& r, std::int64_t start_ms, const labels& target_labels,
                                 std::vector<sample>& out) {
  static constexpr std::string_view names[] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                               "scrape_samples_post_metric_relabeling",
                                               "scrape_series_added"};
  if (report_series_.empty()) {
    for (auto name : names) {
      labels ls = target_labels;
      set(ls, "__name__", name);
      report_series_.push_back(make_series(std::move(ls)));
    }
  }
  const double values[] = {r.up ? 1.0 : 0.0, r.duration_seconds, static_cast<double>(r.page.total),
                           static_cast<double>(r.page.added), static_cast<double>(r.page.series_added)};
  for (std::size_t i = 0; i < report_series_.size(); ++i)
    out.push_back(sample{report_series_[i], start_ms, values[i]});
}

}  // namespace sigv4::scraper
