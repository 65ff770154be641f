// scraper/targets: the expectations are Prometheus 2.42's (scrape/manager_test.go TestPopulateLabels,
// scrape/target_test.go TestTargetURL and TestTargetsFromGroup, common/model's Duration.String, Go's
// net/url escaping), not read off our code.
#include "scraper/targets.hpp"

#include <gtest/gtest.h>

#include <variant>

namespace sigv4::scraper {
namespace {

using namespace std::chrono_literals;

labels L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  labels ls;
  for (const auto& [k, v] : kv) ls.push_back({k, v});
  sort_labels(ls);
  return ls;
}

// The job TestPopulateLabels uses in almost every case.
target_defaults https_job() {
  target_defaults d;
  d.job_name = "job";
  d.interval = 1s;
  d.timeout = 1s;
  d.metrics_path = "/metrics";
  d.scheme = "https";
  return d;
}

relabel_rule rule(std::vector<std::string> source_labels, std::string regex, std::string replacement,
                  std::string target_label, relabel_action action = relabel_action::replace) {
  relabel_spec s;
  s.source_labels = std::move(source_labels);
  s.regex = std::move(regex);
  s.replacement = std::move(replacement);
  s.target_label = std::move(target_label);
  s.action = action;
  auto r = compile(s);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<relabel_rule>(std::move(r));
}

TEST(populate, regular_population_of_scrape_config_options) {
  auto r = populate(L({{"custom", "value"}}), "1.2.3.4:1000", https_job());
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.target);
  EXPECT_EQ(r.target->all, L({{"__address__", "1.2.3.4:1000"},
                              {"instance", "1.2.3.4:1000"},
                              {"__scheme__", "https"},
                              {"__metrics_path__", "/metrics"},
                              {"job", "job"},
                              {"__scrape_interval__", "1s"},
                              {"__scrape_timeout__", "1s"},
                              {"custom", "value"}}));
  EXPECT_EQ(r.discovered, L({{"__address__", "1.2.3.4:1000"},
                             {"__scheme__", "https"},
                             {"__metrics_path__", "/metrics"},
                             {"job", "job"},
                             {"custom", "value"},
                             {"__scrape_interval__", "1s"},
                             {"__scrape_timeout__", "1s"}}));
  EXPECT_EQ(r.target->discovered, r.discovered);
  EXPECT_EQ(r.target->lbls, L({{"instance", "1.2.3.4:1000"}, {"job", "job"}, {"custom", "value"}}));
  EXPECT_EQ(r.target->scheme, "https");
  EXPECT_EQ(r.target->address, "1.2.3.4:1000");
  EXPECT_EQ(r.target->interval, 1s);
  EXPECT_EQ(r.target->timeout, 1s);
}

TEST(populate, target_labels_override_the_job_and_the_port_follows_the_scheme) {
  auto r = populate(L({{"__scheme__", "http"},
                       {"__metrics_path__", "/custom"},
                       {"job", "custom-job"},
                       {"__scrape_interval__", "2s"},
                       {"__scrape_timeout__", "2s"}}),
                    "1.2.3.4", https_job());
  ASSERT_TRUE(r.target) << r.error;
  EXPECT_EQ(r.target->all, L({{"__address__", "1.2.3.4:80"},
                              {"instance", "1.2.3.4:80"},
                              {"__scheme__", "http"},
                              {"__metrics_path__", "/custom"},
                              {"job", "custom-job"},
                              {"__scrape_interval__", "2s"},
                              {"__scrape_timeout__", "2s"}}));
  EXPECT_EQ(r.discovered, L({{"__address__", "1.2.3.4"},
                             {"__scheme__", "http"},
                             {"__metrics_path__", "/custom"},
                             {"job", "custom-job"},
                             {"__scrape_interval__", "2s"},
                             {"__scrape_timeout__", "2s"}}));
  EXPECT_EQ(r.target->interval, 2s);
  EXPECT_EQ(r.target->url(), "http://1.2.3.4:80/custom");
}

TEST(populate, instance_label_kept_and_https_port_for_ipv6) {
  auto r = populate(L({{"instance", "custom-instance"}}), "[::1]", https_job());
  ASSERT_TRUE(r.target) << r.error;
  EXPECT_EQ(r.target->all, L({{"__address__", "[::1]:443"},
                              {"instance", "custom-instance"},
                              {"__scheme__", "https"},
                              {"__metrics_path__", "/metrics"},
                              {"job", "job"},
                              {"__scrape_interval__", "1s"},
                              {"__scrape_timeout__", "1s"}}));
  EXPECT_EQ(get(r.discovered, "__address__"), "[::1]");
}

TEST(populate, address_missing) {
  auto r = populate(L({{"custom", "value"}}), "", https_job());
  EXPECT_EQ(r.error, "no address");
  EXPECT_FALSE(r.target);
}

TEST(populate, address_missing_but_added_in_relabelling) {
  relabel_rules rules{rule({"custom"}, "(.*)", "${1}", "__address__")};
  auto job = https_job();
  job.relabel = &rules;
  auto r = populate(L({{"custom", "host:1234"}}), "", job);
  ASSERT_TRUE(r.target) << r.error;
  EXPECT_EQ(r.target->all, L({{"__address__", "host:1234"},
                              {"instance", "host:1234"},
                              {"__scheme__", "https"},
                              {"__metrics_path__", "/metrics"},
                              {"job", "job"},
                              {"__scrape_interval__", "1s"},
                              {"__scrape_timeout__", "1s"},
                              {"custom", "host:1234"}}));
  EXPECT_EQ(r.discovered, L({{"__scheme__", "https"},
                             {"__metrics_path__", "/metrics"},
                             {"job", "job"},
                             {"__scrape_interval__", "1s"},
                             {"__scrape_timeout__", "1s"},
                             {"custom", "host:1234"}}));
}

TEST(populate, invalid_utf8_in_a_label_value) {
  auto r = populate(L({{"custom", "\xbd"}}), "1.2.3.4:1000", https_job());
  EXPECT_FALSE(r.target);
  // Prometheus: `invalid label value for "custom": "\xbd"`. Ours leaves the value out of the message (Go's %q
  // quoting of invalid UTF-8 would need a Go string quoter for one log line); the words before it are the
  // same.
  EXPECT_TRUE(r.error.starts_with("invalid label value for \"custom\"")) << r.error;
}

TEST(populate, duration_and_timeout_errors_in_prometheus_words) {
  struct c {
    labels in;
    std::string err;
  };
  const c cases[] = {
      {L({{"__scrape_interval__", "2notseconds"}}),
       "error parsing scrape interval: not a valid duration string: \"2notseconds\""},
      {L({{"__scrape_timeout__", "2notseconds"}}),
       "error parsing scrape timeout: not a valid duration string: \"2notseconds\""},
      {L({{"__scrape_interval__", "0s"}}), "scrape interval cannot be 0"},
      {L({{"__scrape_timeout__", "0s"}}), "scrape timeout cannot be 0"},
      {L({{"__scrape_interval__", "1s"}, {"__scrape_timeout__", "2s"}}),
       "scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")"},
  };
  for (const auto& tc : cases) {
    auto r = populate(tc.in, "1.2.3.4:1000", https_job());
    EXPECT_EQ(r.error, tc.err) << to_string(tc.in);
    EXPECT_FALSE(r.target);
  }
}

TEST(populate, relabel_drop_keeps_the_discovered_labels) {
  relabel_rules rules{rule({"custom"}, "drop.*", "$1", "", relabel_action::drop)};
  auto job = https_job();
  job.relabel = &rules;
  auto r = populate(L({{"custom", "dropme"}}), "1.2.3.4:1000", job);
  EXPECT_TRUE(r.error.empty());
  EXPECT_FALSE(r.target);
  EXPECT_EQ(get(r.discovered, "custom"), "dropme");
  EXPECT_EQ(get(r.discovered, "__address__"), "1.2.3.4:1000");
}

TEST(populate, meta_labels_go_after_relabeling_and_other_dunder_labels_stay) {
  relabel_rules rules{rule({"__meta_zone"}, "(.*)", "$1", "zone")};
  auto job = https_job();
  job.relabel = &rules;
  auto r = populate(L({{"__meta_zone", "a"}, {"__tmp_x", "y"}}), "h:1", job);
  ASSERT_TRUE(r.target) << r.error;
  EXPECT_EQ(get(r.target->all, "__meta_zone"), "");
  EXPECT_EQ(get(r.target->all, "zone"), "a");
  EXPECT_EQ(get(r.target->all, "__tmp_x"), "y");
  EXPECT_EQ(get(r.target->lbls, "__tmp_x"), "");  // never on samples
  EXPECT_EQ(get(r.discovered, "__meta_zone"), "a");
}

TEST(populate, address_with_a_path_is_not_a_valid_hostname) {
  auto r = populate({}, "example.com/metrics", https_job());
  // CheckTargetAddress sees the address after the default port was tried: no port can be added to it here
  // (SplitHostPort of "example.com/metrics:1234" works, so Go adds :443 first).
  EXPECT_EQ(r.error, "\"example.com/metrics:443\" is not a valid hostname");
}

TEST(populate, unknown_scheme_without_port_names_the_jobs_scheme) {
  // As 2.42: the message quotes cfg.Scheme, not the relabeled __scheme__.
  auto r = populate(L({{"__scheme__", "ftp"}}), "host", https_job());
  EXPECT_EQ(r.error, "invalid scheme: \"https\"");
  auto with_port = populate(L({{"__scheme__", "ftp"}}), "host:21", https_job());
  EXPECT_TRUE(with_port.target) << with_port.error;
}

TEST(populate, params_become_param_labels_first_value_only) {
  auto job = https_job();
  job.params = {{"module", "http_2xx"}, {"module", "second"}, {"target", "x"}};
  auto r = populate({}, "h:1", job);
  ASSERT_TRUE(r.target);
  EXPECT_EQ(get(r.discovered, "__param_module"), "http_2xx");
  EXPECT_EQ(get(r.discovered, "__param_target"), "x");
  // Unconditionally, over a group's own __param_ label (lb.Set after the defaults).
  auto over = populate(L({{"__param_module", "from_group"}}), "h:1", job);
  EXPECT_EQ(get(over.discovered, "__param_module"), "http_2xx");
}

TEST(targets_from_group, a_targets_own_labels_win_over_the_groups) {
  // populate takes the group labels and one address; an address label in the group loses to the address.
  auto r = populate(L({{"__address__", "group:1"}, {"g", "1"}}), "localhost:9090", https_job());
  ASSERT_TRUE(r.target);
  EXPECT_EQ(r.target->address, "localhost:9090");
  EXPECT_EQ(get(r.target->lbls, "g"), "1");
  // TestTargetsFromGroup: an empty target has no address.
  EXPECT_EQ(populate({}, "", https_job()).error, "no address");
}

TEST(target_url, params_from_labels_override_the_first_value) {
  // TestTargetURL.
  auto job = https_job();
  job.params = {{"abc", "foo"}, {"abc", "bar"}, {"abc", "baz"}, {"xyz", "hoo"}};
  auto r =
      populate(L({{"__param_abc", "overwrite"}, {"__param_cde", "huu"}, {"__metrics_path__", "/metricz"}}),
               "example.com:1234", job);
  ASSERT_TRUE(r.target) << r.error;
  // The group's __param_abc is overwritten by the job's first value when labels are built (PopulateLabels);
  // set it after populate, as TestTargetURL builds its target from labels directly.
  scrape_target t = *r.target;
  t.params = {{"abc", "overwrite"}, {"abc", "bar"}, {"abc", "baz"}, {"xyz", "hoo"}, {"cde", "huu"}};
  EXPECT_EQ(t.url(), "https://example.com:1234/metricz?abc=overwrite&abc=bar&abc=baz&cde=huu&xyz=hoo");
  EXPECT_EQ(t.request_target(), "/metricz?abc=overwrite&abc=bar&abc=baz&cde=huu&xyz=hoo");
}

TEST(target_url, relabeled_param_label_overrides_the_jobs_first_value) {
  relabel_rules rules{rule({}, "(.*)", "overwrite", "__param_abc"), rule({}, "(.*)", "huu", "__param_cde")};
  auto job = https_job();
  job.params = {{"abc", "foo"}, {"abc", "bar"}, {"xyz", "hoo"}};
  job.relabel = &rules;
  auto r = populate({}, "example.com:1234", job);
  ASSERT_TRUE(r.target) << r.error;
  EXPECT_EQ(r.target->url(), "https://example.com:1234/metrics?abc=overwrite&abc=bar&cde=huu&xyz=hoo");
}

TEST(target_url, query_and_path_escaping_as_go) {
  scrape_target t;
  t.scheme = "http";
  t.address = "h:80";
  // Go's url.URL{Path: ...}.EscapedPath (encodePath): '?' '#' ' ' and the sub-delims ! ' ( ) * are escaped;
  // $ & + , / : ; = @ stay.
  t.metrics_path = "/a b?c#d!'()*$&+,;=:@~";
  t.params = {{"q", "a b&c=d/é"}};
  EXPECT_EQ(t.request_target(), "/a%20b%3Fc%23d%21%27%28%29%2A$&+,;=:@~?q=a+b%26c%3Dd%2F%C3%A9");
  // A path without its leading slash gets one (url.URL.String with a host).
  t.metrics_path = "metrics";
  t.params.clear();
  EXPECT_EQ(t.url(), "http://h:80/metrics");
}

TEST(target_identity, same_labels_and_url_same_target) {
  auto a = populate(L({{"x", "1"}}), "h:1", https_job());
  auto b = populate(L({{"x", "1"}}), "h:1", https_job());
  auto c = populate(L({{"x", "2"}}), "h:1", https_job());
  auto job = https_job();
  job.params = {{"p", "1"}};
  auto d = populate(L({{"x", "1"}}), "h:1", job);
  EXPECT_EQ(a.target->identity(), b.target->identity());
  EXPECT_NE(a.target->identity(), c.target->identity());
  EXPECT_NE(a.target->identity(), d.target->identity());
}

TEST(format_duration, as_model_duration_string) {
  // common/model TestParseDuration's expected strings: years and weeks only when they divide exactly.
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(324ms), "324ms");
  EXPECT_EQ(format_duration(3s), "3s");
  EXPECT_EQ(format_duration(5min), "5m");
  EXPECT_EQ(format_duration(1h), "1h");
  EXPECT_EQ(format_duration(96h), "4d");
  EXPECT_EQ(format_duration(97h), "4d1h");
  EXPECT_EQ(format_duration(14 * 24h), "2w");
  EXPECT_EQ(format_duration(3 * 7 * 24h), "3w");
  EXPECT_EQ(format_duration(3 * 7 * 24h + 2 * 24h + 1h), "23d1h");
  EXPECT_EQ(format_duration(10 * 365 * 24h), "10y");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  EXPECT_EQ(format_duration(8 * 24h), "8d");
}

TEST(query_escape, as_go_query_escape) {
  EXPECT_EQ(query_escape(""), "");
  EXPECT_EQ(query_escape("abc-_.~XYZ019"), "abc-_.~XYZ019");
  EXPECT_EQ(query_escape("a b"), "a+b");
  EXPECT_EQ(query_escape("a+b"), "a%2Bb");
  EXPECT_EQ(query_escape("?&=#/:;,$@!'()*"), "%3F%26%3D%23%2F%3A%3B%2C%24%40%21%27%28%29%2A");
  EXPECT_EQ(query_escape("\xff\x01"), "%FF%01");
}

}  // namespace
}  // namespace sigv4::scraper
