// Dynamic sharding: the tuner's arithmetic (Prometheus 2.42's calculateDesiredShards) and the queue's
// re-split, which must keep every series on one shard and in order.
#include "scraper/sharding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "scraper/queue.hpp"
#include "scraper/remote_write.hpp"

namespace sigv4::scraper {
namespace {

using namespace std::chrono_literals;

// A sender that takes `in` samples/s, delivers `out` samples/s, spending `busy` seconds per second in sends,
// `delay` seconds behind.
struct load {
  double in, out, busy, delay;
};

// A tuner and the sender's cumulative counters, which each tick advances by 10 s of a load.
struct driven_tuner {
  shard_tuner tuner;
  shard_inputs acc{};

  driven_tuner(std::size_t min_shards, std::size_t max_shards) : tuner(min_shards, max_shards) {}

  std::size_t run(std::size_t shards, load l, int ticks, bool sent = true, bool throttled = false) {
    for (int i = 0; i < ticks; ++i) {
      acc.samples_in += static_cast<std::uint64_t>(l.in * 10);
      acc.samples_out += static_cast<std::uint64_t>(l.out * 10);
      acc.send_seconds += l.busy * 10;
      acc.highest_received_s += 10;
      acc.highest_sent_s = acc.highest_received_s - l.delay;
      acc.sent_recently = sent;
      acc.throttled = throttled;
      shards = tuner.tick(acc, shards);
    }
    return shards;
  }
};

// What a new tuner within [min_shards, max_shards], running `shards`, answers after `ticks` ticks of `l`.
std::size_t fresh(std::size_t min_shards, std::size_t max_shards, std::size_t shards, load l, int ticks = 1,
                  bool sent = true, bool throttled = false) {
  return driven_tuner(min_shards, max_shards).run(shards, l, ticks, sent, throttled);
}

TEST(shard_tuner, sizes_for_the_incoming_rate_and_time_per_sample) {
  driven_tuner t(1, 200);
  // 10k samples/s in and out, 2 s of sending per second (e.g. 4 shards each busy half the time): 2 shards.
  EXPECT_EQ(t.run(4, {10000, 10000, 2, 0}, 1), 2u);
  EXPECT_NEAR(t.tuner.desired(), 2.0, 1e-9);
  // 6 s of sending per second at the same rate: 6 shards (a change of more than 30%).
  EXPECT_EQ(t.run(2, {10000, 10000, 6, 0}, 20), 6u);
}

TEST(shard_tuner, changes_within_30_percent_are_ignored_and_bounds_hold) {
  EXPECT_EQ(fresh(2, 8, 10, {1000, 1000, 11.5, 0}, 3), 10u) << "12 is within 30% of 10";
  EXPECT_EQ(fresh(2, 8, 4, {1000, 1000, 40, 0}), 8u) << "max_shards";
  EXPECT_EQ(fresh(2, 8, 4, {1000, 1000, 0.01, 0}), 2u) << "min_shards";
}

TEST(shard_tuner, a_backlog_adds_shards_to_catch_up_and_blocks_shrinking) {
  // 1000 samples/s, 0.5 s busy per second, but 600 s behind: pending 600k samples, 5% of them per second.
  EXPECT_EQ(fresh(1, 200, 1, {1000, 1000, 0.5, 600}), 16u)
      << "0.0005 s/sample * (1000 + 0.05 * 600000) = 15.5";
  EXPECT_EQ(fresh(1, 200, 8, {1000, 1000, 0.5, 30}), 8u) << "fewer shards are refused while 30 s behind";
  EXPECT_EQ(fresh(1, 200, 8, {1000, 1000, 0.5, 0}), 1u) << "and taken when caught up";
}

TEST(shard_tuner, a_throttling_receiver_gets_no_more_shards_but_may_get_fewer) {
  EXPECT_EQ(fresh(1, 200, 4, {10000, 10000, 40, 0}, 1, true, /*throttled=*/true), 4u);
  EXPECT_EQ(fresh(1, 200, 8, {1000, 1000, 0.5, 0}, 1, true, /*throttled=*/true), 1u);
}

TEST(shard_tuner, nothing_changes_without_a_recent_successful_send_or_any_output) {
  EXPECT_EQ(fresh(1, 200, 4, {10000, 10000, 40, 0}, 1, /*sent=*/false), 4u);
  EXPECT_EQ(fresh(1, 200, 4, {0, 0, 0, 0}, 3), 4u) << "no samples out: no basis";
}

// --- the queue's re-split ------------------------------------------------------------------------------

struct series {
  std::string flat;
  std::uint64_t hash;
};

series make(int i) {
  const std::string v = std::to_string(i);
  const label_view ls[] = {{"__name__", "m"}, {"i", v}};
  series s;
  append_flat(s.flat, ls);
  s.hash = hash_flat(s.flat);
  return s;
}

TEST(queue_resharding, waits_for_the_batch_in_flight_then_splits_keeping_each_series_in_order) {
  queue_settings qs;
  qs.min_shards = 2;
  qs.max_samples_per_send = 5;
  qs.capacity = 1000;
  qs.backoff_jitter = 0;
  write_queue q(qs, 1);
  const time_point t0 = time_point{} + 100s;
  std::vector<series> ss;
  for (int i = 0; i < 12; ++i) ss.push_back(make(i));
  std::string rec;
  for (std::int64_t t = 0; t < 10; ++t) {
    for (const auto& s : ss) {
      rec.clear();
      append_timeseries(rec, s.flat, t, static_cast<double>(t));
      ASSERT_TRUE(q.add(s.hash, t, rec));
    }
    q.commit(t0);
  }
  auto in_flight = q.take_batch(0, t0);
  ASSERT_TRUE(in_flight);
  auto retried = q.take_batch(1, t0);
  ASSERT_TRUE(retried);
  const std::vector<record_info> retried_records(retried->records.begin(), retried->records.end());
  q.complete(1, retried->id, {outcome_kind::retry, loss_reason::http_other, 0s, "503"}, t0);

  q.request_shards(5);
  EXPECT_TRUE(q.resharding());
  EXPECT_EQ(q.shards(), 2u) << "a batch is in flight";
  EXPECT_FALSE(q.take_batch(1, t0 + 1h)) << "nothing is handed out meanwhile, not even the retry";
  EXPECT_EQ(q.next_wakeup(1), time_point::max());
  q.complete(0, in_flight->id, {}, t0);
  ASSERT_EQ(q.shards(), 5u);
  EXPECT_FALSE(q.resharding());

  // Everything left comes out (the retried batch's samples included), each series on one shard, its
  // timestamps rising.
  std::map<std::uint64_t, std::vector<std::int64_t>> seen;
  std::map<std::uint64_t, std::size_t> shard_of;
  std::size_t total = 0;
  for (std::size_t sh = 0; sh < q.shards(); ++sh) {
    while (auto b = q.take_batch(sh, t0 + 1h, take_mode::flush)) {
      for (const auto& r : b->records) {
        EXPECT_EQ(r.series_hash % 5, sh);
        auto [it, fresh] = shard_of.emplace(r.series_hash, sh);
        EXPECT_EQ(it->second, sh);
        seen[r.series_hash].push_back(r.t_ms);
        ++total;
      }
      q.complete(sh, b->id, {}, t0 + 1h);
    }
  }
  for (const auto& r : retried_records) {
    const auto& ts = seen[r.series_hash];
    EXPECT_NE(std::find(ts.begin(), ts.end(), r.t_ms), ts.end()) << "retried sample " << r.t_ms;
  }
  EXPECT_EQ(total, 120u - in_flight->records.size());
  for (auto& [h, ts] : seen) EXPECT_TRUE(std::is_sorted(ts.begin(), ts.end())) << h;
  const auto& st = q.stats();
  EXPECT_EQ(st.samples_in, st.samples_sent + st.samples_failed + st.samples_dropped + st.samples_pending);
  EXPECT_EQ(st.samples_pending, 0u);
}

TEST(queue_resharding, applies_at_once_when_idle_and_ignores_the_same_count) {
  queue_settings qs;
  qs.min_shards = 3;
  write_queue q(qs, 1);
  q.request_shards(3);
  EXPECT_FALSE(q.resharding());
  q.request_shards(0);
  EXPECT_EQ(q.shards(), 1u) << "at least one";
}

}  // namespace
}  // namespace sigv4::scraper
