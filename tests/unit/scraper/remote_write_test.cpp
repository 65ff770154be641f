#include "scraper/remote_write.hpp"

#include <gtest/gtest.h>
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <variant>

#include "remote.pb.h"

namespace sigv4::scraper {
namespace {

std::string flat(labels ls) {
  sort_labels(ls);
  label_views vs;
  to_views(ls, vs);
  std::string out;
  append_flat(out, vs);
  return out;
}

prometheus::WriteRequest decode_raw(const std::string& raw) {
  prometheus::WriteRequest req;
  EXPECT_TRUE(req.ParseFromString(raw));
  return req;
}

prometheus::WriteRequest decode(const std::string& snappy_body) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(snappy_body.data(), snappy_body.size(), &raw));
  return decode_raw(raw);
}

labels labels_of(const prometheus::TimeSeries& ts) {
  labels out;
  for (const auto& l : ts.labels()) out.push_back({l.name(), l.value()});
  return out;
}

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

relabel_rules drop_if(std::string label, std::string regex) {
  relabel_spec s;
  s.source_labels = {std::move(label)};
  s.regex = std::move(regex);
  s.action = relabel_action::drop;
  auto r = compile(s);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return {std::get<relabel_rule>(std::move(r))};
}

TEST(flat_labels, round_trip_and_protobufs_own_reading) {
  labels ls = {{"__name__", "up"}, {"instance", std::string(300, 'h')}, {"job", "node"}, {"le", "+Inf"}};
  const std::string f = flat(ls);
  EXPECT_EQ(to_labels(f), ls);
  label_views vs;
  ASSERT_TRUE(read_flat(f, vs));
  EXPECT_EQ(hash(vs), hash(ls)) << "a view set hashes as the owning set";
  EXPECT_EQ(to_string(vs), to_string(ls));
  prometheus::TimeSeries ts;
  ASSERT_TRUE(ts.ParseFromString(f)) << "the flat form is TimeSeries.labels on the wire";
  EXPECT_EQ(labels_of(ts), ls);
  EXPECT_FALSE(read_flat(f.substr(0, f.size() - 1), vs)) << "a cut set is refused";
  EXPECT_FALSE(read_flat("\x12\x01x", vs));
}

TEST(remote_write, each_sample_is_one_timeseries_in_order) {
  const std::string a = flat({{"__name__", "up"}, {"job", "node"}});
  const std::string b = flat({{"__name__", "node_load1"}, {"instance", "h:9100"}});
  std::string raw;
  append_timeseries(raw, b, 1000, 1.5);
  append_timeseries(raw, a, 1000, 1);
  append_timeseries(raw, b, 2000, 2.5);
  append_timeseries(raw, a, 2000, 0);
  std::string body;
  compress(raw, body);
  auto req = decode(body);
  ASSERT_EQ(req.timeseries_size(), 4);
  EXPECT_EQ(labels_of(req.timeseries(0)), to_labels(b));
  EXPECT_EQ(labels_of(req.timeseries(1)), to_labels(a));
  EXPECT_EQ(labels_of(req.timeseries(2)), to_labels(b));
  for (const auto& ts : req.timeseries()) ASSERT_EQ(ts.samples_size(), 1);
  EXPECT_EQ(req.timeseries(0).samples(0).value(), 1.5);
  EXPECT_EQ(req.timeseries(2).samples(0).timestamp(), 2000);
  EXPECT_EQ(req.timeseries(3).samples(0).value(), 0);  // proto3 leaves a zero out; it decodes as 0
  EXPECT_EQ(req.metadata_size(), 0);
}

TEST(remote_write, special_values_and_timestamps_survive_bit_exact) {
  const std::string s = flat({{"__name__", "x"}});
  const double values[] = {stale_nan(),
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           -0.0,
                           0.0,
                           std::numeric_limits<double>::denorm_min(),
                           -1e308};
  const std::int64_t times[] = {-1,
                                std::numeric_limits<std::int64_t>::min(),
                                0,
                                1,
                                std::numeric_limits<std::int64_t>::max(),
                                -86'400'000,
                                1'700'000'000'000,
                                2};
  std::string raw;
  for (std::size_t i = 0; i < std::size(values); ++i) append_timeseries(raw, s, times[i], values[i]);
  auto req = decode_raw(raw);
  ASSERT_EQ(req.timeseries_size(), static_cast<int>(std::size(values)));
  for (std::size_t i = 0; i < std::size(values); ++i) {
    const auto& got = req.timeseries(static_cast<int>(i)).samples(0);
    EXPECT_EQ(bits(got.value()), bits(values[i])) << "sample " << i;
    EXPECT_EQ(got.timestamp(), times[i]) << "sample " << i;
  }
  EXPECT_EQ(bits(req.timeseries(0).samples(0).value()), stale_nan_bits);
}

TEST(remote_write, records_are_protocs_bytes) {
  std::mt19937_64 rng(7);
  prometheus::WriteRequest reference;
  std::string raw;
  for (int i = 0; i < 2000; ++i) {
    labels ls = {{"__name__", std::string("metric_").append(std::to_string(i % 17))},
                 {"instance", std::string("host-").append(std::to_string(i))}};
    for (int k = 0; k < static_cast<int>(rng() % 12); ++k) {
      ls.push_back(
          {std::string("l").append(std::to_string(k)), std::string(rng() % 200, static_cast<char>('a' + k))});
    }
    sort_labels(ls);
    double v = std::bit_cast<double>(rng());
    if (i % 7 == 0) v = static_cast<double>(rng() % 5);
    std::int64_t t = static_cast<std::int64_t>(rng() >> (rng() % 64));
    if (i % 11 == 0) t = -t;
    append_timeseries(raw, flat(ls), t, v);
    auto* ts = reference.add_timeseries();
    for (const auto& l : ls) {
      auto* pl = ts->add_labels();
      pl->set_name(l.name);
      pl->set_value(l.value);
    }
    auto* ps = ts->add_samples();
    ps->set_value(v);
    ps->set_timestamp(t);
  }
  EXPECT_EQ(raw, reference.SerializeAsString());
}

TEST(record_builder, external_labels_fill_gaps_and_the_series_value_wins) {
  const std::string s = flat({{"__name__", "up"}, {"cluster", "own"}, {"job", "j"}});
  const std::string t = flat({{"__name__", "up"}, {"zone", "z9"}});
  // unsorted on purpose: the builder sorts
  record_builder rb({{"zone", "ext-z"}, {"cluster", "ext"}, {"a_first", "1"}, {"region", "eu"}}, {});
  std::string raw;
  ASSERT_TRUE(rb.build(s, 1, 1, raw));
  ASSERT_TRUE(rb.build(t, 1, 2, raw));
  auto req = decode_raw(raw);
  ASSERT_EQ(req.timeseries_size(), 2);
  EXPECT_EQ(labels_of(req.timeseries(0)), (labels{{"__name__", "up"},
                                                  {"a_first", "1"},
                                                  {"cluster", "own"},
                                                  {"job", "j"},
                                                  {"region", "eu"},
                                                  {"zone", "ext-z"}}));
  EXPECT_EQ(
      labels_of(req.timeseries(1)),
      (labels{{"__name__", "up"}, {"a_first", "1"}, {"cluster", "ext"}, {"region", "eu"}, {"zone", "z9"}}));
}

TEST(record_builder, external_label_records_are_protocs_bytes) {
  // Series whose record length sits on either side of a varint boundary (127/128, 16383/16384 bytes), with
  // and without own values for external label names: the length written before the merge is fixed after it.
  const labels external = {
      {"Aaa", "before all"}, {"cluster", "prod-eu-west-1"}, {"replica", "r0"}, {"zone", "z"}};
  record_builder rb(external, {});
  std::mt19937_64 rng(11);
  std::string raw;
  prometheus::WriteRequest reference;
  for (int i = 0; i < 3000; ++i) {
    const std::size_t pad = i % 3 == 0 ? rng() % 200 : i % 3 == 1 ? 16250 + rng() % 200 : rng() % 40;
    labels own = {{"__name__", "m"}, {"pad", std::string(pad, 'p')}};
    if (rng() % 2) own.push_back({"cluster", std::string(1 + rng() % 30, 'c')});
    if (rng() % 3 == 0) own.push_back({"zone", "own"});
    if (rng() % 4 == 0) own.push_back({"a", "first"});
    sort_labels(own);
    const double v = i % 5 == 0 ? 0.0 : std::bit_cast<double>(rng());
    const std::int64_t t = i % 7 == 0 ? 0 : static_cast<std::int64_t>(rng() >> 20);
    ASSERT_TRUE(rb.build(flat(own), t, v, raw));
    labels merged = own;
    for (const auto& l : external) {
      if (get(merged, l.name).empty()) merged.push_back(l);
    }
    sort_labels(merged);
    auto* ts = reference.add_timeseries();
    for (const auto& l : merged) {
      auto* pl = ts->add_labels();
      pl->set_name(l.name);
      pl->set_value(l.value);
    }
    auto* ps = ts->add_samples();
    ps->set_value(v);
    ps->set_timestamp(t);
  }
  const std::string want = reference.SerializeAsString();
  EXPECT_EQ(raw.size(), want.size());
  const auto diff = std::ranges::mismatch(raw, want);
  EXPECT_TRUE(diff.in1 == raw.end() && diff.in2 == want.end())
      << "first difference at byte " << (diff.in1 - raw.begin());
}

TEST(record_builder, without_external_labels_or_rules_the_record_is_the_flat_bytes) {
  const std::string s = flat({{"__name__", "up"}, {"job", "j"}});
  record_builder rb({}, {});
  std::string a, b;
  ASSERT_TRUE(rb.build(s, 5, 1, a));
  append_timeseries(b, s, 5, 1);
  EXPECT_EQ(a, b);
}

TEST(record_builder, write_relabel_sees_external_labels_and_drops) {
  record_builder rb({{"cluster", "prod"}}, drop_if("cluster", "prod"));
  EXPECT_TRUE(rb.relabels());
  std::string raw;
  EXPECT_FALSE(rb.build(flat({{"__name__", "up"}}), 1, 1, raw)) << "dropped on the external label";
  EXPECT_TRUE(raw.empty()) << "nothing appended for a dropped sample";
  ASSERT_TRUE(rb.build(flat({{"__name__", "up"}, {"cluster", "dev"}}), 1, 1, raw)) << "own value wins";
  EXPECT_EQ(labels_of(decode_raw(raw).timeseries(0)), (labels{{"__name__", "up"}, {"cluster", "dev"}}));
}

}  // namespace
}  // namespace sigv4::scraper
