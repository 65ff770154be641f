#include "scraper/queue.hpp"

#include "scraper/remote_write.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "remote.pb.h"

namespace sigv4::scraper {
namespace {

using namespace std::chrono_literals;
using wall = std::chrono::system_clock;

// A series as the queue's tests need one: its hash and its flat labels.
struct test_series {
  labels lbls;
  std::string flat;
  std::uint64_t hash = 0;
};
using series_ptr = std::shared_ptr<const test_series>;

series_ptr make_series(std::string name, std::string instance = "h:1") {
  auto s = std::make_shared<test_series>();
  s->lbls = {{"__name__", std::move(name)}, {"instance", std::move(instance)}};
  label_views vs;
  to_views(s->lbls, vs);
  append_flat(s->flat, vs);
  s->hash = hash(s->lbls);
  return s;
}

struct test_sample {
  series_ptr s;
  std::int64_t t_ms = 0;
  double v = 0;
};

std::vector<test_sample> samples_of(const series_ptr& s, std::int64_t first_t, std::size_t n) {
  std::vector<test_sample> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({s, first_t + static_cast<std::int64_t>(i), 1.0});
  return out;
}

// What the sender does with one scrape: a record per sample, then commit. Returns the samples kept.
std::size_t append(write_queue& q, const std::vector<test_sample>& batch, time_point now = {}) {
  std::size_t kept = 0;
  std::string record;
  for (const auto& smp : batch) {
    record.clear();
    append_timeseries(record, smp.s->flat, smp.t_ms, smp.v);
    kept += q.add(smp.s->hash, smp.t_ms, record) ? 1 : 0;
  }
  q.commit(now);
  return kept;
}

prometheus::WriteRequest decode(std::string_view raw) {
  prometheus::WriteRequest req;
  EXPECT_TRUE(req.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  return req;
}

const time_point t0 = time_point{} + 1000s;

queue_settings one_shard() {
  queue_settings qs;
  qs.backoff_jitter = 0;
  return qs;
}

outcome ok() {
  return {};
}
outcome retry() {
  return {outcome_kind::retry, loss_reason::http_other, 0s, "transport error"};
}

void expect_balanced(const queue_stats& st) {
  EXPECT_EQ(st.samples_in, st.samples_sent + st.samples_failed + st.samples_dropped + st.samples_pending);
}

TEST(queue_defaults, are_prometheus_2_42s) {
  queue_settings qs;
  EXPECT_EQ(qs.capacity, 2500u);
  EXPECT_EQ(qs.max_shards, 200u);
  EXPECT_EQ(qs.min_shards, 1u);
  EXPECT_EQ(qs.max_samples_per_send, 500u);
  EXPECT_EQ(qs.batch_send_deadline, 5s);
  EXPECT_EQ(qs.min_backoff, 30ms);
  EXPECT_EQ(qs.max_backoff, 5s);
  EXPECT_FALSE(qs.retry_on_http_429);
}

TEST(queue, batches_by_size_one_in_flight) {
  write_queue q(one_shard(), 1);
  auto s = make_series("a");
  append(q, samples_of(s, 0, 1200), t0);
  EXPECT_EQ(q.next_wakeup(0), time_point::min());
  auto b = q.take_batch(0, t0);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->records.size(), 500u);
  EXPECT_EQ(b->records.front().t_ms, 0);
  EXPECT_EQ(b->attempt, 0u);
  {  // the body is the WriteRequest of exactly these samples, in order
    const auto req = decode(b->body);
    ASSERT_EQ(req.timeseries_size(), 500);
    for (int i = 0; i < 500; ++i) ASSERT_EQ(req.timeseries(i).samples(0).timestamp(), i);
    EXPECT_EQ(req.timeseries(0).labels(0).value(), "a");
  }
  EXPECT_FALSE(q.take_batch(0, t0 + 1h)) << "a second batch while one is in flight";
  EXPECT_EQ(q.next_wakeup(0), time_point::max());
  q.complete(0, b->id, ok(), t0);
  auto c = q.take_batch(0, t0);
  ASSERT_TRUE(c);
  EXPECT_NE(c->id, b->id);
  EXPECT_EQ(c->records.front().t_ms, 500);
  q.complete(0, c->id, ok(), t0);
  EXPECT_FALSE(q.take_batch(0, t0)) << "200 left: neither full nor due";
  EXPECT_EQ(q.queued(0), 200u);
  EXPECT_EQ(q.stats().samples_pending, 200u);
  EXPECT_EQ(q.stats().batches_sent, 2u);
  EXPECT_EQ(q.stats().samples_sent, 1000u);
  EXPECT_EQ(q.stats().highest_sent_timestamp_ms, 999);
  expect_balanced(q.stats());
}

TEST(queue, batches_by_deadline_of_the_oldest_sample) {
  write_queue q(one_shard(), 1);
  auto s = make_series("a");
  EXPECT_EQ(q.next_wakeup(0), time_point::max());
  append(q, samples_of(s, 0, 10), t0);
  append(q, samples_of(s, 10, 10), t0 + 3s);
  EXPECT_EQ(q.next_wakeup(0), t0 + 5s);
  EXPECT_FALSE(q.take_batch(0, t0 + 5s - 1ms));
  auto b = q.take_batch(0, t0 + 5s);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->records.size(), 20u);
  q.complete(0, b->id, ok(), t0 + 5s);

  // after a full batch, the remainder's clock is its own arrival, not the batch's
  append(q, samples_of(s, 100, 400), t0 + 10s);
  append(q, samples_of(s, 500, 150), t0 + 12s);
  auto c = q.take_batch(0, t0 + 12s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->records.size(), 500u);
  q.complete(0, c->id, ok(), t0 + 12s);
  EXPECT_EQ(q.next_wakeup(0), t0 + 17s);
}

TEST(queue, flush_takes_a_partial_batch_now) {
  write_queue q(one_shard(), 1);
  append(q, samples_of(make_series("a"), 0, 3), t0);
  EXPECT_FALSE(q.take_batch(0, t0));
  auto b = q.take_batch(0, t0, take_mode::flush);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->records.size(), 3u);
}

TEST(queue, append_without_a_time_uses_the_latest_time_seen) {
  write_queue q(one_shard(), 1);
  EXPECT_FALSE(q.take_batch(0, t0 + 100s));
  append(q, samples_of(make_series("a"), 0, 1));
  EXPECT_EQ(q.next_wakeup(0), t0 + 105s);
}

TEST(queue, wakeup_change_on_first_sample_and_on_a_full_batch) {
  write_queue q(one_shard(), 1);
  std::vector<std::size_t> calls;
  q.on_wakeup_change([&](std::size_t shard) { calls.push_back(shard); });
  auto s = make_series("a");
  append(q, samples_of(s, 0, 10), t0);
  EXPECT_EQ(calls.size(), 1u);
  append(q, samples_of(s, 10, 10), t0);
  EXPECT_EQ(calls.size(), 1u) << "nothing moved earlier";
  append(q, samples_of(s, 20, 480), t0);
  EXPECT_EQ(calls.size(), 2u) << "crossed max_samples_per_send";
}

TEST(queue, capacity_drops_are_counted) {
  queue_settings qs = one_shard();
  qs.capacity = 10;
  write_queue q(qs, 1);
  EXPECT_EQ(append(q, samples_of(make_series("a"), 0, 15), t0), 10u);
  EXPECT_EQ(q.queued(0), 10u);
  EXPECT_EQ(q.stats().samples_in, 15u);
  EXPECT_EQ(q.stats().samples_dropped, 5u);
  EXPECT_EQ(q.stats().samples_lost[static_cast<std::size_t>(loss_reason::queue_full)], 5u);
  expect_balanced(q.stats());
  // the in-flight batch does not count against capacity
  auto b = q.take_batch(0, t0, take_mode::flush);
  ASSERT_TRUE(b);
  EXPECT_EQ(append(q, samples_of(make_series("a"), 100, 10), t0), 10u);
  EXPECT_EQ(q.stats().samples_dropped, 5u);
  EXPECT_EQ(to_string(loss_reason::queue_full), "queue_full");
}

TEST(queue, a_retried_batch_comes_back_first_and_whole) {
  write_queue q(one_shard(), 1);
  auto s = make_series("a");
  append(q, samples_of(s, 0, 500), t0);
  auto b = q.take_batch(0, t0);
  ASSERT_TRUE(b);
  const batch_id id = b->id;
  EXPECT_EQ(q.complete(0, id, retry(), t0), 30ms);
  append(q, samples_of(s, 500, 500), t0 + 1ms);  // a full batch of newer samples waits behind it
  EXPECT_EQ(q.next_wakeup(0), t0 + 30ms);
  EXPECT_FALSE(q.take_batch(0, t0 + 29ms));
  auto again = q.take_batch(0, t0 + 30ms);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, id);
  EXPECT_EQ(again->attempt, 1u);
  ASSERT_EQ(again->records.size(), 500u);
  for (std::size_t i = 0; i < 500; ++i) ASSERT_EQ(again->records[i].t_ms, static_cast<std::int64_t>(i));
  q.complete(0, id, ok(), t0 + 40ms);
  auto next = q.take_batch(0, t0 + 40ms);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->records.front().t_ms, 500);
  EXPECT_EQ(q.stats().samples_retried, 500u);
  EXPECT_EQ(q.stats().samples_total, 1500u)
      << "every attempt counts, as prometheus_remote_storage_samples_total";
}

TEST(queue, backoff_doubles_to_the_cap_and_resets_after_the_batch) {
  queue_settings qs = one_shard();
  qs.min_backoff = 30ms;
  qs.max_backoff = 200ms;
  write_queue q(qs, 1);
  append(q, samples_of(make_series("a"), 0, 500), t0);
  time_point now = t0;
  std::vector<duration> waits;
  for (int i = 0; i < 6; ++i) {
    auto b = q.take_batch(0, now);
    ASSERT_TRUE(b);
    waits.push_back(q.complete(0, b->id, retry(), now));
    now = q.next_wakeup(0);
  }
  EXPECT_EQ(waits, (std::vector<duration>{30ms, 60ms, 120ms, 200ms, 200ms, 200ms}));
  auto b = q.take_batch(0, now);
  q.complete(0, b->id, ok(), now);
  append(q, samples_of(make_series("a"), 500, 500), now);
  auto c = q.take_batch(0, now);
  ASSERT_TRUE(c);
  EXPECT_EQ(q.complete(0, c->id, retry(), now), 30ms);
}

TEST(queue, retry_after_replaces_the_backoff_and_feeds_its_doubling) {
  write_queue q(one_shard(), 1);
  append(q, samples_of(make_series("a"), 0, 500), t0);
  auto b = q.take_batch(0, t0);
  outcome o = retry();
  o.retry_after = 1s;
  EXPECT_EQ(q.complete(0, b->id, o, t0), 1s);
  b = q.take_batch(0, t0 + 1s);
  ASSERT_TRUE(b);
  EXPECT_EQ(q.complete(0, b->id, retry(), t0 + 1s), 2s);
  b = q.take_batch(0, t0 + 3s);
  o.retry_after = 60s;  // not capped: the server said so
  EXPECT_EQ(q.complete(0, b->id, o, t0 + 3s), 60s);
  b = q.take_batch(0, t0 + 63s);
  EXPECT_EQ(q.complete(0, b->id, retry(), t0 + 63s), 5s) << "the doubled value is capped";
}

TEST(queue, jitter_stays_in_bounds_and_follows_the_seed) {
  queue_settings qs;
  qs.backoff_jitter = 0.5;
  qs.min_backoff = 1s;
  qs.max_backoff = 1s;
  auto run = [&](std::uint64_t seed) {
    write_queue q(qs, seed);
    append(q, samples_of(make_series("a"), 0, 1), t0);
    std::vector<duration> waits;
    time_point now = t0;
    for (int i = 0; i < 500; ++i) {
      auto b = q.take_batch(0, now, take_mode::flush);
      waits.push_back(q.complete(0, b->id, retry(), now));
      now = q.next_wakeup(0);
    }
    return waits;
  };
  auto a = run(42);
  duration lo = a[0], hi = a[0];
  for (auto w : a) {
    ASSERT_GE(w, 500ms);
    ASSERT_LE(w, 1s);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  EXPECT_LT(lo, 550ms);
  EXPECT_GT(hi, 950ms);
  EXPECT_EQ(run(42), a);
  EXPECT_NE(run(43), a);
}

TEST(queue, a_failed_batch_is_counted_by_reason_and_let_go) {
  write_queue q(one_shard(), 1);
  append(q, samples_of(make_series("a"), 0, 500), t0);
  auto b = q.take_batch(0, t0);
  auto o = classify(400, "", "out of order sample", false, q.settings(), wall::now());
  EXPECT_EQ(q.complete(0, b->id, o, t0), 0s);
  EXPECT_EQ(q.stats().samples_failed, 500u);
  EXPECT_EQ(q.stats().samples_lost[static_cast<std::size_t>(loss_reason::http_4xx)], 500u);
  EXPECT_EQ(q.stats().batches_failed, 1u);
  EXPECT_EQ(q.stats().samples_pending, 0u);
  EXPECT_EQ(q.stats().highest_sent_timestamp_ms, 0);
  expect_balanced(q.stats());
  EXPECT_EQ(q.next_wakeup(0), time_point::max());
}

TEST(queue, completing_what_is_not_in_flight_is_a_bug) {
  write_queue q(one_shard(), 1);
  append(q, samples_of(make_series("a"), 0, 500), t0);
  auto b = q.take_batch(0, t0);
  EXPECT_THROW(q.complete(0, b->id + 1, ok(), t0), std::logic_error);
  EXPECT_THROW(q.complete(1, b->id, ok(), t0), std::logic_error);
  q.complete(0, b->id, ok(), t0);
  EXPECT_THROW(q.complete(0, b->id, ok(), t0), std::logic_error);
}

// Drives a queue with a fake clock: scrapes every second, one sender per shard, the receiver down for
// [down_from, down_until). Checks every series arrives complete and in order.
struct simulation {
  queue_settings qs;
  std::size_t n_series = 100;
  duration down_from = 5s, down_until = 25s, run_for = 40s;
  std::map<std::uint64_t, std::vector<std::int64_t>> received;

  queue_stats run() {
    qs.min_shards = 4;
    write_queue q(qs, 9);
    std::vector<series_ptr> all;
    for (std::size_t i = 0; i < n_series; ++i)
      all.push_back(make_series("m", std::string("h").append(std::to_string(i))));
    std::map<std::uint64_t, std::size_t> shard_seen;
    for (time_point now = t0; now < t0 + run_for; now += 10ms) {
      if ((now - t0) % 1s == 0s) {
        std::vector<test_sample> scrape;
        for (auto& s : all) scrape.push_back({s, (now - t0) / 1ms, 1.0});
        append(q, scrape, now);
      }
      for (std::size_t sh = 0; sh < q.shards(); ++sh) {
        if (now < q.next_wakeup(sh)) continue;
        auto b = q.take_batch(sh, now);
        if (!b) continue;
        const bool down = now >= t0 + down_from && now < t0 + down_until;
        // The body is these records' bytes, also after the FIFO's front was cut (every ~64 KiB here).
        const auto req = decode(b->body);
        EXPECT_EQ(static_cast<std::size_t>(req.timeseries_size()), b->records.size());
        for (int i = 0; i < req.timeseries_size(); ++i)
          EXPECT_EQ(req.timeseries(i).samples(0).timestamp(), b->records[static_cast<std::size_t>(i)].t_ms);
        if (!down) {
          for (const auto& s : b->records) {
            received[s.series_hash].push_back(s.t_ms);
            auto [it, fresh] = shard_seen.emplace(s.series_hash, sh);
            EXPECT_EQ(it->second, sh) << "a series moved shards";
          }
        }
        q.complete(sh, b->id, down ? retry() : ok(), now);
      }
    }
    for (std::size_t sh = 0; sh < q.shards(); ++sh) {
      while (auto b = q.take_batch(sh, t0 + run_for + 1h, take_mode::flush)) {
        for (const auto& s : b->records) received[s.series_hash].push_back(s.t_ms);
        q.complete(sh, b->id, ok(), t0 + run_for + 1h);
      }
    }
    return q.stats();
  }
};

TEST(queue, nothing_is_lost_across_a_20s_outage_that_fits_in_capacity) {
  simulation sim;
  const auto st = sim.run();
  EXPECT_EQ(st.samples_in, 4000u);
  EXPECT_EQ(st.samples_sent, st.samples_in);
  EXPECT_EQ(st.samples_dropped + st.samples_failed + st.samples_pending, 0u);
  EXPECT_GT(st.samples_retried, 0u);
  EXPECT_EQ(st.highest_sent_timestamp_ms, 39'000);
  ASSERT_EQ(sim.received.size(), 100u);
  for (const auto& [s, ts] : sim.received) {
    ASSERT_EQ(ts.size(), 40u) << "series " << s;
    for (std::size_t i = 0; i < ts.size(); ++i) ASSERT_EQ(ts[i], static_cast<std::int64_t>(i) * 1000);
  }
}

TEST(queue, an_outage_past_capacity_drops_and_counts_but_keeps_order) {
  simulation sim;
  sim.qs.capacity = 300;  // 25 series per shard: 12 s of scrapes
  const auto st = sim.run();
  EXPECT_GT(st.samples_dropped, 0u);
  EXPECT_EQ(st.samples_lost[static_cast<std::size_t>(loss_reason::queue_full)], st.samples_dropped);
  EXPECT_EQ(st.samples_sent + st.samples_dropped, st.samples_in);
  for (const auto& [s, ts] : sim.received) {
    for (std::size_t i = 1; i < ts.size(); ++i) ASSERT_LT(ts[i - 1], ts[i]);
  }
}

TEST(classify, statuses_as_prometheus_2_42_judges_them) {
  queue_settings qs;
  const auto now = wall::now();
  EXPECT_EQ(classify(200, "", "", false, qs, now).kind, outcome_kind::success);
  EXPECT_EQ(classify(204, "", "", false, qs, now).kind, outcome_kind::success);
  auto net = classify(0, "", "", true, qs, now);
  EXPECT_EQ(net.kind, outcome_kind::retry);
  EXPECT_EQ(net.retry_after, 0s);
  auto e500 = classify(500, "", "internal", false, qs, now);
  EXPECT_EQ(e500.kind, outcome_kind::retry);
  EXPECT_EQ(e500.retry_after, 0s);
  EXPECT_EQ(e500.message, "server returned HTTP status 500: internal");
  EXPECT_EQ(classify(503, "7", "", false, qs, now).retry_after, 7s);
  qs.retry_after_on_5xx = false;  // 2.42 exactly
  EXPECT_EQ(classify(503, "7", "", false, qs, now).retry_after, 0s);

  auto no429 = classify(429, "3", "slow down", false, qs, now);
  EXPECT_EQ(no429.kind, outcome_kind::drop);
  EXPECT_EQ(no429.reason, loss_reason::http_429);
  qs.retry_on_http_429 = true;
  auto r429 = classify(429, "3", "slow down", false, qs, now);
  EXPECT_EQ(r429.kind, outcome_kind::retry);
  EXPECT_EQ(r429.retry_after, 3s);
  // What dynamic sharding reads as "the receiver asks for less": a 429, or any Retry-After.
  EXPECT_TRUE(r429.throttled);
  EXPECT_TRUE(classify(429, "", "", false, qs, now).throttled);
  EXPECT_TRUE(classify(503, "2", "", false, qs, now).throttled);
  EXPECT_FALSE(classify(503, "", "", false, qs, now).throttled);
  EXPECT_FALSE(net.throttled);

  auto bad = classify(400, "", "err: out of order sample", false, qs, now);
  EXPECT_EQ(bad.kind, outcome_kind::drop);
  EXPECT_EQ(bad.reason, loss_reason::http_4xx);
  EXPECT_EQ(bad.message, "server returned HTTP status 400: err: out of order sample");
  EXPECT_EQ(classify(404, "", "", false, qs, now).reason, loss_reason::http_4xx);
  EXPECT_EQ(classify(403, "", "{\"message\":\"User is not authorized\"}", false, qs, now).kind,
            outcome_kind::drop);
  auto redirect = classify(302, "", "", false, qs, now);
  EXPECT_EQ(redirect.kind, outcome_kind::drop);
  EXPECT_EQ(redirect.reason, loss_reason::http_other);
}

TEST(classify, an_expired_security_token_is_retried_after_a_refresh) {
  queue_settings qs;
  const auto now = wall::now();
  EXPECT_EQ(classify(403, "", "{\"message\":\"The security token included in the request is expired\"}",
                     false, qs, now)
                .kind,
            outcome_kind::retry_after_refresh);
  EXPECT_EQ(classify(400, "", "{\"__type\":\"ExpiredTokenException\"}", false, qs, now).kind,
            outcome_kind::retry_after_refresh);
  EXPECT_EQ(classify(403, "", "<Code>ExpiredToken</Code>", false, qs, now).kind,
            outcome_kind::retry_after_refresh);
  write_queue q(one_shard(), 1);
  append(q, samples_of(make_series("a"), 0, 500), t0);
  auto b = q.take_batch(0, t0);
  auto o = classify(403, "", "ExpiredToken", false, qs, now);
  EXPECT_EQ(q.complete(0, b->id, o, t0), 30ms) << "retried with a backoff";
  EXPECT_EQ(q.stats().samples_retried, 500u);
}

TEST(classify, retry_after_as_seconds_or_an_http_date) {
  // Sun, 06 Nov 1994 08:49:37 GMT
  const auto date =
      wall::time_point{std::chrono::sys_days{std::chrono::year{1994} / 11 / 6} + 8h + 49min + 37s};
  EXPECT_EQ(parse_retry_after("120", date), 120s);
  EXPECT_EQ(parse_retry_after(" 5 ", date), 5s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:00 GMT", date), 23s);
  // Go truncates the difference to whole seconds
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:00 GMT", date + 500ms), 22s);
  EXPECT_LE(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", date), 0s) << "in the past: back off instead";
  EXPECT_LE(parse_retry_after("-3", date), 0s);
  EXPECT_EQ(parse_retry_after("", date), 0s);
  EXPECT_EQ(parse_retry_after("soon", date), 0s);
  EXPECT_EQ(parse_retry_after("1.5", date), 0s);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", date), 0s) << "obsolete form, as Go refuses";
  EXPECT_EQ(parse_retry_after("99999999999999999999", date), 0s);

  queue_settings qs;
  qs.retry_on_http_429 = true;
  EXPECT_EQ(classify(429, "Sun, 06 Nov 1994 08:50:07 GMT", "", false, qs, date).retry_after, 30s);
  EXPECT_EQ(classify(503, "Sun, 06 Nov 1994 08:50:07 GMT", "", false, qs, date).retry_after, 30s);
  EXPECT_EQ(classify(429, "Sun, 06 Nov 1994 08:40:00 GMT", "", false, qs, date).retry_after, 0s);
}

TEST(queue, spooled_samples_are_never_dropped_and_has_room_gates_the_reader) {
  queue_settings qs = one_shard();
  qs.capacity = 4;
  qs.max_samples_per_send = 100;
  write_queue q(qs, 1);
  auto s = make_series("spooled");
  std::string record;
  append_timeseries(record, s->flat, 1, 1.0);
  EXPECT_TRUE(q.has_room());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(q.add(s->hash, i, record, /*origin=*/7)) << i;
  q.commit(t0);
  EXPECT_FALSE(q.has_room()) << "past capacity: the reader waits";
  EXPECT_EQ(q.stats().samples_dropped, 0u);
  EXPECT_FALSE(q.add(s->hash, 11, record)) << "a sample only in memory is still dropped at capacity";
  q.commit(t0);
  EXPECT_EQ(q.stats().samples_lost[static_cast<std::size_t>(loss_reason::queue_full)], 1u);
  auto b = q.take_batch(0, t0, take_mode::flush);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->records.size(), 10u);
  for (const auto& r : b->records) EXPECT_EQ(r.origin, 7u);
  q.complete(0, b->id, ok(), t0);
  EXPECT_TRUE(q.has_room());
  expect_balanced(q.stats());
}

TEST(queue, has_room_with_a_limit_counts_queued_and_in_flight_samples) {
  queue_settings qs = one_shard();
  qs.capacity = 8;
  write_queue q(qs, 1);
  const auto s = make_series("pending");
  EXPECT_TRUE(q.has_room(1)) << "nothing pending";
  EXPECT_FALSE(q.has_room(0));
  ASSERT_EQ(append(q, samples_of(s, 0, 5), t0), 5u);
  EXPECT_TRUE(q.has_room(6));
  EXPECT_FALSE(q.has_room(5)) << "5 queued";
  auto b = q.take_batch(0, t0, take_mode::flush);
  ASSERT_TRUE(b);
  EXPECT_TRUE(q.has_room());
  EXPECT_FALSE(q.has_room(5)) << "5 in flight are still pending";
  EXPECT_TRUE(q.has_room(6));
  ASSERT_EQ(append(q, samples_of(s, 10, 8), t0), 8u);
  EXPECT_FALSE(q.has_room(1000)) << "a shard at capacity, whatever the limit";
  q.complete(0, b->id, ok(), t0);
  b = q.take_batch(0, t0, take_mode::flush);
  ASSERT_TRUE(b);
  q.complete(0, b->id, ok(), t0);
  EXPECT_TRUE(q.has_room(1));
  expect_balanced(q.stats());
}

}  // namespace
}  // namespace sigv4::scraper
