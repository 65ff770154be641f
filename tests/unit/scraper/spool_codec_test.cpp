// The spool's record of a scrape (sample_batch in, sample_batch out) and the acknowledgement tracker that
// decides how far a reader may commit.
#include "scraper/spool_codec.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <snappy.h>

namespace sigv4::scraper {
namespace {

sample_batch batch_of(std::size_t n) {
  sample_batch b;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string value = "v" + std::to_string(i);
    const label_view ls[] = {{"__name__", "metric_total"}, {"instance", "h:1"}, {"series", value}};
    b.add(ls, 1'700'000'000'000 + static_cast<std::int64_t>(i), static_cast<double>(i) * 0.5);
  }
  return b;
}

void expect_same(const sample_batch& a, const sample_batch& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto &x = a.entries()[i], &y = b.entries()[i];
    EXPECT_EQ(a.flat_labels(x), b.flat_labels(y)) << i;
    EXPECT_EQ(x.hash, y.hash) << i;
    EXPECT_EQ(x.t_ms, y.t_ms) << i;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(x.v), std::bit_cast<std::uint64_t>(y.v)) << i;
  }
}

TEST(spool_codec, round_trip_keeps_every_sample_bit_for_bit) {
  sample_batch in = batch_of(1000);
  // The values Prometheus' wire needs exactly: the stale marker's NaN bits, infinities, -0, a negative time.
  const label_view s[] = {{"__name__", "odd"}};
  in.add(s, -5, stale_nan());
  in.add(s, 1, std::numeric_limits<double>::infinity());
  in.add(s, 2, -0.0);
  std::string scratch, payload;
  const std::int64_t newest = encode_spool_record(in, scratch, payload);
  EXPECT_EQ(newest, 1'700'000'000'999);
  EXPECT_LT(payload.size(), scratch.size() / 2) << "snappy-compressed";
  sample_batch out;
  ASSERT_TRUE(decode_spool_record(payload, scratch, out));
  expect_same(in, out);
  EXPECT_TRUE(is_stale_nan(out.entries()[1000].v));
}

TEST(spool_codec, decode_appends_and_an_empty_batch_round_trips) {
  std::string scratch, payload;
  sample_batch empty, out = batch_of(3);
  encode_spool_record(empty, scratch, payload);
  ASSERT_TRUE(decode_spool_record(payload, scratch, out));
  EXPECT_EQ(out.size(), 3u);
  encode_spool_record(batch_of(2), scratch, payload);
  ASSERT_TRUE(decode_spool_record(payload, scratch, out));
  EXPECT_EQ(out.size(), 5u);
}

TEST(spool_codec, foreign_or_cut_bytes_are_refused_and_leave_the_batch_as_it_was) {
  std::string scratch, payload;
  encode_spool_record(batch_of(10), scratch, payload);
  sample_batch out = batch_of(2);
  EXPECT_FALSE(decode_spool_record("not snappy at all", scratch, out));
  EXPECT_FALSE(decode_spool_record(payload.substr(0, payload.size() - 3), scratch, out));
  // Valid snappy, but not our version byte, or cut inside a sample.
  std::string raw = "\x02", wrapped;
  snappy::Compress(raw.data(), raw.size(), &wrapped);
  EXPECT_FALSE(decode_spool_record(wrapped, scratch, out));
  std::string plain;
  ASSERT_TRUE(snappy::Uncompress(payload.data(), payload.size(), &plain));
  plain.resize(plain.size() - 4);
  snappy::Compress(plain.data(), plain.size(), &wrapped);
  EXPECT_FALSE(decode_spool_record(wrapped, scratch, out));
  EXPECT_EQ(out.size(), 2u);
}

TEST(ack_tracker, commits_only_the_prefix_of_records_whose_samples_are_all_done) {
  ack_tracker<int> t;
  const auto a = t.add(10, 2), b = t.add(20, 1), c = t.add(30, 0);
  int end = 0;
  EXPECT_FALSE(t.committable(end));
  t.done(b);  // the second record is done first (another shard was faster): nothing can commit yet
  EXPECT_FALSE(t.committable(end));
  t.done(a);
  EXPECT_FALSE(t.committable(end));
  t.done(a);
  ASSERT_TRUE(t.committable(end));
  EXPECT_EQ(end, 30) << "a, b and the empty c";
  EXPECT_EQ(t.outstanding(), 0u);
  (void)c;
  EXPECT_FALSE(t.committable(end));
  const auto d = t.add(40, 3);
  t.done(d, 3);
  ASSERT_TRUE(t.committable(end));
  EXPECT_EQ(end, 40);
}

TEST(ack_tracker, samples_without_an_origin_and_old_origins_are_ignored) {
  ack_tracker<int> t;
  const auto a = t.add(1, 1);
  t.done(ack_tracker<int>::none);
  int end = 0;
  EXPECT_FALSE(t.committable(end));
  t.done(a);
  ASSERT_TRUE(t.committable(end));
  t.done(a);  // already committed: no effect, no crash
  EXPECT_EQ(t.outstanding(), 0u);
}

}  // namespace
}  // namespace sigv4::scraper
