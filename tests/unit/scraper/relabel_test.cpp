#include "scraper/relabel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

// Counts operator new calls, for the "a rule that changes nothing allocates nothing" test.
namespace {
std::atomic<long> allocations{0};
}
void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC sees these frees inlined where the replaced new's memory is released and cannot tell the pair matches.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace sigv4::scraper {
namespace {

using enum relabel_action;

labels L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  labels ls;
  for (const auto& [k, v] : kv) ls.push_back({k, v});
  sort_labels(ls);
  return ls;
}

relabel_rule rule(const relabel_spec& spec) {
  auto r = compile(spec);
  if (auto* err = std::get_if<std::string>(&r)) throw std::runtime_error("compile failed: " + *err);
  return std::get<relabel_rule>(std::move(r));
}

std::string compile_error(const relabel_spec& spec) {
  auto r = compile(spec);
  auto* err = std::get_if<std::string>(&r);
  return err ? *err : "<compiled>";
}

// Spec builders with Prometheus' defaults for the fields not given.
relabel_spec replace_spec(std::vector<std::string> src, std::string regex, std::string target,
                          std::string replacement = "$1") {
  relabel_spec s;
  s.source_labels = std::move(src);
  s.regex = std::move(regex);
  s.regex_set = true;
  s.target_label = std::move(target);
  s.replacement = std::move(replacement);
  return s;
}

relabel_spec action_spec(relabel_action a, std::vector<std::string> src, std::string regex = "(.*)") {
  relabel_spec s;
  s.action = a;
  s.source_labels = std::move(src);
  s.regex = std::move(regex);
  return s;
}

// Runs specs over `in`; nullopt when dropped.
std::optional<labels> run(labels in, const std::vector<relabel_spec>& specs) {
  relabel_rules rules;
  for (const auto& s : specs) rules.push_back(rule(s));
  if (!process(in, rules)) return std::nullopt;
  return in;
}

// --- the cases of Prometheus 2.42's TestRelabel, in its order ----------------------------------------------

TEST(relabel, prometheus_replace_with_braced_groups) {
  EXPECT_EQ(run(L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}}),
                {replace_spec({"a"}, "f(.*)", "d", "ch${1}-ch${1}")}),
            L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "choo-choo"}}));
}

TEST(relabel, prometheus_chained_replaces_see_previous_results) {
  EXPECT_EQ(run(L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}}),
                {replace_spec({"a", "b"}, "f(.*);(.*)r", "a", "b${1}${2}m"),
                 replace_spec({"c", "a"}, "(b).*b(.*)ba(.*)", "d", "$1$2$2$3")}),
            L({{"a", "boobam"}, {"b", "bar"}, {"c", "baz"}, {"d", "boooom"}}));
}

TEST(relabel, prometheus_drop_stops_processing) {
  EXPECT_EQ(run(L({{"a", "foo"}}),
                {action_spec(drop, {"a"}, ".*o.*"), replace_spec({"a"}, "f(.*)", "d", "ch$1-ch$1")}),
            std::nullopt);
  EXPECT_EQ(run(L({{"a", "foo"}, {"b", "bar"}}), {action_spec(drop, {"a"}, ".*o.*")}), std::nullopt);
}

TEST(relabel, prometheus_replace_group_inside_match) {
  EXPECT_EQ(run(L({{"a", "abc"}}), {replace_spec({"a"}, ".*(b).*", "d")}), L({{"a", "abc"}, {"d", "b"}}));
}

TEST(relabel, prometheus_drop_is_anchored) {
  EXPECT_EQ(run(L({{"a", "foo"}}), {action_spec(drop, {"a"}, "no-match")}), L({{"a", "foo"}}));
  // "f|o" would match inside "foo" unanchored; ^(?:f|o)$ does not.
  EXPECT_EQ(run(L({{"a", "foo"}}), {action_spec(drop, {"a"}, "f|o")}), L({{"a", "foo"}}));
}

TEST(relabel, prometheus_keep) {
  EXPECT_EQ(run(L({{"a", "foo"}}), {action_spec(keep, {"a"}, "no-match")}), std::nullopt);
  EXPECT_EQ(run(L({{"a", "foo"}}), {action_spec(keep, {"a"}, "f.*")}), L({{"a", "foo"}}));
}

TEST(relabel, prometheus_replace_without_match_changes_nothing) {
  EXPECT_EQ(run(L({{"a", "boo"}}), {replace_spec({"a"}, "f", "b", "bar")}), L({{"a", "boo"}}));
}

// Expected values: python3 -c "import hashlib; print(int.from_bytes(hashlib.md5(b'baz').digest()[8:], 'big')
// % 1000)"
TEST(relabel, prometheus_hashmod) {
  relabel_spec s = action_spec(hashmod, {"c"});
  s.target_label = "d";
  s.modulus = 1000;
  EXPECT_EQ(run(L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}}), {s}),
            L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "976"}}));
  s.source_labels = {"a"};
  s.target_label = "b";
  EXPECT_EQ(run(L({{"a", "foo\nbar"}}), {s}), L({{"a", "foo\nbar"}, {"b", "734"}}));
}

TEST(relabel, prometheus_labelmap) {
  relabel_spec s = action_spec(labelmap, {}, "(b.*)");
  s.replacement = "bar_${1}";
  EXPECT_EQ(run(L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}}), {s}),
            L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}, {"bar_b1", "bar"}, {"bar_b2", "baz"}}));
  s = action_spec(labelmap, {}, "__meta_(my.*)");
  s.replacement = "${1}";
  EXPECT_EQ(
      run(L({{"a", "foo"}, {"__meta_my_bar", "aaa"}, {"__meta_my_baz", "bbb"}, {"__meta_other", "ccc"}}),
          {s}),
      L({{"a", "foo"},
         {"__meta_my_bar", "aaa"},
         {"__meta_my_baz", "bbb"},
         {"__meta_other", "ccc"},
         {"my_bar", "aaa"},
         {"my_baz", "bbb"}}));
}

TEST(relabel, prometheus_templated_target_label) {
  const std::string re = "some-([^-]+)-([^,]+)";
  EXPECT_EQ(run(L({{"a", "some-name-value"}}), {replace_spec({"a"}, re, "${1}", "${2}")}),
            L({{"a", "some-name-value"}, {"name", "value"}}));
  // Empty replacement, then invalid target names ("", "0", "-"): nothing is set.
  EXPECT_EQ(run(L({{"a", "some-name-value"}}), {replace_spec({"a"}, re, "${1}", "${3}")}),
            L({{"a", "some-name-value"}}));
  EXPECT_EQ(run(L({{"a", "some-name-value"}}), {replace_spec({"a"}, re, "${3}", "${1}")}),
            L({{"a", "some-name-value"}}));
  // Go's test builds "0${3}" and "-${3}" without validation; loading them from a config file fails.
  EXPECT_EQ(compile_error(replace_spec({"a"}, re, "0${3}", "${1}")),
            "\"0${3}\" is invalid 'target_label' for replace action");
  EXPECT_EQ(compile_error(replace_spec({"a"}, re, "-${3}", "${1}")),
            "\"-${3}\" is invalid 'target_label' for replace action");
}

TEST(relabel, prometheus_real_life_tags) {
  const std::string tags = "path:/secret,job:some-job,label:foo=bar";
  EXPECT_EQ(
      run(L({{"__meta_sd_tags", tags}}),
          {replace_spec({"__meta_sd_tags"}, "(?:.+,|^)path:(/[^,]+).*", "__metrics_path__", "${1}"),
           replace_spec({"__meta_sd_tags"}, "(?:.+,|^)job:([^,]+).*", "job", "${1}"),
           replace_spec({"__meta_sd_tags"}, "(?:.+,|^)label:([^=]+)=([^,]+).*", "${1}", "${2}")}),
      L({{"__meta_sd_tags", tags}, {"__metrics_path__", "/secret"}, {"job", "some-job"}, {"foo", "bar"}}));
}

TEST(relabel, prometheus_labelkeep_labeldrop) {
  EXPECT_EQ(run(L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}}), {action_spec(labelkeep, {}, "(b.*)")}),
            L({{"b1", "bar"}, {"b2", "baz"}}));
  EXPECT_EQ(run(L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}}), {action_spec(labeldrop, {}, "(b.*)")}),
            L({{"a", "foo"}}));
}

TEST(relabel, prometheus_lowercase_uppercase) {
  relabel_spec up = action_spec(uppercase, {"foo"});
  up.target_label = "foo_uppercase";
  relabel_spec low = action_spec(lowercase, {"foo"});
  low.target_label = "foo_lowercase";
  EXPECT_EQ(run(L({{"foo", "bAr123Foo"}}), {up, low}),
            L({{"foo", "bAr123Foo"}, {"foo_lowercase", "bar123foo"}, {"foo_uppercase", "BAR123FOO"}}));
}

TEST(relabel, prometheus_keepequal_dropequal) {
  const labels in = L({{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}});
  auto eq = [](relabel_action a, std::string target) {
    relabel_spec s = action_spec(a, {"__tmp_port"});
    s.target_label = std::move(target);
    return s;
  };
  EXPECT_EQ(run(in, {eq(keepequal, "__port1")}), in);
  EXPECT_EQ(run(in, {eq(dropequal, "__port1")}), std::nullopt);
  EXPECT_EQ(run(in, {eq(dropequal, "__port2")}), in);
  EXPECT_EQ(run(in, {eq(keepequal, "__port2")}), std::nullopt);
  // A missing target label is "": not equal to 1234, but equal to a missing source.
  EXPECT_EQ(run(in, {eq(keepequal, "absent")}), std::nullopt);
  relabel_spec none = eq(keepequal, "absent");
  none.source_labels = {"also_absent"};
  EXPECT_EQ(run(in, {none}), in);
}

TEST(relabel, prometheus_target_label_validity) {
  const std::pair<const char*, bool> cases[] = {
      {"-label", false}, {"label", true},        {"label${1}", true}, {"${1}label", true},
      {"${1}", true},    {"${", false},          {"$", false},        {"${}", false},
      {"foo${", false},  {"$1", true},           {"asd$2asd", true},  {"-foo${1}bar-", false},
      {"_${1}_", true},  {"foo${bar}foo", true}, {"", false}};
  for (const auto& [s, valid] : cases) EXPECT_EQ(is_valid_relabel_target(s), valid) << s;
}

// --- defaults and edge cases -------------------------------------------------------------------------------

TEST(relabel, defaults_copy_a_label) {
  relabel_spec s;  // replace, regex (.*), replacement $1, separator ;
  s.source_labels = {"a", "b"};
  s.target_label = "c";
  EXPECT_EQ(run(L({{"a", "x"}, {"b", "y"}}), {s}), L({{"a", "x"}, {"b", "y"}, {"c", "x;y"}}));
  s.separator = "";
  EXPECT_EQ(run(L({{"a", "x"}, {"b", "y"}}), {s}), L({{"a", "x"}, {"b", "y"}, {"c", "xy"}}));
}

TEST(relabel, static_replacement_without_sources_sets_a_label) {
  relabel_spec s;
  s.target_label = "cluster";
  s.replacement = "dev";
  EXPECT_EQ(run(L({{"a", "x"}}), {s}), L({{"a", "x"}, {"cluster", "dev"}}));
}

TEST(relabel, missing_sources_are_empty_and_empty_value_deletes) {
  relabel_spec s;
  s.source_labels = {"missing"};
  s.target_label = "a";
  EXPECT_EQ(run(L({{"a", "x"}, {"b", "y"}}), {s}), L({{"b", "y"}}));
  // Two missing labels join to ";", which (.*) matches: a becomes ";".
  s.source_labels = {"m1", "m2"};
  EXPECT_EQ(run(L({{"a", "x"}}), {s}), L({{"a", ";"}}));
}

TEST(relabel, dot_does_not_match_newline_so_replace_skips) {
  EXPECT_EQ(run(L({{"a", "x\ny"}}), {replace_spec({"a"}, "(.*)", "b")}), L({{"a", "x\ny"}}));
}

// Go reads an invalid UTF-8 byte as U+FFFD, so `.` matches it, and groups copy the original bytes.
TEST(relabel, invalid_utf8_matches_as_go_does) {
  EXPECT_EQ(run(L({{"a", "x\xff\xc3y"}}), {replace_spec({"a"}, "x(.*)y", "b")}),
            L({{"a", "x\xff\xc3y"}, {"b", "\xff\xc3"}}));
  EXPECT_EQ(run(L({{"a",
                    "a\xff"
                    "b"}}),
                {action_spec(keep, {"a"}, "a.b")}),
            L({{"a",
                "a\xff"
                "b"}}));
  EXPECT_EQ(run(L({{"a",
                    "a\xff"
                    "b"}}),
                {action_spec(keep, {"a"}, "a\\x{fffd}b")}),
            L({{"a",
                "a\xff"
                "b"}}));
  EXPECT_EQ(run(L({{"a",
                    "a\xff"
                    "b"}}),
                {action_spec(keep, {"a"}, "a..b")}),
            std::nullopt);
  relabel_spec m = action_spec(labelmap, {}, "p_(.)(.*)");
  m.replacement = "${2}_$1";  // "$2_" would name a group "2_"
  EXPECT_EQ(run(L({{"p_\xffz", "1"}}), {m}), L({{"p_\xffz", "1"}, {"z_\xff", "1"}}));
}

TEST(relabel, go_template_rules) {
  const labels in = L({{"a", "foo-bar"}});
  auto tmpl = [&](std::string replacement) {
    auto out =
        run(in, {replace_spec({"a"}, "(?P<first>[a-z]+)-(?P<second>[a-z]+)", "t", std::move(replacement))});
    return out ? std::string(get(*out, "t")) : std::string("<dropped>");
  };
  EXPECT_EQ(tmpl("$$1"), "$1");
  EXPECT_EQ(tmpl("${first}.${second}"), "foo.bar");
  EXPECT_EQ(tmpl("$second"), "bar");
  EXPECT_EQ(tmpl("$0"), "foo-bar");
  EXPECT_EQ(tmpl("$1x"), "");  // the name is "1x": no such group
  EXPECT_EQ(tmpl("${1}x"), "foox");
  EXPECT_EQ(tmpl("$01"), "");     // leading zero: a name, not a number
  EXPECT_EQ(tmpl("$9"), "");      // beyond the groups
  EXPECT_EQ(tmpl("a$"), "a$");    // malformed: literal '$'
  EXPECT_EQ(tmpl("${1"), "${1");  // missing brace: literal
  EXPECT_EQ(tmpl("$-"), "$-");
  EXPECT_EQ(tmpl("$1é"), "");  // é is a letter, part of the name
  EXPECT_EQ(tmpl("$1-$2"), "foo-bar");
  EXPECT_EQ(tmpl("${second}${first}"), "barfoo");
}

TEST(relabel, target_label_with_named_group) {
  EXPECT_EQ(run(L({{"a", "k=v"}}), {replace_spec({"a"}, "(?P<k>\\w+)=(?P<v>\\w+)", "${k}_x", "$v")}),
            L({{"a", "k=v"}, {"k_x", "v"}}));
}

// 2.42 deletes the target label as written (unexpanded) when the expanded name is invalid or the value empty.
TEST(relabel, v2_42_deletes_unexpanded_target_label) {
  EXPECT_EQ(run(L({{"a", "x"}, {"b", "keep"}}), {replace_spec({"a"}, "(.*)", "b", "${2}")}), L({{"a", "x"}}));
  // Templated target with an empty value: "${1}" is deleted, which is not a label, so "x" survives.
  EXPECT_EQ(run(L({{"a", "x"}, {"x", "keep"}}), {replace_spec({"a"}, "(.*)", "${1}", "${2}")}),
            L({{"a", "x"}, {"x", "keep"}}));
}

TEST(relabel, replace_overwrites_and_keeps_sorted) {
  auto out = run(L({{"z", "1"}, {"a", "2"}}),
                 {replace_spec({"z"}, "(.*)", "m", "v$1"), replace_spec({"a"}, "(.*)", "z")});
  EXPECT_EQ(out, L({{"a", "2"}, {"m", "v1"}, {"z", "2"}}));
}

TEST(relabel, labelmap_reads_the_set_as_it_was_before_the_rule) {
  // b and c both map to "b": the later (c) wins, and b's own value is the one it had before the rule.
  relabel_spec s = action_spec(labelmap, {}, "[bc]");
  s.replacement = "b";
  EXPECT_EQ(run(L({{"b", "1"}, {"c", "2"}}), {s}), L({{"b", "2"}, {"c", "2"}}));
  // A name produced by the rule is not matched again by it.
  s = action_spec(labelmap, {}, "(.*)");
  s.replacement = "x_$1";
  EXPECT_EQ(run(L({{"a", "1"}}), {s}), L({{"a", "1"}, {"x_a", "1"}}));
}

TEST(relabel, labelmap_default_replacement_and_broken_out_regex) {
  relabel_spec s = action_spec(labelmap, {}, "__meta_kubernetes_pod_label_(.+)");
  EXPECT_EQ(run(L({{"__meta_kubernetes_pod_label_app", "web"}}), {s}),
            L({{"__meta_kubernetes_pod_label_app", "web"}, {"app", "web"}}));
  // "a)|(b" becomes ^(?:a)|(b)$: Go's ReplaceAllString then replaces the leading "a" and keeps the rest.
  s = action_spec(labelmap, {}, "a)|(b");
  s.replacement = "z";
  EXPECT_EQ(run(L({{"ax", "1"}}), {s}), L({{"ax", "1"}, {"zx", "1"}}));
}

TEST(relabel, labeldrop_everything_and_labelkeep_nothing) {
  EXPECT_EQ(run(L({{"a", "1"}, {"b", "2"}}), {action_spec(labeldrop, {}, ".*")}), labels{});
  EXPECT_EQ(run(L({{"a", "1"}, {"b", "2"}}), {action_spec(labelkeep, {}, "")}), labels{});
}

TEST(relabel, lowercase_uppercase_unicode_and_invalid_bytes) {
  auto cased = [](relabel_action a, std::string v) {
    relabel_spec s = action_spec(a, {"v"});
    s.target_label = "out";
    auto out = run(L({{"v", std::move(v)}}), {s});
    return std::string(get(*out, "out"));
  };
  EXPECT_EQ(cased(uppercase, "straße é"), "STRAßE É");  // ß has no simple uppercase
  EXPECT_EQ(cased(lowercase, "ÀÉÎ Ω"), "àéî ω");
  EXPECT_EQ(cased(lowercase, "A\xffZ"), "a\xef\xbf\xbdz");  // Go's strings.Map: invalid byte -> U+FFFD
  EXPECT_EQ(cased(uppercase, ""), "");
}

TEST(relabel, hashmod_values) {
  // python3: int.from_bytes(hashlib.md5(s).digest()[8:], "big") % m
  EXPECT_EQ(hashmod_value("", 1000), 958u);
  EXPECT_EQ(hashmod_value("10.132.183.40:80", 3), 1u);
  EXPECT_EQ(hashmod_value("a;b", 7), 2u);
  EXPECT_EQ(hashmod_value("foo", 18446744073709551615ull),
            17145033699835028696ull);  // the low 8 bytes, whole
  relabel_spec s = action_spec(hashmod, {"a", "b"});
  s.target_label = "h";
  s.modulus = 7;
  EXPECT_EQ(run(L({{"a", "a"}, {"b", "b"}}), {s}), L({{"a", "a"}, {"b", "b"}, {"h", "2"}}));
}

TEST(relabel, kept_set_is_unchanged_and_rules_are_reusable) {
  relabel_rules rules{rule(action_spec(keep, {"__name__"}, "up|node_.*"))};
  labels a = L({{"__name__", "node_load1"}, {"job", "n"}});
  const labels before = a;
  EXPECT_TRUE(process(a, rules));
  EXPECT_EQ(a, before);
  labels b = L({{"__name__", "go_goroutines"}});
  EXPECT_FALSE(process(b, rules));
  relabel_rules copy = rules;  // copies share the compiled regex
  labels c = L({{"__name__", "up"}});
  EXPECT_TRUE(process(c, copy));
}

TEST(relabel, rules_that_change_nothing_do_not_allocate) {
  relabel_spec low = action_spec(lowercase, {"job"});
  low.target_label = "job";
  relabel_spec hm = action_spec(hashmod, {"instance"});
  hm.target_label = "shard";
  hm.modulus = 4;
  relabel_spec eq = action_spec(keepequal, {"job"});
  eq.target_label = "job";
  const relabel_rules rules{rule(action_spec(keep, {"__name__"}, "up|http_.*")),
                            rule(action_spec(drop, {"__name__", "job"}, "go_.*;.*")),
                            rule(replace_spec({"job"}, "(.*)", "job")),
                            rule(replace_spec({"job"}, "nomatch(.*)", "other", "x$1")),
                            rule(action_spec(labeldrop, {}, "__tmp_.*")),
                            rule(action_spec(labelkeep, {}, ".+")),
                            rule(action_spec(labelmap, {}, "__meta_(.*)")),
                            rule(low),
                            rule(hm),
                            rule(eq)};
  labels ls = L({{"__name__", "http_requests_total"}, {"instance", "10.0.0.1:80"}, {"job", "api"}});
  ASSERT_TRUE(process(ls, rules));  // adds the shard label and warms the scratch buffers up
  const labels after_first = ls;
  const long before = allocations.load();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(process(ls, rules));
  EXPECT_EQ(allocations.load() - before, 0);
  EXPECT_EQ(ls, after_first);
}

// --- parsing the action and validation ---------------------------------------------------------------------

TEST(relabel, parse_action_is_case_insensitive) {
  EXPECT_EQ(parse_action("Replace"), replace);
  EXPECT_EQ(parse_action("LABELMAP"), labelmap);
  EXPECT_EQ(parse_action("keepEqual"), keepequal);
  EXPECT_EQ(parse_action("uppercase"), uppercase);
  EXPECT_EQ(parse_action("keep_equal"), std::nullopt);
  EXPECT_EQ(parse_action(""), std::nullopt);
  EXPECT_EQ(action_error(""), "relabel action cannot be empty");
  EXPECT_EQ(action_error("foo"), "unknown relabel action \"foo\"");
  for (auto a : {replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep,
                 lowercase, uppercase}) {
    EXPECT_EQ(parse_action(to_string(a)), a);
  }
}

TEST(relabel, validation_messages) {
  relabel_spec s;
  EXPECT_EQ(compile_error(s), "relabel configuration for replace action requires 'target_label' value");
  s.target_label = "-bad";
  EXPECT_EQ(compile_error(s), "\"-bad\" is invalid 'target_label' for replace action");
  s.target_label = "${1}ok";
  EXPECT_EQ(compile_error(s), "<compiled>");

  s = action_spec(hashmod, {"a"});
  s.target_label = "h";
  EXPECT_EQ(compile_error(s), "relabel configuration for hashmod requires non-zero modulus");
  s.modulus = 3;
  s.target_label = "${1}";
  EXPECT_EQ(compile_error(s), "\"${1}\" is invalid 'target_label' for hashmod action");
  s.target_label = "";
  EXPECT_EQ(compile_error(s), "relabel configuration for hashmod action requires 'target_label' value");

  s = action_spec(lowercase, {"a"});
  EXPECT_EQ(compile_error(s), "relabel configuration for lowercase action requires 'target_label' value");
  s.target_label = "b";
  s.replacement = "x";
  EXPECT_EQ(compile_error(s), "'replacement' can not be set for lowercase action");

  s = action_spec(labelmap, {});
  s.replacement = "-x";
  EXPECT_EQ(compile_error(s), "\"-x\" is invalid 'replacement' for labelmap action");

  s = action_spec(keepequal, {"a"});
  s.target_label = "b";
  EXPECT_EQ(compile_error(s), "<compiled>");
  s.regex_set = true;  // even an explicit "(.*)"
  EXPECT_EQ(compile_error(s),
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields");
  s.regex_set = false;
  s.separator = ",";
  EXPECT_EQ(compile_error(s),
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields");
  s = action_spec(dropequal, {"a"});
  s.target_label = "b";
  s.modulus = 2;
  EXPECT_EQ(compile_error(s),
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields");

  s = action_spec(labeldrop, {}, "tmp_.*");
  s.regex_set = true;
  EXPECT_EQ(compile_error(s), "<compiled>");
  for (int field = 0; field < 5; ++field) {
    relabel_spec t = s;
    if (field == 0) t.source_labels_set = true;  // source_labels: []
    if (field == 1) t.target_label = "x";
    if (field == 2) t.modulus = 1;
    if (field == 3) t.separator = "";
    if (field == 4) t.replacement = "x";
    EXPECT_EQ(compile_error(t), "labeldrop action requires only 'regex', and no other fields") << field;
  }
  s.action = labelkeep;
  s.source_labels = {"a"};
  EXPECT_EQ(compile_error(s), "labelkeep action requires only 'regex', and no other fields");

  s = replace_spec({"a"}, "(unclosed", "b");
  EXPECT_NE(compile_error(s).find("error parsing regexp \"(unclosed\""), std::string::npos)
      << compile_error(s);
  s = replace_spec({"0bad"}, "(.*)", "b");
  EXPECT_EQ(compile_error(s), "\"0bad\" is not a valid label name");
}

// 2.42 checks lowercase/uppercase/keepequal/dropequal targets only against relabelTarget, so "${1}" passes
// and is then used as a literal name.
TEST(relabel, v2_42_lowercase_target_with_dollar_is_literal) {
  relabel_spec s = action_spec(lowercase, {"a"});
  s.target_label = "${1}";
  EXPECT_EQ(run(L({{"a", "X"}}), {s}), L({{"${1}", "x"}, {"a", "X"}}));
}

TEST(relabel, label_name_validity) {
  EXPECT_TRUE(is_valid_label_name("__name__"));
  EXPECT_TRUE(is_valid_label_name("a1"));
  EXPECT_FALSE(is_valid_label_name("1a"));
  EXPECT_FALSE(is_valid_label_name(""));
  EXPECT_FALSE(is_valid_label_name("a-b"));
  EXPECT_FALSE(is_valid_label_name("é"));
}

TEST(relabel, fingerprint_follows_every_field_of_the_spec) {
  const relabel_spec base = replace_spec({"a", "b"}, "(x)(.*)", "t", "$2");
  EXPECT_EQ(rule(base).fingerprint(), rule(base).fingerprint()) << "compiled twice: the same rule";
  std::vector<relabel_spec> changed(9, base);
  changed[0].source_labels = {"a"};
  changed[1].source_labels = {"ab"};  // the names' bytes alike, split elsewhere
  changed[2].separator = ",";
  changed[3].regex = "(x)(.+)";
  changed[4].target_label = "u";
  changed[5].replacement = "$1";
  changed[6].action = hashmod;
  changed[6].modulus = 4;
  changed[7] = changed[6];
  changed[7].modulus = 5;
  changed[8].source_labels = {"b", "a"};
  std::vector<std::uint64_t> seen{rule(base).fingerprint()};
  for (const auto& s : changed) {
    const auto f = rule(s).fingerprint();
    EXPECT_EQ(std::ranges::count(seen, f), 0) << "spec " << seen.size() - 1 << " collides";
    seen.push_back(f);
  }
}

// For messages: the bytes, non-printable ones as \xNN.
std::string shown(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out + "\"";
}

TEST(relabel, plain_regexes_match_as_re2_does) {
  // A literal or literal-then-.* regex is answered by a comparison; wrapped in a group it goes to RE2.
  // Both must agree, line breaks, NUL, invalid UTF-8 and the empty string included.
  const std::vector<std::string> regexes = {"go_.*", "fstype", "", ".*", "a b/c:d-e,f;g=h@i", "x.*"};
  const std::vector<std::string> values = {"",
                                           "go_",
                                           "go_x",
                                           "go_x\n",
                                           "go\n_",
                                           "xgo_",
                                           "go_\xff",
                                           "GO_x",
                                           "go",
                                           "fstype",
                                           std::string("go_\0y", 5),
                                           "fstypes",
                                           "x\ny",
                                           "a b/c:d-e,f;g=h@i"};
  for (const auto& re : regexes) {
    for (const auto action : {drop, keep, labeldrop, labelkeep, replace}) {
      for (const auto& v : values) {
        auto spec = [&](const std::string& regex) {
          relabel_spec s = action == labeldrop || action == labelkeep ? action_spec(action, {}, regex)
                                                                      : action_spec(action, {"src"}, regex);
          if (action == replace) {
            s.target_label = "out";
            s.replacement = "hit";
          }
          return s;
        };
        // The value as a label value, and (for labeldrop/labelkeep) as a label name.
        labels in = L({{"__name__", "m"}, {"src", v}});
        if (action == labeldrop || action == labelkeep) in.push_back({v, "1"});
        sort_labels(in);
        EXPECT_EQ(run(in, {spec(re)}), run(in, {spec("(?:" + re + ")")}))
            << "regex " << shown(re) << " action " << to_string(action) << " value " << shown(v);
      }
    }
  }
}

TEST(relabel, replace_without_a_source_value_only_runs_when_the_regex_matches_empty) {
  relabel_spec s = replace_spec({"missing"}, "/dev/(.+)", "disk");
  EXPECT_EQ(run(L({{"a", "1"}}), {s}), L({{"a", "1"}}));
  s = replace_spec({"missing"}, "(.*)", "disk", "static");
  EXPECT_EQ(run(L({{"a", "1"}}), {s}), L({{"a", "1"}, {"disk", "static"}}));
  s = replace_spec({"missing"}, "x?", "disk", "$0$0");  // matches "": the value expands empty, which deletes
  EXPECT_EQ(run(L({{"a", "1"}, {"disk", "old"}}), {s}), L({{"a", "1"}}));
}

}  // namespace
}  // namespace sigv4::scraper
