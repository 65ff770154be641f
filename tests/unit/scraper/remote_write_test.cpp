#include "scraper/remote_write.hpp"

#include <gtest/gtest.h>
#include <snappy.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "remote.pb.h"

namespace sigv4::scraper {
namespace {

series_ptr make_series(labels ls, std::uint64_t id = 0) {
  sort_labels(ls);
  auto s = std::make_shared<series>();
  s->hash = hash(ls);
  s->lbls = std::move(ls);
  s->id = id;
  return s;
}

prometheus::WriteRequest decode(const std::string& snappy_body) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(snappy_body.data(), snappy_body.size(), &raw));
  prometheus::WriteRequest req;
  EXPECT_TRUE(req.ParseFromString(raw));
  return req;
}

labels labels_of(const prometheus::TimeSeries& ts) {
  labels out;
  for (const auto& l : ts.labels()) out.push_back({l.name(), l.value()});
  return out;
}

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}

TEST(remote_write, groups_by_series_in_first_appearance_order_keeping_sample_order) {
  auto a = make_series({{"__name__", "up"}, {"job", "node"}});
  auto b = make_series({{"__name__", "node_load1"}, {"instance", "h:9100"}});
  std::vector<sample> batch = {{b, 1000, 1.5}, {a, 1000, 1}, {b, 2000, 2.5}, {a, 2000, 0}, {b, 3000, 3.5}};
  write_request_encoder enc;
  std::string body;
  enc.encode(batch, {}, body);
  auto req = decode(body);
  ASSERT_EQ(req.timeseries_size(), 2);
  EXPECT_EQ(labels_of(req.timeseries(0)), b->lbls);
  EXPECT_EQ(labels_of(req.timeseries(1)), a->lbls);
  ASSERT_EQ(req.timeseries(0).samples_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(req.timeseries(0).samples(i).timestamp(), 1000 * (i + 1));
    EXPECT_EQ(req.timeseries(0).samples(i).value(), 1.5 + i);
  }
  ASSERT_EQ(req.timeseries(1).samples_size(), 2);
  EXPECT_EQ(req.timeseries(1).samples(0).value(), 1);
  EXPECT_EQ(req.timeseries(1).samples(1).value(), 0);  // proto3 leaves a zero out; it decodes as 0
  EXPECT_EQ(req.timeseries(1).samples(1).timestamp(), 2000);
  EXPECT_EQ(req.metadata_size(), 0);
}

TEST(remote_write, special_values_and_timestamps_survive_bit_exact) {
  auto s = make_series({{"__name__", "x"}});
  const double quiet_nan = std::numeric_limits<double>::quiet_NaN();
  const double values[] = {stale_nan(),
                           quiet_nan,
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
  std::vector<sample> batch;
  for (std::size_t i = 0; i < std::size(values); ++i) batch.push_back({s, times[i], values[i]});
  for (int pass = 0; pass < 2; ++pass) {
    std::string body;
    if (pass == 0) {
      write_request_encoder enc;
      enc.encode(batch, {}, body);
    } else {
      protoc_write_request_encoder enc;
      enc.encode(batch, {}, body);
    }
    auto req = decode(body);
    ASSERT_EQ(req.timeseries_size(), 1);
    ASSERT_EQ(req.timeseries(0).samples_size(), static_cast<int>(batch.size()));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& got = req.timeseries(0).samples(static_cast<int>(i));
      EXPECT_EQ(bits(got.value()), bits(values[i])) << "pass " << pass << " sample " << i;
      EXPECT_EQ(got.timestamp(), times[i]) << "pass " << pass << " sample " << i;
    }
    EXPECT_EQ(bits(req.timeseries(0).samples(0).value()), stale_nan_bits);
  }
}

TEST(remote_write, empty_batch_is_an_empty_request) {
  write_request_encoder enc;
  std::string body = "garbage from before";
  enc.encode({}, {{"cluster", "c1"}}, body);
  EXPECT_EQ(decode(body).timeseries_size(), 0);
  EXPECT_TRUE(enc.last_uncompressed().empty());
}

TEST(remote_write, external_labels_fill_gaps_and_the_series_value_wins) {
  auto s = make_series({{"__name__", "up"}, {"cluster", "own"}, {"job", "j"}});
  auto t = make_series({{"__name__", "up"}, {"zone", "z9"}});
  labels external = {{"a_first", "1"}, {"cluster", "ext"}, {"region", "eu"}, {"zone", "ext-z"}};
  std::vector<sample> batch = {{s, 1, 1}, {t, 1, 2}};
  write_request_encoder enc;
  std::string body;
  enc.encode(batch, external, body);
  auto req = decode(body);
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
  // the series itself is untouched: external labels are added at send only
  EXPECT_EQ(s->lbls.size(), 3u);

  // an unsorted external set gives the same sorted result
  labels shuffled = {{"zone", "ext-z"}, {"cluster", "ext"}, {"a_first", "1"}, {"region", "eu"}};
  std::string body2;
  enc.encode(batch, shuffled, body2);
  EXPECT_EQ(body2, body);
}

TEST(remote_write, hand_encoder_writes_protocs_bytes) {
  std::mt19937_64 rng(7);
  std::vector<series_ptr> all;
  for (int i = 0; i < 300; ++i) {
    labels ls = {{"__name__", std::string("metric_").append(std::to_string(i % 17))},
                 {"instance", std::string("host-").append(std::to_string(i))}};
    for (int k = 0; k < static_cast<int>(rng() % 12); ++k) {
      ls.push_back(
          {std::string("l").append(std::to_string(k)), std::string(rng() % 200, static_cast<char>('a' + k))});
    }
    all.push_back(make_series(std::move(ls)));
  }
  std::vector<sample> batch;
  for (int i = 0; i < 2000; ++i) {
    double v = std::bit_cast<double>(rng());
    if (i % 7 == 0) v = static_cast<double>(rng() % 5);
    std::int64_t t = static_cast<std::int64_t>(rng() >> (rng() % 64));
    if (i % 11 == 0) t = -t;
    batch.push_back({all[rng() % all.size()], t, v});
  }
  labels external = {{"cluster", "c"}, {"instance", "ext"}, {"replica", "r1"}};
  write_request_encoder hand;
  protoc_write_request_encoder reference;
  std::string a, b;
  for (int round = 0; round < 3;
       ++round) {  // the reused buffers must not leak a previous round into the next
    std::span<const sample> part(batch.data(), batch.size() - static_cast<std::size_t>(round) * 700);
    hand.encode(part, external, a);
    reference.encode(part, external, b);
    ASSERT_EQ(hand.last_uncompressed(), reference.last_uncompressed()) << "round " << round;
    EXPECT_EQ(a, b);
    std::string raw;
    ASSERT_TRUE(snappy::Uncompress(a.data(), a.size(), &raw));
    EXPECT_EQ(raw, hand.last_uncompressed());
    std::size_t decoded = 0;
    const auto req = decode(a);
    for (const auto& ts : req.timeseries()) decoded += static_cast<std::size_t>(ts.samples_size());
    EXPECT_EQ(decoded, part.size());
  }
}

TEST(remote_write, merge_external_keeps_pointers_into_both_sets) {
  labels own = {{"b", "own"}, {"d", "4"}};
  labels ext = {{"a", "1"}, {"b", "ext"}, {"c", "3"}, {"e", "5"}};
  std::vector<const label*> out;
  detail::merge_external(own, ext, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], &ext[0]);
  EXPECT_EQ(out[1], &own[0]);
  EXPECT_EQ(out[2], &ext[2]);
  EXPECT_EQ(out[3], &own[1]);
  EXPECT_EQ(out[4], &ext[3]);
}

}  // namespace
}  // namespace sigv4::scraper
