#include "scraper/scrape_cache.hpp"

#include <snappy.h>

#include <algorithm>
#include <bit>
#include <iterator>
#include <span>

#include "scraper/scrape_cache_reuse.hpp"
#include "scraper/textparse.hpp"

namespace sigv4::scraper {

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

std::string_view get(std::span<const label_view> ls, std::string_view name) {
  for (const auto& l : ls) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool by_name(const label_view& a, const label_view& b) {
  return a.name < b.name;
}

// Buffers every target's append_page reuses (all scrape loops of a manager run on its one thread; tests run
// on theirs): after the first scrapes a sample allocates nothing.
struct scratch {
  labels parsed;                    // the page's labels of the current sample
  label_views views;                // its final labels, views into parsed, the target's labels, renamed
  std::vector<std::string> renamed;  // exported_<name> for conflicts
  labels relabeled;                 // metric_relabel_configs' working copy
  std::vector<std::uint64_t> cur;   // hashes of this page's series (no explicit timestamp), page order
  std::vector<std::uint64_t> cur_ts;
  std::vector<std::uint32_t> stored;  // out's entries whose labels go into prev_: index << 1 | stale-eligible
  std::vector<std::uint64_t> seen;  // open addressing over cur: a series twice on the page
  std::vector<std::uint64_t> over;  // series past sample_limit (not sent)
  std::vector<std::uint64_t> gone;  // known_ - cur
  std::vector<std::uint64_t> merged;
  std::string raw;                        // this page's prev_, uncompressed
  std::vector<std::uint64_t> keys;        // this page's keys_
  detail::last_page_buffers last;         // the last page's, for reuse
  std::string fingerprint;
  label_views target_views;
};

scratch& tls_scratch() {
  thread_local scratch s;
  return s;
}

// Inserts h (0 is the empty slot: a zero hash is stored as 1). False: it was there already.
bool insert_seen(std::vector<std::uint64_t>& table, std::uint64_t h) {
  if (h == 0) h = 1;
  const std::size_t mask = table.size() - 1;
  for (std::size_t at = (h ^ (h >> 29)) & mask;; at = (at + 1) & mask) {
    if (table[at] == h) return false;
    if (table[at] == 0) {
      table[at] = h;
      return true;
    }
  }
}

void reset_seen(std::vector<std::uint64_t>& table, std::size_t expected) {
  std::size_t n = 64;
  while (n < 2 * expected) n *= 2;
  table.assign(n, 0);
}

// Target labels onto the page's labels, as mutateSampleLabels: with honor_labels the page wins; without it
// the target wins and a page label it overwrites is kept as exported_<name> (exported_exported_<name>, ...
// when that is taken too), the shorter names renamed first.
void merge_target_labels(const labels& page, const labels& target, bool honor, scratch& sc) {
  auto& out = sc.views;
  out.clear();
  std::size_t i = 0, j = 0, conflicts = 0;
  while (i < page.size() && j < target.size()) {
    if (name_less(page[i].name, target[j].name)) {
      out.push_back({page[i].name, page[i].value});
      ++i;
    } else if (name_less(target[j].name, page[i].name)) {
      out.push_back({target[j].name, target[j].value});
      ++j;
    } else {
      const label& winner = honor ? page[i] : target[j];
      out.push_back({winner.name, winner.value});
      if (!honor) ++conflicts;
      ++i;
      ++j;
    }
  }
  for (; i < page.size(); ++i) out.push_back({page[i].name, page[i].value});
  for (; j < target.size(); ++j) out.push_back({target[j].name, target[j].value});
  if (conflicts == 0) return;

  // The rare path: name the page's overwritten labels.
  std::vector<const label*> lost;
  for (const auto& l : page) {
    if (!get(target, l.name).empty()) lost.push_back(&l);
  }
  std::ranges::stable_sort(lost, {}, [](const label* l) { return l->name.size(); });
  sc.renamed.assign(lost.size(), {});
  for (std::size_t k = 0; k < lost.size(); ++k) {
    std::string name = lost[k]->name;
    for (;;) {
      name.insert(0, "exported_");
      bool taken = !get(page, name).empty() || !get(target, name).empty();
      for (std::size_t m = 0; m < k && !taken; ++m) taken = sc.renamed[m] == name;
      if (!taken) break;
    }
    sc.renamed[k] = std::move(name);
  }
  for (std::size_t k = 0; k < lost.size(); ++k) out.push_back({sc.renamed[k], lost[k]->value});
  std::ranges::stable_sort(out, by_name);
}

std::string check_limits(std::span<const label_view> ls, const scrape_limits& lim) {
  if (lim.label_limit != 0 && ls.size() > lim.label_limit) {
    return "label_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
           ", number of labels: " + std::to_string(ls.size()) +
           ", limit: " + std::to_string(lim.label_limit) + ")";
  }
  for (const auto& l : ls) {
    if (lim.label_name_length_limit != 0 && l.name.size() > lim.label_name_length_limit) {
      return "label_name_length_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
             ", label name: " + std::string(l.name) + ", length: " + std::to_string(l.name.size()) +
             ", limit: " + std::to_string(lim.label_name_length_limit) + ")";
    }
    if (lim.label_value_length_limit != 0 && l.value.size() > lim.label_value_length_limit) {
      return "label_value_length_limit exceeded (metric: " + std::string(get(ls, "__name__")) +
             ", label name: " + std::string(l.name) + ", value: \"" + std::string(l.value) +
             "\", length: " + std::to_string(l.value.size()) +
             ", limit: " + std::to_string(lim.label_value_length_limit) + ")";
    }
  }
  return {};
}

// Whether a sample's final labels can have a name that is not a valid label name: the parser's names are
// valid (its lexer allows no other), and so are their exported_ forms; target labels and some relabeling
// rules may not be.
bool names_need_checking(const sample_context& ctx) {
  if (ctx.target_labels != nullptr) {
    for (const auto& l : *ctx.target_labels) {
      if (!is_valid_label_name(l.name)) return true;
    }
  }
  if (ctx.metric_relabel != nullptr) {
    for (const auto& r : *ctx.metric_relabel) {
      if (r.may_name_invalid_label()) return true;
    }
  }
  return false;
}

// The final labels of the parser's current sample into sc.views; empty views: metric relabeling dropped it.
// A non-empty result is the reason the scrape fails.
std::string build(const sample_context& ctx, bool check_names, scratch& sc) {
  static const labels none;
  merge_target_labels(sc.parsed, ctx.target_labels ? *ctx.target_labels : none, ctx.honor_labels, sc);
  const bool relabels = ctx.metric_relabel != nullptr && !ctx.metric_relabel->empty();
  if (relabels) {
    // relabeled keeps its strings from sample to sample, so this copies bytes but rarely allocates.
    sc.relabeled.resize(sc.views.size());
    for (std::size_t i = 0; i < sc.views.size(); ++i) {
      sc.relabeled[i].name.assign(sc.views[i].name);
      sc.relabeled[i].value.assign(sc.views[i].value);
    }
    if (!process(sc.relabeled, *ctx.metric_relabel)) sc.relabeled.clear();
    to_views(sc.relabeled, sc.views);
  }
  const auto& out = sc.views;
  if (out.empty()) return {};
  const std::string_view name = get(out, "__name__");
  if (name.empty()) return "__name__ label is missing";
  // Without relabeling __name__ is the parser's, a valid metric name.
  if (relabels && !valid_metric_name(name)) return "invalid metric name or label names: " + to_string(out);
  if (check_names) {
    for (const auto& l : out) {
      if (!is_valid_label_name(l.name)) return "invalid metric name or label names: " + to_string(out);
    }
  }
  return check_limits(out, ctx.limits);
}

std::uint64_t digest_step(std::uint64_t d, std::uint64_t h) {
  d = (d ^ h) * 0x9e3779b97f4a7c15ull;
  return d ^ (d >> 32);
}

// How many of the sorted `of` are not in the sorted `in`.
std::size_t count_missing(const std::vector<std::uint64_t>& of, const std::vector<std::uint64_t>& in) {
  std::size_t n = 0, j = 0;
  for (auto h : of) {
    while (j < in.size() && in[j] < h) ++j;
    if (j == in.size() || in[j] != h) ++n;
  }
  return n;
}

// set := set ∪ add, both sorted (add may repeat values).
void unite(std::vector<std::uint64_t>& set, const std::vector<std::uint64_t>& add,
           std::vector<std::uint64_t>& tmp) {
  if (add.empty()) return;
  tmp.clear();
  std::ranges::set_union(set, add, std::back_inserter(tmp));
  tmp.erase(std::unique(tmp.begin(), tmp.end()), tmp.end());
  set.assign(tmp.begin(), tmp.end());
}

using detail::record_kind;
using enum detail::record_kind;
using detail::decompress;
using detail::for_each_stale_eligible;
using detail::kind_mask;
using detail::previous_page;
using detail::put_varint;

// What turns a page's bytes into final labels, besides the bytes: equal fingerprints, equal labels.
std::uint64_t context_fingerprint(const sample_context& ctx, format f, scratch& sc) {
  std::string& b = sc.fingerprint;
  b.clear();
  auto num = [&](std::uint64_t v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); };
  num(static_cast<std::uint64_t>(f));
  num(ctx.honor_labels ? 1 : 0);
  num(ctx.limits.label_limit);
  num(ctx.limits.label_name_length_limit);
  num(ctx.limits.label_value_length_limit);
  const std::size_t rules = ctx.metric_relabel != nullptr ? ctx.metric_relabel->size() : 0;
  num(rules);
  for (std::size_t i = 0; i < rules; ++i) num((*ctx.metric_relabel)[i].fingerprint());
  if (ctx.target_labels != nullptr) {
    to_views(*ctx.target_labels, sc.target_views);
    append_flat(b, sc.target_views);
  }
  return hash_bytes(b);
}

}  // namespace

append_result scrape_cache::append_page(std::string_view page, std::string_view content_type,
                                        std::int64_t now_ms, const sample_context& ctx, sample_batch& out) {
  append_result r;
  scratch& sc = tls_scratch();
  const std::size_t start = out.size();
  sc.cur.clear();
  sc.cur_ts.clear();
  sc.stored.clear();
  sc.over.clear();
  sc.keys.clear();
  reset_seen(sc.seen, known_.size() + 16);
  std::size_t in_table = 0;
  std::size_t non_stale = 0;
  std::size_t ts_added = 0;
  std::uint64_t digest = 0;
  bool over_limit = false;

  const format fmt = format_for_content_type(content_type);
  const std::uint64_t context = context_fingerprint(ctx, fmt, sc);
  previous_page last(keys_, prev_, context == keys_context_, sc.last);
  const bool check_names = names_need_checking(ctx);
  // This page's samples are the last page's, one for one (so keys_ and prev_ stay as they are).
  bool same = context == keys_context_;
  std::uint64_t key = 0;
  auto record = [&](record_kind k) {
    const std::size_t at = sc.keys.size();
    sc.keys.push_back(key | k);
    same = same && at < keys_.size() && keys_[at] == (key | k);
  };

  // Asked by the parser before it lexes a sample's label text: a known series' text need not be lexed.
  struct probe {
    previous_page& last;
    const std::vector<std::uint64_t>& keys;  // this page's so far: its size is the sample's position
    std::uint64_t key = 0;
    std::ptrdiff_t found = -1;
    static bool known(void* self, std::string_view series) {
      auto& pr = *static_cast<probe*>(self);
      pr.key = hash_bytes(series) & ~kind_mask;
      pr.found = pr.last.find(pr.keys.size(), pr.key);
      if (pr.found < 0) return false;
      const auto k = pr.last.kind(pr.found);
      return k == dropped || (k != uncached && !pr.last.labels(pr.found).empty());
    }
  } pr{last, sc.keys};

  parser p(page, fmt);
  if (!keys_.empty() && context == keys_context_) p.set_known_series(&probe::known, &pr);
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
    std::optional<std::int64_t> ts = ctx.honor_timestamps ? p.timestamp_ms() : std::nullopt;
    const std::int64_t t = ts ? *ts : now_ms;
    // Equal bytes, equal final labels (while the context is the same): those of the last page's sample.
    std::ptrdiff_t j = -1;
    if (p.labels_skipped()) {
      key = pr.key;
      j = pr.found;
    } else {
      key = hash_bytes(p.series()) & ~kind_mask;
      j = last.find(sc.keys.size(), key);
    }
    std::string_view reused;
    if (j >= 0) {
      const auto k = last.kind(j);
      if (k == dropped) {
        ++r.reused;
        record(dropped);
        continue;
      }
      if (k != uncached) reused = last.labels(j);
    }
    std::uint64_t h = 0;
    double v = 0;
    if (!reused.empty()) {
      ++r.reused;
      v = p.value();
      h = hash_flat(reused);
      out.add_flat(reused, h, t, v);
    } else {
      p.labels(sc.parsed);
      std::string problem = build(ctx, check_names, sc);
      if (!problem.empty()) {
        r.error = std::move(problem);
        break;
      }
      if (sc.views.empty()) {  // dropped by metric_relabel_configs
        record(dropped);
        continue;
      }
      v = p.value();
      // Added first (its hash is that of the bytes just written), taken back if it must not stay.
      h = out.add(sc.views, t, v);
    }
    if (!ts) {
      if (2 * (in_table + 1) > sc.seen.size()) {
        // More series than the last page had: a bigger table, refilled.
        reset_seen(sc.seen, 2 * sc.seen.size());
        for (auto c : sc.cur) insert_seen(sc.seen, c);
      }
      if (!insert_seen(sc.seen, h)) {
        // The same series twice on one page at the scrape's timestamp: TSDB refuses the second sample as a
        // duplicate (ErrDuplicateSampleForTimestamp); it is counted and the scrape goes on.
        ++r.duplicates;
        ++r.added;
        out.truncate(out.size() - 1);
        record(uncached);
        continue;
      }
      ++in_table;
    }
    if (!is_stale_nan(v)) ++non_stale;
    if (ctx.limits.sample_limit != 0 && non_stale > ctx.limits.sample_limit) {
      // Keep parsing to report the true total; the scrape fails as a whole.
      over_limit = true;
      ++r.added;
      if (!ts) sc.over.push_back(h);
      out.truncate(out.size() - 1);
      record(uncached);
      continue;
    }
    const auto index = static_cast<std::uint32_t>(out.size() - 1);
    if (ts) {
      sc.cur_ts.push_back(h);
      if (!std::ranges::binary_search(known_ts_, h)) ++ts_added;
      sc.stored.push_back(index << 1);
      record(stored_ts);
    } else {
      sc.stored.push_back(index << 1 | 1);
      sc.cur.push_back(h);
      digest = digest_step(digest, h);
      record(stored);
    }
    ++r.added;
  }
  if (r.error.empty() && over_limit) r.error = "sample limit exceeded";
  std::ranges::sort(sc.cur_ts);
  sc.cur_ts.erase(std::unique(sc.cur_ts.begin(), sc.cur_ts.end()), sc.cur_ts.end());
  if (!r.error.empty()) {
    out.truncate(start);
    // As Prometheus' cache, which keeps what a failed page added until a successful page flushes it: the
    // report counts the page's new series, and they are not new on the next page. (keys_ and prev_ stay
    // those of the last successful page.)
    std::ranges::sort(sc.cur);
    r.series_added = ts_added + count_missing(sc.cur, known_);
    std::ranges::sort(sc.over);
    unite(known_, sc.cur, sc.merged);
    unite(known_, sc.over, sc.merged);
    unite(known_ts_, sc.cur_ts, sc.merged);
    return r;
  }
  r.series_added = ts_added;
  if (page.empty()) {
    // As 2.42's iterDone(false) after an empty body: every series goes stale, but the cache keeps them.
    append_all_stale(now_ms, out, false);
    return r;
  }
  known_ts_.swap(sc.cur_ts);
  same = same && sc.keys.size() == keys_.size();

  if (digest != digest_ || sc.cur.size() != known_.size()) {
    // Not the same series in the same order: series new to the target, and those it had that this page
    // lacks (they get stale markers).
    std::ranges::sort(sc.cur);
    sc.gone.clear();
    std::size_t i = 0, j = 0;
    while (i < sc.cur.size() || j < known_.size()) {
      if (j == known_.size() || (i < sc.cur.size() && sc.cur[i] < known_[j])) {
        ++r.series_added;
        ++i;
      } else if (i == sc.cur.size() || known_[j] < sc.cur[i]) {
        sc.gone.push_back(known_[j++]);
      } else {
        ++i;
        ++j;
      }
    }
    if (prev_live_ && !sc.gone.empty()) {
      for_each_stale_eligible(last.raw(), [&](std::string_view flat) {
        const std::uint64_t h = hash_flat(flat);
        if (std::ranges::binary_search(sc.gone, h)) out.add_flat(flat, h, now_ms, stale_nan());
      });
    }
    known_.assign(sc.cur.begin(), sc.cur.end());
    digest_ = digest;
  }
  if (!same) {
    // This page's label sets, for the next stale markers and reuse. (Appended stale markers are past the
    // stored entries.)
    sc.raw.clear();
    for (auto s : sc.stored) {
      const auto flat = out.flat_labels(out.entries()[s >> 1]);
      put_varint(sc.raw, flat.size() << 1 | (s & 1));
      sc.raw.append(flat);
    }
    prev_.clear();
    snappy::Compress(sc.raw.data(), sc.raw.size(), &prev_);
    prev_.shrink_to_fit();
    keys_.assign(sc.keys.begin(), sc.keys.end());
    keys_context_ = context;
  }
  prev_live_ = true;
  return r;
}

void scrape_cache::append_all_stale(std::int64_t now_ms, sample_batch& out, bool with_report) {
  if (prev_live_) {
    scratch& sc = tls_scratch();
    if (decompress(prev_, sc.last.raw)) {
      for_each_stale_eligible(sc.last.raw, [&](std::string_view flat) {
        out.add_flat(flat, hash_flat(flat), now_ms, stale_nan());
      });
    }
    prev_live_ = false;
  }
  if (with_report) {
    for (const auto& flat : report_) out.add_flat(flat, hash_flat(flat), now_ms, stale_nan());
  }
}

void scrape_cache::append_report(const report& r, std::int64_t start_ms, const labels& target_labels,
                                 sample_batch& out) {
  static constexpr std::string_view names[] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                                               "scrape_samples_post_metric_relabeling",
                                               "scrape_series_added"};
  const double values[] = {r.up ? 1.0 : 0.0, r.duration_seconds, static_cast<double>(r.page.total),
                           static_cast<double>(r.page.added), static_cast<double>(r.page.series_added)};
  label_views vs;
  report_.resize(std::size(names));
  for (std::size_t i = 0; i < std::size(names); ++i) {
    to_views(target_labels, vs);
    std::erase_if(vs, [](const label_view& l) { return l.name == "__name__"; });
    vs.insert(std::ranges::lower_bound(vs, label_view{"__name__", {}}, by_name), label_view{"__name__", names[i]});
    report_[i].clear();
    append_flat(report_[i], vs);
    out.add_flat(report_[i], hash_flat(report_[i]), start_ms, values[i]);
  }
}

std::size_t scrape_cache::memory_bytes() const {
  std::size_t n = (known_.capacity() + known_ts_.capacity() + keys_.capacity()) * sizeof(std::uint64_t) +
                  prev_.capacity();
  for (const auto& s : report_) n += s.capacity();
  return n;
}

}  // namespace sigv4::scraper
