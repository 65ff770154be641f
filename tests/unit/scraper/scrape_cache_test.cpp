// scraper/scrape_cache: ports of Prometheus 2.42's scrape/scrape_test.go (TestScrapeLoopAppend*,
// TestScrapeLoopAppendStaleness, TestScrapeLoopRunCreatesStaleMarkersOn*, TestScrapeLoopCache*,
// TestScrapeLoopLabelLimit, ...) with scrapeAndReport's sequence spelled out: append_page, then on an error
// append_all_stale, then append_report. The expectations are Prometheus', not read off our code.
#include "scraper/scrape_cache.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <variant>

namespace sigv4::scraper {
namespace {

labels L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  labels ls;
  for (const auto& [k, v] : kv) ls.push_back({k, v});
  sort_labels(ls);
  return ls;
}

relabel_rule rule(std::vector<std::string> source_labels, std::string regex, relabel_action action) {
  relabel_spec s;
  s.source_labels = std::move(source_labels);
  s.regex = std::move(regex);
  s.action = action;
  auto r = compile(s);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<relabel_rule>(std::move(r));
}

// What the tests read of a sample: its decoded labels, its hash, its time and value.
struct test_series {
  labels lbls;
  std::uint64_t hash = 0;
};
struct sample {
  std::shared_ptr<const test_series> s;
  std::int64_t t_ms = 0;
  double v = 0;
};

void decode_into(const sample_batch& b, std::vector<sample>& out) {
  for (const auto& e : b.entries()) {
    auto ts = std::make_shared<test_series>();
    ts->lbls = to_labels(b.flat_labels(e));
    ts->hash = e.hash;
    out.push_back({std::move(ts), e.t_ms, e.v});
  }
}

// scrape_cache with the tests' sample vectors: appends what the cache put into its batch.
struct test_cache {
  scrape_cache c;
  sample_batch b;

  append_result append_page(std::string_view page, std::string_view content_type, std::int64_t now_ms,
                            const sample_context& ctx, std::vector<sample>& out) {
    b.clear();
    auto r = c.append_page(page, content_type, now_ms, ctx, b);
    decode_into(b, out);
    return r;
  }
  void append_all_stale(std::int64_t now_ms, std::vector<sample>& out, bool with_report) {
    b.clear();
    c.append_all_stale(now_ms, b, with_report);
    decode_into(b, out);
  }
  void append_report(const scrape_cache::report& r, std::int64_t start_ms, const labels& target,
                     std::vector<sample>& out) {
    b.clear();
    c.append_report(r, start_ms, target, b);
    decode_into(b, out);
  }
  std::size_t series_count() const { return c.series_count(); }
  std::size_t memory_bytes() const { return c.memory_bytes(); }
};

struct got {
  std::string lbls;
  std::int64_t t;
  double v;
};

std::vector<got> view(const std::vector<sample>& out) {
  std::vector<got> r;
  for (const auto& s : out) r.push_back({to_string(s.s->lbls), s.t_ms, s.v});
  return r;
}

sample_context make_ctx(const labels* target = nullptr, bool honor_labels = false,
                        bool honor_timestamps = true, const relabel_rules* metric_relabel = nullptr,
                        scrape_limits limits = {}) {
  sample_context c;
  c.target_labels = target;
  c.honor_labels = honor_labels;
  c.honor_timestamps = honor_timestamps;
  c.metric_relabel = metric_relabel;
  c.limits = limits;
  return c;
}

scrape_limits limit(std::size_t sample, std::size_t label = 0, std::size_t name_len = 0,
                    std::size_t value_len = 0) {
  scrape_limits l;
  l.sample_limit = sample;
  l.label_limit = label;
  l.label_name_length_limit = name_len;
  l.label_value_length_limit = value_len;
  return l;
}

constexpr std::int64_t t0 =
    946688400000;  // 2000-01-01T01:00:00Z, as TestScrapeLoopAppendForConflictingPrefixedLabels

// One scrape as scrapeAndReport does it: the page (or a failure), stale markers on an error, the report.
struct loop {
  test_cache cache;
  labels target;
  sample_context ctx;
  std::vector<sample> out;  // everything appended so far

  loop() { ctx.target_labels = &target; }
  append_result scrape(std::string_view page, std::int64_t t, bool fetch_failed = false) {
    std::vector<sample> b;
    append_result r;
    if (fetch_failed) {
      r.error = "scrape failed";
    } else {
      r = cache.append_page(page, "", t, ctx, b);
    }
    if (!r.error.empty()) cache.append_all_stale(t, b, false);
    scrape_cache::report rep;
    rep.up = r.error.empty();
    rep.duration_seconds = 0.5;
    rep.page = r;
    cache.append_report(rep, t, target, b);
    out.insert(out.end(), b.begin(), b.end());
    return r;
  }
};

// --- TestScrapeLoopAppend
// -----------------------------------------------------------------------------------

struct append_case {
  const char* title;
  bool honor;
  const char* page;
  labels target;
  std::string want;
  double want_v;
};

TEST(scrape_loop_append, label_handling_cases) {
  const append_case cases[] = {
      {"label name collision", false, "metric{n=\"1\"} 0", L({{"n", "2"}}),
       R"({__name__="metric", exported_n="1", n="2"})", 0},
      {"exported label from discovery is not overwritten", false, "metric 0",
       L({{"n", "2"}, {"exported_n", "2"}}), R"({__name__="metric", exported_n="2", n="2"})", 0},
      {"empty labels deleted", false, "metric{n=\"\"} 0", {}, R"({__name__="metric"})", 0},
      {"honor labels", true, "metric{n1=\"1\" n2=\"2\"} 0", L({{"n1", "0"}}),
       R"({__name__="metric", n1="1", n2="2"})", 0},
      {"honor labels adds what the page lacks", true, "metric{n1=\"1\"} 0", L({{"n1", "0"}, {"job", "j"}}),
       R"({__name__="metric", job="j", n1="1"})", 0},
  };
  for (const auto& c : cases) {
    test_cache cache;
    sample_context ctx = make_ctx(&c.target, c.honor);
    std::vector<sample> out;
    auto r = cache.append_page(c.page, "", t0, ctx, out);
    ASSERT_TRUE(r.error.empty()) << c.title << ": " << r.error;
    ASSERT_EQ(out.size(), 1u) << c.title;
    EXPECT_EQ(to_string(out[0].s->lbls), c.want) << c.title;
    EXPECT_EQ(out[0].t_ms, t0);
    EXPECT_EQ(out[0].v, c.want_v);
    EXPECT_EQ(out[0].s->hash, hash(out[0].s->lbls));
  }
}

TEST(scrape_loop_append, nan_is_a_normal_nan_not_a_stale_marker) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("metric NaN\n", "", t0, ctx, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::isnan(out[0].v));
  EXPECT_FALSE(is_stale_nan(out[0].v));
}

TEST(scrape_loop_append, conflicting_prefixed_labels) {
  struct c {
    const char* name;
    labels target;
    const char* page;
    labels want;
  };
  const c cases[] = {
      {"one target label collides with existing label", L({{"foo", "2"}}), "metric{foo=\"1\"} 0",
       L({{"__name__", "metric"}, {"exported_foo", "1"}, {"foo", "2"}})},
      {"plus target label already with prefix exported", L({{"foo", "2"}, {"exported_foo", "3"}}),
       "metric{foo=\"1\"} 0",
       L({{"__name__", "metric"}, {"exported_exported_foo", "1"}, {"exported_foo", "3"}, {"foo", "2"}})},
      {"plus existing label already with prefix exported", L({{"foo", "3"}}),
       "metric{foo=\"1\" exported_foo=\"2\"} 0",
       L({{"__name__", "metric"}, {"exported_exported_foo", "1"}, {"exported_foo", "2"}, {"foo", "3"}})},
      {"both already with prefix exported", L({{"exported_foo", "2"}}), "metric{exported_foo=\"1\"} 0",
       L({{"__name__", "metric"}, {"exported_exported_foo", "1"}, {"exported_foo", "2"}})},
      {"two target labels collide, with and without prefix", L({{"foo", "3"}, {"exported_foo", "4"}}),
       "metric{foo=\"1\" exported_foo=\"2\"} 0",
       L({{"__name__", "metric"},
          {"exported_exported_foo", "1"},
          {"exported_exported_exported_foo", "2"},
          {"exported_foo", "4"},
          {"foo", "3"}})},
      {"extreme example",
       L({{"foo", "0"}, {"exported_exported_foo", "1"}, {"exported_exported_exported_foo", "2"}}),
       "metric{foo=\"3\" exported_foo=\"4\" exported_exported_exported_foo=\"5\"} 0",
       L({{"__name__", "metric"},
          {"exported_exported_exported_exported_exported_foo", "5"},
          {"exported_exported_exported_exported_foo", "3"},
          {"exported_exported_exported_foo", "2"},
          {"exported_exported_foo", "1"},
          {"exported_foo", "4"},
          {"foo", "0"}})},
  };
  for (const auto& tc : cases) {
    test_cache cache;
    sample_context ctx = make_ctx(&tc.target);
    std::vector<sample> out;
    auto r = cache.append_page(tc.page, "", t0, ctx, out);
    ASSERT_TRUE(r.error.empty()) << tc.name << ": " << r.error;
    ASSERT_EQ(out.size(), 1u) << tc.name;
    EXPECT_EQ(out[0].s->lbls, tc.want) << tc.name << ": " << to_string(out[0].s->lbls);
    EXPECT_EQ(out[0].t_ms, t0);
  }
}

TEST(scrape_loop_append, honor_timestamps) {
  for (bool honor : {true, false}) {
    test_cache cache;
    sample_context ctx = make_ctx(nullptr, false, honor);
    std::vector<sample> out;
    cache.append_page("a 1 1000\nb 2\n", "", t0, ctx, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].t_ms, honor ? 1000 : t0);
    EXPECT_EQ(out[1].t_ms, t0);
  }
}

TEST(scrape_loop_append, fail_with_invalid_labels_after_relabel) {
  // TestScrapeLoopFailWithInvalidLabelsAfterRelabel: labelmap makes a label named "012".
  labels target = L({{"pod_label_invalid_012", "test"}});
  relabel_rules rules{rule({}, "pod_label_invalid_(.+)", relabel_action::labelmap)};
  test_cache cache;
  sample_context ctx = make_ctx(&target, true, true, &rules);
  std::vector<sample> out;
  auto r = cache.append_page("test_metric 1\n", "", t0, ctx, out);
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(r.error.starts_with("invalid metric name or label names")) << r.error;
  EXPECT_EQ(r.total, 1u);
  EXPECT_EQ(r.added, 0u);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_TRUE(out.empty());
}

TEST(scrape_loop_append, invalid_names_from_target_labels_or_rules_fail_the_page) {
  // The parser's names are valid by construction and left unchecked; what target labels and rules name is
  // checked as scrapeLoop.append checks every name.
  auto fails = [](const labels& target, const relabel_rules* rules) {
    test_cache cache;
    sample_context ctx = make_ctx(&target, false, true, rules);
    std::vector<sample> out;
    auto r = cache.append_page("m{a=\"x\"} 1\n", "", t0, ctx, out);
    return r.error.starts_with("invalid metric name or label names") && out.empty();
  };
  EXPECT_TRUE(fails(L({{"1bad", "v"}}), nullptr));
  EXPECT_FALSE(fails(L({{"good", "v"}}), nullptr));
  relabel_spec lower;
  lower.source_labels = {"a"};
  lower.target_label = "${1}";  // 2.42 takes it as a literal name
  lower.action = relabel_action::lowercase;
  auto compiled = compile(lower);
  ASSERT_TRUE(std::holds_alternative<relabel_rule>(compiled)) << std::get<std::string>(compiled);
  const relabel_rules case_rule{std::get<relabel_rule>(compiled)};
  EXPECT_TRUE(fails({}, &case_rule));
  relabel_spec rename;
  rename.source_labels = {"a"};
  rename.target_label = "__name__";
  rename.replacement = "0m";
  auto renamed = compile(rename);
  ASSERT_TRUE(std::holds_alternative<relabel_rule>(renamed));
  const relabel_rules rename_rule{std::get<relabel_rule>(renamed)};
  EXPECT_TRUE(fails({}, &rename_rule)) << "an invalid metric name made by a rule";
}

TEST(scrape_loop_append, metric_relabel_drop_is_not_added_and_not_a_series) {
  relabel_rules rules{rule({"deleteme"}, ".+", relabel_action::drop)};
  test_cache cache;
  sample_context ctx = make_ctx(nullptr, false, true, &rules);
  for (int i = 0; i < 2; ++i) {
    std::vector<sample> out;
    auto r = cache.append_page("a 1\nb{deleteme=\"yes\"} 1\n", "", t0 + i * 1000, ctx, out);
    ASSERT_TRUE(r.error.empty());
    EXPECT_EQ(r.total, 2u);
    EXPECT_EQ(r.added, 1u);
    EXPECT_EQ(r.series_added, i == 0 ? 1u : 0u);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(get(out[0].s->lbls, "__name__"), "a");
    EXPECT_EQ(cache.series_count(), 1u);  // the dropped series is not a series
  }
}

TEST(scrape_loop_append, discard_duplicate_label_names) {
  // TestScrapeLoopDiscardDuplicateLabels: a bad series fails the whole page, a good one alone works.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  auto r = cache.append_page("test_metric{le=\"500\"} 1\ntest_metric{le=\"600\",le=\"700\"} 1\n", "", t0, ctx,
                             out);
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(out.empty());
  cache.append_all_stale(t0, out, false);  // as scrapeAndReport's append of an empty page after a failure
  EXPECT_TRUE(out.empty());
  r = cache.append_page("test_metric{le=\"500\"} 1\n", "", t0 + 1000, ctx, out);
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(get(out[0].s->lbls, "le"), "500");
}

TEST(scrape_loop_append, changing_metric_string_is_one_series_without_stale_markers) {
  // TestScrapeLoop_ChangingMetricString: the same labels in another order are the same series, so the second
  // scrape marks nothing stale.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("metric_a{a=\"1\",b=\"1\"} 1", "", t0, ctx, out);
  cache.append_page("metric_a{b=\"1\",a=\"1\"} 2", "", t0 + 60000, ctx, out);
  auto g = view(out);
  ASSERT_EQ(g.size(), 2u) << (g.size() > 2 ? g[2].lbls : "");
  EXPECT_EQ(g[0].lbls, R"({__name__="metric_a", a="1", b="1"})");
  EXPECT_EQ(g[1].lbls, g[0].lbls);
  EXPECT_EQ(g[1].t, t0 + 60000);
  EXPECT_EQ(g[1].v, 2);
}

// --- limits ----------------------------------------------------------------------------------------------

TEST(scrape_loop_append, sample_limit_fails_the_scrape_and_still_counts) {
  // TestScrapeLoopAppendSampleLimit (limit 1; the mutator drops series with a "deleteme" label).
  relabel_rules rules{rule({"deleteme"}, ".+", relabel_action::drop)};
  test_cache cache;
  sample_context ctx = make_ctx(nullptr, false, true, &rules, limit(1));
  std::vector<sample> out;
  auto r = cache.append_page("metric_a 1\nmetric_b 1\nmetric_c 1\n", "", t0, ctx, out);
  EXPECT_EQ(r.error, "sample limit exceeded");
  EXPECT_EQ(r.total, 3u);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.series_added, 1u);
  // Prometheus rolls the appender back: nothing of a failed page is kept.
  EXPECT_TRUE(out.empty());
  cache.append_all_stale(t0, out, false);  // the empty append scrapeAndReport makes after a failed one
  EXPECT_TRUE(out.empty());

  r = cache.append_page(
      "metric_a 1\nmetric_b 1\nmetric_c{deleteme=\"yes\"} 1\nmetric_d 1\nmetric_e 1\nmetric_f 1\nmetric_g 1\n"
      "metric_h{deleteme=\"yes\"} 1\nmetric_i{deleteme=\"yes\"} 1\n",
      "", t0 + 1000, ctx, out);
  EXPECT_EQ(r.error, "sample limit exceeded");
  EXPECT_EQ(r.total, 9u);
  EXPECT_EQ(r.added, 6u);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_TRUE(out.empty());
}

TEST(scrape_loop_append, sample_limit_at_the_limit_passes_and_stale_markers_do_not_count) {
  test_cache cache;
  sample_context ctx = make_ctx(nullptr, false, true, nullptr, limit(2));
  std::vector<sample> out;
  EXPECT_TRUE(cache.append_page("a 1\nb 1\n", "", t0, ctx, out).error.empty());
  out.clear();
  // limitAppender skips only StaleNaN: the two markers for a and b are not samples over the limit.
  auto r = cache.append_page("c 1\nd 1\n", "", t0 + 1000, ctx, out);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(out.size(), 4u);
  // A normal NaN is a sample like any other.
  r = cache.append_page("c 1\nd 1\ne NaN\n", "", t0 + 2000, ctx, out);
  EXPECT_EQ(r.error, "sample limit exceeded");
}

TEST(scrape_loop_append, label_limits) {
  // TestScrapeLoopLabelLimit.
  struct c {
    const char* title;
    const char* page;
    labels target;
    scrape_limits lim;
    bool expect_err;
  };
  const c cases[] = {
      {"valid number of labels", "metric{l1=\"1\", l2=\"2\"} 0", {}, limit(0, 5), false},
      {"too many labels",
       "metric{l1=\"1\", l2=\"2\", l3=\"3\", l4=\"4\", l5=\"5\", l6=\"6\"} 0",
       {},
       limit(0, 5),
       true},
      {"too many labels including discovery labels", "metric{l1=\"1\", l2=\"2\", l3=\"3\", l4=\"4\"} 0",
       L({{"l5", "5"}, {"l6", "6"}}), limit(0, 5), true},
      {"valid labels name length", "metric{l1=\"1\", l2=\"2\"} 0", {}, limit(0, 0, 10), false},
      {"label name too long", "metric{label_name_too_long=\"0\"} 0", {}, limit(0, 0, 10), true},
      {"discovery label name too long", "metric{l1=\"1\", l2=\"2\"} 0", L({{"label_name_too_long", "0"}}),
       limit(0, 0, 10), true},
      {"valid labels value length", "metric{l1=\"1\", l2=\"2\"} 0", {}, limit(0, 0, 0, 10), false},
      {"label value too long", "metric{l1=\"label_value_too_long\"} 0", {}, limit(0, 0, 0, 10), true},
      {"discovery label value too long", "metric{l1=\"1\", l2=\"2\"} 0", L({{"l1", "label_value_too_long"}}),
       limit(0, 0, 0, 10), true},
  };
  for (const auto& tc : cases) {
    test_cache cache;
    sample_context ctx = make_ctx(&tc.target, false, true, nullptr, tc.lim);
    std::vector<sample> out;
    auto r = cache.append_page(tc.page, "", t0, ctx, out);
    EXPECT_EQ(!r.error.empty(), tc.expect_err) << tc.title << ": " << r.error;
    if (tc.expect_err) {
      EXPECT_TRUE(out.empty()) << tc.title;
    }
  }
}

TEST(scrape_loop_append, label_limit_messages_in_prometheus_words) {
  test_cache cache;
  sample_context ctx = make_ctx(nullptr, false, true, nullptr, limit(0, 2));
  std::vector<sample> out;
  auto r = cache.append_page("metric{l1=\"1\", l2=\"2\"} 0", "", t0, ctx, out);
  EXPECT_EQ(r.error, "label_limit exceeded (metric: metric, number of labels: 3, limit: 2)");
  test_cache c2;
  ctx.limits = limit(0, 0, 5);
  r = c2.append_page("metric{label_x=\"1\"} 0", "", t0, ctx, out);
  EXPECT_EQ(r.error,
            "label_name_length_limit exceeded (metric: metric, label name: __name__, length: 8, limit: 5)");
}

// --- duplicates
// ----------------------------------------------------------------------------------------------

TEST(scrape_loop_append, a_series_twice_on_one_page_keeps_the_first_and_counts) {
  // TSDB refuses the second sample at the same timestamp (ErrDuplicateSampleForTimestamp, or silently at
  // commit); scrapeLoop.append still counts it in added and goes on.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  auto r = cache.append_page("a 1\nb 5\na 2\n", "", t0, ctx, out);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.total, 3u);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.series_added, 2u);
  EXPECT_EQ(r.duplicates, 1u);
  auto g = view(out);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].lbls, R"({__name__="a"})");
  EXPECT_EQ(g[0].v, 1);
  EXPECT_EQ(g[1].lbls, R"({__name__="b"})");
}

// --- staleness
// -----------------------------------------------------------------------------------------------

TEST(scrape_loop_append, staleness) {
  // TestScrapeLoopAppendStaleness: an empty page marks the series stale at the scrape's time.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("metric_a 1\n", "", t0, ctx, out);
  cache.append_page("", "", t0 + 1000, ctx, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].s->lbls, L({{"__name__", "metric_a"}}));
  EXPECT_EQ(out[0].t_ms, t0);
  EXPECT_EQ(out[0].v, 1);
  EXPECT_EQ(out[1].s->lbls, out[0].s->lbls);
  EXPECT_EQ(out[1].t_ms, t0 + 1000);
  EXPECT_TRUE(is_stale_nan(out[1].v));
  // Once marked, not again.
  out.clear();
  cache.append_page("", "", t0 + 2000, ctx, out);
  EXPECT_TRUE(out.empty());
}

TEST(scrape_loop_append, only_vanished_series_get_stale_markers) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("a 1\nb 1\nc 1\n", "", t0, ctx, out);
  out.clear();
  cache.append_page("c 2\na 2\n", "", t0 + 1000, ctx, out);
  auto g = view(out);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[2].lbls, R"({__name__="b"})");
  EXPECT_TRUE(is_stale_nan(g[2].v));
  EXPECT_EQ(g[2].t, t0 + 1000);
}

TEST(scrape_loop_append, no_staleness_if_timestamp) {
  // TestScrapeLoopAppendNoStalenessIfTimestamp.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("metric_a 1 1000\n", "", t0, ctx, out);
  cache.append_page("", "", t0 + 1000, ctx, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].t_ms, 1000);
  EXPECT_EQ(out[0].v, 1);
}

TEST(scrape_loop_run, creates_stale_markers_on_failed_scrape) {
  // TestScrapeLoopRunCreatesStaleMarkersOnFailedScrape: one success, then four failures: 1 sample, 1 stale
  // marker after the first failure, 5 report samples per scrape = 27.
  loop l;
  l.scrape("metric_a 42\n", t0);
  for (int i = 1; i < 5; ++i) l.scrape("", t0 + i * 10, true);
  ASSERT_EQ(l.out.size(), 27u);
  EXPECT_EQ(l.out[0].v, 42.0);
  EXPECT_TRUE(is_stale_nan(l.out[6].v));
  EXPECT_EQ(get(l.out[6].s->lbls, "__name__"), "metric_a");
  EXPECT_EQ(l.out[6].t_ms, t0 + 10);
  EXPECT_EQ(get(l.out[7].s->lbls, "__name__"), "up");
  EXPECT_EQ(l.out[7].v, 0.0);
}

TEST(scrape_loop_run, creates_stale_markers_on_parse_failure) {
  // TestScrapeLoopRunCreatesStaleMarkersOnParseFailure: the second page does not parse.
  loop l;
  l.scrape("metric_a 42\n", t0);
  auto r = l.scrape("7&-\n", t0 + 10);
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(r.error.starts_with("line 1: ")) << r.error;
  ASSERT_EQ(l.out.size(), 12u);
  EXPECT_EQ(l.out[0].v, 42.0);
  EXPECT_TRUE(is_stale_nan(l.out[6].v));
  EXPECT_EQ(get(l.out[6].s->lbls, "__name__"), "metric_a");
}

TEST(scrape_loop_run, parse_error_after_good_lines_keeps_none_of_them) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  out.push_back(sample{});  // what the caller had before stays
  auto r = cache.append_page("a 1\nb 2\nc{ 3\n", "", t0, ctx, out);
  EXPECT_TRUE(r.error.starts_with("line 3: ")) << r.error;
  EXPECT_EQ(out.size(), 1u);
}

TEST(scrape_loop_run, cache_across_failures) {
  // TestScrapeLoopCache: success (a, b), failure, success (a), failure: 26 samples; a and b stay cached over
  // the failure, b is gone after the success without it.
  loop l;
  l.scrape("metric_a 42\nmetric_b 43\n", t0);
  EXPECT_EQ(l.cache.series_count(), 2u);
  l.scrape("", t0 + 10, true);
  EXPECT_EQ(l.cache.series_count(), 2u);
  l.scrape("metric_a 44\n", t0 + 20);
  EXPECT_EQ(l.cache.series_count(), 1u);
  l.scrape("", t0 + 30, true);
  EXPECT_EQ(l.out.size(), 26u);
}

TEST(scrape_loop_run, cache_memory_exhaustion_protection) {
  // TestScrapeLoopCacheMemoryExhaustionProtection: pages of 500 new series that fail to parse must not grow
  // the cache without bound (Prometheus forces a flush at twice the last good size plus 1000; here a failed
  // page keeps nothing at all).
  loop l;
  for (int n = 1; n < 5; ++n) {
    std::string page;
    for (int i = 0; i < 500; ++i) page += "metric_" + std::to_string(i) + "_" + std::to_string(n) + " 42\n";
    page += "&";
    auto r = l.scrape(page, t0 + n * 10);
    ASSERT_FALSE(r.error.empty());
    EXPECT_LE(l.cache.series_count(), 2000u);
  }
  EXPECT_LE(l.cache.series_count(), 2000u);
  // A good page then leaves only its own series.
  l.scrape("x 1\n", t0 + 100);
  EXPECT_EQ(l.cache.series_count(), 1u);
}

// --- report series
// ------------------------------------------------------------------------------------------

TEST(scrape_report, synthetic_series_with_target_labels) {
  loop l;
  l.target = L({{"job", "j"}, {"instance", "h:1"}});
  relabel_rules rules{rule({"__name__"}, "b", relabel_action::drop)};
  l.ctx.metric_relabel = &rules;
  l.scrape("a 1\nb 2\nc 3\n", t0);
  auto g = view(l.out);
  ASSERT_EQ(g.size(), 7u);
  const char* names[] = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                         "scrape_samples_post_metric_relabeling", "scrape_series_added"};
  const double want[] = {1, 0.5, 3, 2, 2};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(l.out[2 + i].s->lbls, L({{"__name__", names[i]}, {"job", "j"}, {"instance", "h:1"}}));
    EXPECT_EQ(l.out[2 + i].t_ms, t0);
    EXPECT_EQ(l.out[2 + i].v, want[i]) << names[i];
  }
  // The same series scrape after scrape; series_added is 0 for a page of known series.
  l.scrape("a 1\nb 2\nc 3\n", t0 + 1000);
  ASSERT_EQ(l.out.size(), 14u);
  EXPECT_EQ(l.out[9].s->lbls, l.out[2].s->lbls);
  EXPECT_EQ(l.out[9].s->hash, l.out[2].s->hash);
  EXPECT_EQ(l.out[13].v, 0.0);
}

TEST(scrape_report, a_page_exposing_up_is_not_the_synthetic_up) {
  // Prometheus keys its report series apart ("up\xff"): a scraped `up` gets the target labels as any series.
  loop l;
  l.target = L({{"job", "j"}});
  l.scrape("up{job=\"other\"} 7\n", t0);
  ASSERT_EQ(l.out.size(), 6u);
  EXPECT_EQ(l.out[0].s->lbls, L({{"__name__", "up"}, {"exported_job", "other"}, {"job", "j"}}));
  EXPECT_EQ(l.out[1].s->lbls, L({{"__name__", "up"}, {"job", "j"}}));
  EXPECT_NE(l.out[0].s->hash, l.out[1].s->hash);
}

TEST(scrape_report, target_removal_marks_series_and_report_stale) {
  // endOfRunStaleness: the page's series and reportStale's five series, all at the given time.
  loop l;
  l.target = L({{"job", "j"}});
  l.scrape("a 1\nb 2\n", t0);
  std::vector<sample> out;
  l.cache.append_all_stale(t0 + 1000, out, true);
  ASSERT_EQ(out.size(), 7u);
  for (const auto& s : out) {
    EXPECT_TRUE(is_stale_nan(s.v));
    EXPECT_EQ(s.t_ms, t0 + 1000);
    EXPECT_EQ(get(s.s->lbls, "job"), "j");
  }
  EXPECT_EQ(get(out[2].s->lbls, "__name__"), "up");
  // without the report: only the page's series (and here none left)
  out.clear();
  l.cache.append_all_stale(t0 + 2000, out, false);
  EXPECT_TRUE(out.empty());
}

// --- reload ------------------------------------------------------------------------------------------------

TEST(reload, new_target_labels_stale_the_old_series_only) {
  test_cache cache;
  labels target = L({{"job", "a"}});
  sample_context ctx = make_ctx(&target);
  std::vector<sample> out;
  cache.append_page("m 1\n", "", t0, ctx, out);
  out.clear();
  labels target2 = L({{"job", "b"}});
  ctx.target_labels = &target2;
  auto r = cache.append_page("m 2\n", "", t0 + 1000, ctx, out);
  EXPECT_EQ(r.series_added, 1u);
  auto g = view(out);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].lbls, R"({__name__="m", job="b"})");
  EXPECT_EQ(g[0].v, 2);
  EXPECT_EQ(g[1].lbls, R"({__name__="m", job="a"})");
  EXPECT_TRUE(is_stale_nan(g[1].v));
}

TEST(reload, unchanged_label_sets_get_no_stale_marker) {
  // A reload that changes, say, a metric_relabel rule for other series: a series whose labels come out the
  // same is the same series, and a stale marker at the same timestamp as its new sample would end it.
  relabel_rules drop_b{rule({"__name__"}, "b", relabel_action::drop)};
  test_cache cache;
  labels target = L({{"job", "a"}});
  sample_context ctx = make_ctx(&target);
  std::vector<sample> out;
  cache.append_page("a 1\nb 1\n", "", t0, ctx, out);
  out.clear();
  ctx.metric_relabel = &drop_b;
  cache.append_page("a 2\nb 2\n", "", t0 + 1000, ctx, out);
  auto g = view(out);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].lbls, R"({__name__="a", job="a"})");
  EXPECT_EQ(g[0].v, 2);
  EXPECT_EQ(g[1].lbls, R"({__name__="b", job="a"})");
  EXPECT_TRUE(is_stale_nan(g[1].v));
}

TEST(cache_state, follows_the_last_successful_page) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("a 1\nb 1\n", "", t0, ctx, out);
  EXPECT_EQ(cache.series_count(), 2u);
  cache.append_page("a 1\n", "", t0 + 1000, ctx, out);
  EXPECT_EQ(cache.series_count(), 1u);
  cache.append_page("a{", "", t0 + 2000, ctx, out);
  EXPECT_EQ(cache.series_count(), 1u) << "a failed page changes nothing";
  cache.append_page("a 1 5\nb 1\n", "", t0 + 3000, ctx, out);
  EXPECT_EQ(cache.series_count(), 2u) << "a series with a timestamp counts too";
}

TEST(cache_state, costs_bytes_per_series_not_a_label_set) {
  // What a target keeps between scrapes: two 8-byte hashes per series (of its final labels, of its bytes on
  // the page) plus its label sets compressed (for stale markers and reuse), not a copy of every label set.
  labels target = L({{"job", "node"}, {"instance", "10.0.0.1:9100"}});
  test_cache cache;
  sample_context ctx = make_ctx(&target);
  std::string page;
  for (int cpu = 0; cpu < 64; ++cpu) {
    for (const char* mode : {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"})
      page += "node_cpu_seconds_total{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + mode + "\"} 1\n";
  }
  std::vector<sample> out;
  cache.append_page(page, "", t0, ctx, out);
  ASSERT_EQ(out.size(), 512u);
  const std::size_t after_first = cache.memory_bytes();
  EXPECT_LT(after_first, 512u * 24) << "bytes kept: " << after_first;
  // An unchanged page keeps what was kept (it is not rewritten), and still yields every sample.
  out.clear();
  auto r = cache.append_page(page, "", t0 + 1000, ctx, out);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(out.size(), 512u);
  EXPECT_EQ(cache.memory_bytes(), after_first);
  // One series fewer: its stale marker comes from the kept label sets, and only that one.
  const std::string last = "node_cpu_seconds_total{cpu=\"63\",mode=\"user\"} 1\n";
  out.clear();
  cache.append_page(page.substr(0, page.size() - last.size()), "", t0 + 2000, ctx, out);
  ASSERT_EQ(out.size(), 512u);
  EXPECT_TRUE(is_stale_nan(out.back().v));
  EXPECT_EQ(out.back().s->lbls, L({{"__name__", "node_cpu_seconds_total"},
                                   {"cpu", "63"},
                                   {"instance", "10.0.0.1:9100"},
                                   {"job", "node"},
                                   {"mode", "user"}}));
  EXPECT_EQ(out.back().t_ms, t0 + 2000);
}

TEST(cache_state, a_reordered_page_is_the_same_series) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("a 1\nb 1\nc 1\n", "", t0, ctx, out);
  out.clear();
  auto r = cache.append_page("c 2\na 2\nb 2\n", "", t0 + 1000, ctx, out);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(out.size(), 3u) << "no stale markers";
  out.clear();
  r = cache.append_page("c 3\na 3\nd 3\n", "", t0 + 2000, ctx, out);
  EXPECT_EQ(r.series_added, 1u);
  auto g = view(out);
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[3].lbls, R"({__name__="b"})");
  EXPECT_TRUE(is_stale_nan(g[3].v));
}

TEST(cache_state, duplicates_past_the_first_table_size_are_found) {
  // The per-page duplicate table grows past the last page's size.
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  cache.append_page("a 1\n", "", t0, ctx, out);
  std::string page;
  for (int i = 0; i < 300; ++i) page.append("m").append(std::to_string(i)).append(" 1\n");
  page += "m7 2\nm299 2\n";
  out.clear();
  auto r = cache.append_page(page, "", t0 + 1000, ctx, out);
  EXPECT_EQ(r.duplicates, 2u);
  EXPECT_EQ(r.series_added, 300u);
  EXPECT_EQ(out.size(), 301u) << "300 series and the stale marker of a";
}

TEST(content_type, openmetrics_pages_are_read_as_openmetrics) {
  test_cache cache;
  sample_context ctx;
  std::vector<sample> out;
  // `# EOF` is required by OpenMetrics and a syntax error in the text format.
  auto r = cache.append_page("a_total 1\n# EOF\n",
                             "application/openmetrics-text; version=1.0.0; charset=utf-8", t0, ctx, out);
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(out.size(), 1u);
  test_cache text;
  out.clear();
  r = text.append_page("a_total 1\n# EOF\n", "text/plain; version=0.0.4", t0, ctx, out);
  EXPECT_TRUE(r.error.empty()) << r.error;  // a comment in the text format
  r = cache.append_page("a_total 1\n", "application/openmetrics-text", t0 + 1000, ctx, out);
  EXPECT_FALSE(r.error.empty());  // no # EOF
}

// --- reuse: a sample whose raw bytes the last page had gets that page's final labels
// -------------------------

// A sample as a comparable line: labels, hash, time and value (bits, so NaNs compare).
std::vector<std::string> render(const std::vector<sample>& out) {
  std::vector<std::string> r;
  for (const auto& s : out) {
    r.push_back(to_string(s.s->lbls) + " h=" + std::to_string(s.s->hash) + " t=" + std::to_string(s.t_ms) +
                " v=" + std::to_string(std::bit_cast<std::uint64_t>(s.v)));
  }
  return r;
}

// What a cache with no last page (so nothing to reuse) makes of a page: every label set built from the page.
std::vector<std::string> rebuilt(std::string_view page, const sample_context& ctx, std::int64_t t,
                                 std::string_view content_type = "") {
  test_cache fresh;
  std::vector<sample> out;
  auto r = fresh.append_page(page, content_type, t, ctx, out);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.reused, 0u);
  return render(out);
}

std::vector<std::string> first(const std::vector<std::string>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()))};
}

// A node_exporter-like target: target labels, a drop rule and a replace rule, escaped values.
struct reuse_target {
  labels target = L({{"instance", "10.0.0.1:9100"}, {"job", "node"}});
  relabel_rules rules = make_rules("/dev/(.+)");
  sample_context ctx = make_ctx(&target, false, true, &rules);
  test_cache cache;

  static relabel_rules make_rules(const std::string& device_regex) {
    relabel_spec disk;
    disk.source_labels = {"device"};
    disk.regex = device_regex;
    disk.target_label = "disk";
    auto r = compile(disk);
    if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
    return {rule({"__name__"}, "go_.*", relabel_action::drop), std::get<relabel_rule>(std::move(r))};
  }

  append_result scrape(std::string_view page, std::int64_t t, std::vector<std::string>& got,
                       std::string_view content_type = "") {
    std::vector<sample> out;
    auto r = cache.append_page(page, content_type, t, ctx, out);
    got = render(out);
    return r;
  }
};

constexpr std::string_view reuse_page =
    "# TYPE node_cpu_seconds_total counter\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 11\n"
    "go_goroutines 7\n"
    "node_filesystem_free_bytes{device=\"/dev/sda1\",mountpoint=\"/\"} 1e9\n"
    "node_textfile{path=\"C:\\\\dir\\\"x\\\"\\n\"} 1\n"
    "node_load1 0.5\n";

TEST(reuse, an_identical_page_reuses_every_sample_and_keeps_its_state) {
  reuse_target tg;
  std::vector<std::string> got;
  auto r = tg.scrape(reuse_page, t0, got);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.reused, 0u);
  EXPECT_EQ(got, rebuilt(reuse_page, tg.ctx, t0));
  const std::size_t kept = tg.cache.memory_bytes();
  for (int i = 1; i <= 3; ++i) {
    r = tg.scrape(reuse_page, t0 + i * 1000, got);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.total, 6u);
    EXPECT_EQ(r.reused, 6u) << "the dropped go_goroutines too";
    EXPECT_EQ(r.added, 5u);
    EXPECT_EQ(r.series_added, 0u);
    EXPECT_EQ(got, rebuilt(reuse_page, tg.ctx, t0 + i * 1000)) << "the same labels, hashes and values";
    EXPECT_EQ(tg.cache.memory_bytes(), kept) << "an unchanged page rewrites nothing";
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(
      got[2].substr(0, got[2].find(" h=")),
      R"({__name__="node_filesystem_free_bytes", device="/dev/sda1", disk="sda1", instance="10.0.0.1:9100", job="node", mountpoint="/"})");
  EXPECT_EQ(got[3].substr(0, got[3].find(" h=")),
            R"({__name__="node_textfile", instance="10.0.0.1:9100", job="node", path="C:\\dir\"x\"\n"})");
}

TEST(reuse, values_and_timestamps_are_the_new_pages) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1\nb 2 500\n", t0, got);
  auto r = tg.scrape("a 3\nb 4 600\n", t0 + 1000, got);
  EXPECT_EQ(r.reused, 2u);
  EXPECT_EQ(got, rebuilt("a 3\nb 4 600\n", tg.ctx, t0 + 1000));
}

TEST(reuse, a_changed_label_value_in_the_same_place_is_rebuilt_and_the_old_series_goes_stale) {
  // The same position and length: only the bytes' hash tells the series apart.
  reuse_target tg;
  std::vector<std::string> got;
  const std::string page1 = "m{x=\"1\"} 1\nn 1\no 1\n";
  const std::string page2 = "m{x=\"2\"} 1\nn 1\no 1\n";
  tg.scrape(page1, t0, got);
  auto r = tg.scrape(page2, t0 + 1000, got);
  EXPECT_EQ(r.reused, 2u);
  EXPECT_EQ(r.series_added, 1u);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(first(got, 3), rebuilt(page2, tg.ctx, t0 + 1000));
  EXPECT_TRUE(got[3].starts_with(R"({__name__="m", instance="10.0.0.1:9100", job="node", x="1"})")) << got[3];
  EXPECT_NE(got[3].find(" v=" + std::to_string(stale_nan_bits)), std::string::npos) << got[3];
  // The changed series is reused from now on.
  r = tg.scrape(page2, t0 + 2000, got);
  EXPECT_EQ(r.reused, 3u);
  EXPECT_EQ(got, rebuilt(page2, tg.ctx, t0 + 2000));
}

TEST(reuse, a_reordered_page_reuses_every_sample) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1\nb{x=\"1\"} 1\nc 1\ngo_x 1\n", t0, got);
  const std::string page = "go_x 2\nc 2\na 2\nb{x=\"1\"} 2\n";
  auto r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 4u);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(got, rebuilt(page, tg.ctx, t0 + 1000)) << "no stale markers, the new order";
}

TEST(reuse, added_and_removed_series_leave_the_others_reused) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1\nb 1\nc 1\nd 1\n", t0, got);
  const std::string page = "new 2\na 2\nc 2\nd 2\n";  // one in front (every position moves), b gone
  auto r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 3u);
  EXPECT_EQ(r.series_added, 1u);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(first(got, 4), rebuilt(page, tg.ctx, t0 + 1000));
  EXPECT_TRUE(got[4].starts_with(R"({__name__="b", instance="10.0.0.1:9100", job="node"} )")) << got[4];
  r = tg.scrape("new 3\na 3\nc 3\n", t0 + 2000, got);  // the last one gone
  EXPECT_EQ(r.reused, 3u);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[3].starts_with(R"({__name__="d", )")) << got[3];
}

TEST(reuse, many_series_shuffled_with_one_changed) {
  // Past the same position, samples are found through a table of the last page's hashes, where many share
  // a slot: each is told apart by its whole hash.
  reuse_target tg;
  std::vector<std::string> lines;
  for (int i = 0; i < 300; ++i) lines.push_back("m{i=\"" + std::to_string(i) + "\"} 1\n");
  std::string page1;
  for (const auto& l : lines) page1 += l;
  std::vector<std::string> got;
  tg.scrape(page1, t0, got);
  std::string page2;
  for (int i = 299; i >= 0; --i) page2 += i == 150 ? std::string("m{i=\"150x\"} 2\n") : lines[i];
  auto r = tg.scrape(page2, t0 + 1000, got);
  EXPECT_EQ(r.reused, 299u);
  EXPECT_EQ(r.series_added, 1u);
  ASSERT_EQ(got.size(), 301u);
  EXPECT_EQ(first(got, 300), rebuilt(page2, tg.ctx, t0 + 1000));
  EXPECT_TRUE(got[300].starts_with(R"({__name__="m", i="150", )")) << got[300];
}

TEST(reuse, relabel_dropped_series_stay_dropped_without_relabeling) {
  reuse_target tg;
  std::vector<std::string> got;
  const std::string page = "go_a 1\ngo_b 1\nkeep 1\n";
  auto r = tg.scrape(page, t0, got);
  EXPECT_EQ(r.added, 1u);
  r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 3u);
  EXPECT_EQ(r.total, 3u);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(tg.cache.series_count(), 1u);
  EXPECT_EQ(got, rebuilt(page, tg.ctx, t0 + 1000));
}

TEST(reuse, the_same_labels_from_other_bytes_are_the_same_series) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("m{x=\"1\",y=\"2\"} 1\n", t0, got);
  const std::string page = "m{y=\"2\", x=\"1\"} 2\n";
  auto r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 0u);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(got, rebuilt(page, tg.ctx, t0 + 1000)) << "no stale marker";
  r = tg.scrape(page, t0 + 2000, got);
  EXPECT_EQ(r.reused, 1u) << "the new bytes are remembered";
}

TEST(reuse, target_labels_changed_in_place_by_a_reload_rebuild_every_sample) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape(reuse_page, t0, got);
  const auto before = got;
  set(tg.target, "job", "node2");  // the same labels object, other contents
  auto r = tg.scrape(reuse_page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 0u);
  EXPECT_EQ(r.series_added, 5u);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(first(got, 5), rebuilt(reuse_page, tg.ctx, t0 + 1000));
  for (std::size_t i = 5; i < 10; ++i) {
    EXPECT_NE(got[i].find("job=\"node\""), std::string::npos) << got[i];
    EXPECT_NE(got[i].find(" v=" + std::to_string(stale_nan_bits)), std::string::npos) << got[i];
  }
  r = tg.scrape(reuse_page, t0 + 2000, got);
  EXPECT_EQ(r.reused, 6u);
  EXPECT_EQ(got, rebuilt(reuse_page, tg.ctx, t0 + 2000));
}

TEST(reuse, honor_labels_changed_by_a_reload_rebuilds) {
  reuse_target tg;
  std::vector<std::string> got;
  const std::string page = "m{job=\"page\"} 1\n";
  tg.scrape(page, t0, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(
      got[0].starts_with(R"({__name__="m", exported_job="page", instance="10.0.0.1:9100", job="node"})"))
      << got[0];
  tg.ctx.honor_labels = true;
  auto r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 0u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].starts_with(R"({__name__="m", instance="10.0.0.1:9100", job="page"})")) << got[0];
  EXPECT_EQ(first(got, 1), rebuilt(page, tg.ctx, t0 + 1000));
  r = tg.scrape(page, t0 + 2000, got);
  EXPECT_EQ(r.reused, 1u);
  tg.ctx.honor_labels = false;
  r = tg.scrape(page, t0 + 3000, got);
  EXPECT_EQ(r.reused, 0u);
  EXPECT_TRUE(got[0].starts_with(R"({__name__="m", exported_job="page", )")) << got[0];
}

TEST(reuse, changed_rules_rebuild_and_recompiled_equal_rules_reuse) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape(reuse_page, t0, got);
  // A reload compiles the same config again: other objects, the same rules.
  tg.rules = reuse_target::make_rules("/dev/(.+)");
  auto r = tg.scrape(reuse_page, t0 + 1000, got);
  EXPECT_EQ(r.reused, 6u);
  // The same number of rules, one regex changed (in the same vector).
  tg.rules = reuse_target::make_rules("/dev/(s.)(.+)");
  r = tg.scrape(reuse_page, t0 + 2000, got);
  EXPECT_EQ(r.reused, 0u);
  EXPECT_EQ(first(got, 5), rebuilt(reuse_page, tg.ctx, t0 + 2000));
  EXPECT_NE(got[2].find("disk=\"sd\""), std::string::npos) << got[2];
  // No rules at all: go_goroutines comes back.
  tg.ctx.metric_relabel = nullptr;
  r = tg.scrape(reuse_page, t0 + 3000, got);
  EXPECT_EQ(r.reused, 0u);
  EXPECT_EQ(r.added, 6u);
}

TEST(reuse, lowered_label_limits_fail_a_page_that_was_reused) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape(reuse_page, t0, got);
  tg.ctx.limits.label_limit = 4;
  auto r = tg.scrape(reuse_page, t0 + 1000, got);
  EXPECT_TRUE(r.error.starts_with("label_limit exceeded")) << r.error;
  tg.ctx.limits.label_limit = 0;
  tg.ctx.limits.label_value_length_limit = 5;
  r = tg.scrape(reuse_page, t0 + 2000, got);
  EXPECT_TRUE(r.error.starts_with("label_value_length_limit exceeded")) << r.error;
  tg.ctx.limits.label_value_length_limit = 0;
  r = tg.scrape(reuse_page, t0 + 3000, got);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.reused, 6u) << "failed pages left the last successful page's state alone";
}

TEST(reuse, a_failed_page_in_between_leaves_the_reuse_state) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1\nb 1\n", t0, got);
  auto r = tg.scrape("a 1\nb 1\nc 1\nd{", t0 + 1000, got);
  ASSERT_FALSE(r.error.empty());
  r = tg.scrape("a 2\nb 2\n", t0 + 2000, got);
  EXPECT_EQ(r.reused, 2u);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(got, rebuilt("a 2\nb 2\n", tg.ctx, t0 + 2000)) << "c never had a sample: no stale marker";
}

TEST(reuse, duplicates_are_built_again) {
  reuse_target tg;
  std::vector<std::string> got;
  const std::string page = "a 1 1000\nb 1\nb 2\n";
  tg.scrape(page, t0, got);
  auto r = tg.scrape(page, t0 + 1000, got);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.reused, 2u) << "the duplicate is built again";
  EXPECT_EQ(got, rebuilt(page, tg.ctx, t0 + 1000));
}

TEST(reuse, a_series_that_loses_or_gains_its_timestamp) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1 1000\nb 1\n", t0, got);
  // The same bytes, without the timestamp: a's labels are reused, and it becomes subject to staleness.
  auto r = tg.scrape("a 1\nb 1\n", t0 + 1000, got);
  EXPECT_EQ(r.reused, 2u);
  EXPECT_EQ(r.series_added, 1u);
  r = tg.scrape("b 1\n", t0 + 2000, got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[1].starts_with(R"({__name__="a", )")) << got[1];
  EXPECT_NE(got[1].find(" v=" + std::to_string(stale_nan_bits)), std::string::npos) << got[1];
  // With a timestamp again it is not.
  tg.scrape("a 1\nb 1\n", t0 + 3000, got);
  r = tg.scrape("a 1 2000\nb 1\n", t0 + 4000, got);
  EXPECT_EQ(r.reused, 2u);
  r = tg.scrape("b 1\n", t0 + 5000, got);
  EXPECT_EQ(got.size(), 1u) << (got.size() > 1 ? got[1] : "");
}

TEST(reuse, a_format_change_rebuilds) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a_total 1\n", t0, got, "text/plain; version=0.0.4");
  auto r = tg.scrape("a_total 1\n# EOF\n", t0 + 1000, got, "application/openmetrics-text; version=1.0.0");
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.reused, 0u);
  r = tg.scrape("a_total 1\n# EOF\n", t0 + 2000, got, "application/openmetrics-text; version=1.0.0");
  EXPECT_EQ(r.reused, 1u);
}

TEST(reuse, after_all_stale_the_next_page_reuses) {
  reuse_target tg;
  std::vector<std::string> got;
  tg.scrape("a 1\nb 1\n", t0, got);
  std::vector<sample> out;
  tg.cache.append_all_stale(t0 + 1000, out, false);
  EXPECT_EQ(out.size(), 2u);
  auto r = tg.scrape("a 1\nb 1\n", t0 + 2000, got);
  EXPECT_EQ(r.reused, 2u);
  EXPECT_EQ(got, rebuilt("a 1\nb 1\n", tg.ctx, t0 + 2000));
  out.clear();
  tg.cache.append_all_stale(t0 + 3000, out, false);
  EXPECT_EQ(out.size(), 2u) << "stale markers again after a successful page";
}

}  // namespace
}  // namespace sigv4::scraper
