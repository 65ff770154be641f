#pragma once
// The remote-write queue as a state machine (Prometheus 2.42's QueueManager semantics, sans-I/O): samples are
// sharded by series, batched per shard, and each shard has at most one batch in flight, so a series' samples
// reach the receiver in order. The I/O sender (one coroutine per shard) drives it:
//
//   for (;;) {
//     if (auto b = q.take_batch(shard, now())) {
//       auto o = classify(post(compress(b->body)), ...);
//       q.complete(shard, b->id, o, now());
//     } else {
//       wait_until(q.next_wakeup(shard));  // on_wakeup_change() cuts the wait short
//     }
//   }
//
// Samples arrive as wire records (remote_write.hpp's append_timeseries) and are kept as bytes, one FIFO per
// shard, so a batch is a contiguous run of them: the serialized WriteRequest itself, nothing to encode.
// No threads, no clock: every time comes in as an argument. The queue is the only owner of undelivered
// samples (a durable spool, the next issue, goes behind it), and every sample it is given is accounted for:
//   samples_in == samples_sent + samples_failed + samples_dropped + samples_pending.
// Resharding (request_shards, driven by sharding.hpp's tuner) keeps each series on one shard and in order:
// no batch is handed out until the ones in flight complete, then every queued sample (a backing-off
// shard's batch first) is split again by hash % n in its order.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>


namespace sigv4::scraper {

using queue_clock = std::chrono::steady_clock;
using time_point = queue_clock::time_point;
using duration = queue_clock::duration;

// Prometheus 2.42's DefaultQueueConfig (config/config.go), plus our two additions at the end.
struct queue_settings {
  std::size_t capacity = 2500;  // queued samples per shard, not counting the batch in flight
  std::size_t max_shards = 200;
  std::size_t min_shards = 1;  // the number of shards until dynamic sharding exists
  std::size_t max_samples_per_send = 500;
  std::chrono::milliseconds batch_send_deadline{5000};
  std::chrono::milliseconds min_backoff{30};
  std::chrono::milliseconds max_backoff{5000};
  bool retry_on_http_429 = false;  // 2.42: false unless configured
  // 2.42 honours Retry-After only on a 429; Prometheus >= 2.49 also on 5xx (prometheus#12677). We do too
  // (a server that says when to come back knows better); false restores 2.42's exact behaviour.
  bool retry_after_on_5xx = true;
  // Prometheus has no jitter: all shards of all agents retry in lockstep after an outage. A computed backoff
  // b is waited as a uniform draw from [b * (1 - backoff_jitter), b]; Retry-After is waited exactly.
  double backoff_jitter = 0.2;
};

// Why samples were lost. queue_full is dropped before any send
// (prometheus_remote_storage_samples_dropped_total{reason}); the others failed a send for good
// (prometheus_remote_storage_samples_failed_total, the reason as a label of ours).
enum class loss_reason : std::uint8_t { queue_full, http_4xx, http_429, http_other };
inline constexpr std::size_t loss_reason_count = 4;
std::string_view to_string(loss_reason r);
inline bool is_send_failure(loss_reason r) {
  return r >= loss_reason::http_4xx;
}

enum class outcome_kind : std::uint8_t {
  success,
  retry,                // recoverable: the same batch again after a backoff
  retry_after_refresh,  // the signature's credentials expired: refresh them, then retry after a backoff
  drop,                 // not recoverable: the batch is counted as failed and let go
};

struct outcome {
  outcome_kind kind = outcome_kind::success;
  loss_reason reason = loss_reason::http_other;  // when kind == drop
  duration retry_after{0};  // > 0: the server's Retry-After, waited instead of the backoff
  std::string message;      // for the log line, as Prometheus words it
  bool throttled = false;   // a 429, or any answer with a Retry-After: the receiver asks for less
};

// The response (or transport failure) of one POST, judged as Prometheus 2.42's client.Store does.
// `now_wall` resolves a Retry-After given as an HTTP date.
outcome classify(int http_status, std::string_view retry_after_header, std::string_view body_first_line,
                 bool transport_error, const queue_settings& settings,
                 std::chrono::system_clock::time_point now_wall);

// Retry-After as Prometheus' retryAfterDuration reads it: whole seconds, or an IMF-fixdate (the difference
// truncated to whole seconds). Zero or negative (absent, malformed, in the past) means "use the backoff".
duration parse_retry_after(std::string_view header, std::chrono::system_clock::time_point now_wall);

using batch_id = std::uint64_t;

// Where a queued sample came from: the spool record it was read from (spool_codec.hpp's ack_tracker),
// or none for a sample that exists only here.
using sample_origin = std::uint64_t;
inline constexpr sample_origin no_origin = ~sample_origin{0};

// What the queue knows of a queued sample besides its bytes.
struct record_info {
  std::uint64_t series_hash = 0;
  std::int64_t t_ms = 0;
  sample_origin origin = no_origin;
  std::uint32_t size = 0;  // of its wire record
};

struct batch {
  batch_id id = 0;  // the same on every attempt of these samples
  // The samples' records back to back: a serialized WriteRequest. Owned by the queue and valid until the
  // next add() or complete(): compress it right away.
  std::string_view body;
  std::span<const record_info> records;  // one per sample, in order
  unsigned attempt = 0;                  // 0 on the first send
};

// Plain numbers for the I/O layer to export (names: prometheus_remote_storage_*).
struct queue_stats {
  std::uint64_t samples_in = 0;       // everything append() was given
  std::uint64_t samples_total = 0;    // _samples_total: samples in send attempts (retries included, as 2.42)
  std::uint64_t samples_sent = 0;     // acknowledged with a 2xx
  std::uint64_t samples_retried = 0;  // _samples_retried_total
  std::uint64_t samples_failed = 0;   // _samples_failed_total: sum of the send-failure reasons below
  std::uint64_t samples_dropped = 0;  // _samples_dropped_total: sum of the pre-send reasons below
  std::array<std::uint64_t, loss_reason_count> samples_lost{};  // by loss_reason
  std::uint64_t samples_pending = 0;                            // _samples_pending: queued plus in flight
  std::int64_t highest_sent_timestamp_ms = 0;  // _queue_highest_sent_timestamp_seconds (x 1000)
  std::uint64_t batches_sent = 0;
  std::uint64_t batches_retried = 0;
  std::uint64_t batches_failed = 0;
};

enum class take_mode : std::uint8_t {
  when_due,  // a full batch, or a partial one whose oldest sample waited batch_send_deadline
  flush,     // whatever is queued (shutdown)
};

class write_queue {
 public:
  // `seed` feeds the backoff jitter, so tests (and nothing else) can be deterministic.
  write_queue(const queue_settings& settings, std::uint64_t seed);

  // One sample, as its wire record, onto the shard of its series. False: that shard is full, and the
  // sample was dropped (counted as queue_full). A sample read from the spool (an origin) is never dropped:
  // the reader asks has_room() before it reads, so a shard exceeds `capacity` by one spool record at most.
  bool add(std::uint64_t series_hash, std::int64_t t_ms, std::string_view record,
           sample_origin origin = no_origin);
  // Every shard has fewer than `capacity` samples queued: the spool's reader may read another record.
  bool has_room() const;
  // The same, and fewer than `max_pending` samples pending (queued or in flight: stats().samples_pending).
  bool has_room(std::uint64_t max_pending) const;
  // Ends one append: what add() gave since the last commit arrived at `now` (or at the latest time any call
  // has given the queue: a stale time only sends sooner), and sleeping shards are told.
  void commit(time_point now);

  std::size_t shards() const { return shards_.size(); }
  // Asks for n shards (at least 1): applied now if no batch is in flight, else when the last one completes.
  // Until then take_batch hands out nothing. The I/O side compares shards() after request and complete.
  void request_shards(std::size_t n);
  bool resharding() const { return pending_shards_ != 0; }
  std::size_t shard_of(std::uint64_t series_hash) const { return series_hash % shards_.size(); }

  // The shard's next batch, or nothing yet: a batch is already in flight, a retry is backing off, or no
  // batch is due. A batch that failed recoverably comes back first, whole and with the same id.
  std::optional<batch> take_batch(std::size_t shard, time_point now, take_mode mode = take_mode::when_due);
  // When take_batch may next return something: time_point::min() for now, max() for "not until something
  // arrives" (then on_wakeup_change reports it) or while a batch is in flight (complete() comes first).
  time_point next_wakeup(std::size_t shard) const;
  // Called from append() with a shard whose next_wakeup moved earlier (it got its first sample, or a full
  // batch), so the I/O side can cut a sleeping sender's wait short.
  void on_wakeup_change(std::function<void(std::size_t shard)> fn) { wakeup_change_ = std::move(fn); }

  // The outcome of the shard's in-flight batch `id`. Returns the wait before it is sent again (zero when it
  // is done with). A wrong shard or id is a bug: std::logic_error.
  duration complete(std::size_t shard, batch_id id, const outcome& o, time_point now);

  const queue_stats& stats() const { return stats_; }
  std::size_t queued(std::size_t shard) const { return shards_.at(shard).queued.size(); }
  // Bytes the shard holds (queued and in flight): what the samples cost in memory.
  std::size_t queued_bytes(std::size_t shard) const;
  const queue_settings& settings() const { return settings_; }

 private:
  struct arrival {
    std::size_t count;
    time_point at;
  };
  enum class phase : std::uint8_t { idle, sending, backing_off };
  struct shard_state {
    // bytes[head, head + inflight_bytes) is the batch in flight, the queued records follow it.
    std::string bytes;
    std::size_t head = 0;
    std::size_t inflight_bytes = 0;
    std::deque<record_info> queued;
    std::deque<arrival> arrivals;  // one per commit() that reached the shard, oldest first
    std::vector<record_info> inflight;
    batch_id inflight_id = 0;
    unsigned attempt = 0;
    phase ph = phase::idle;
    time_point retry_at{};
    duration backoff{};  // the next computed backoff, before jitter
  };

  void note_time(time_point now);
  void try_reshard();
  bool due(const shard_state& sh, time_point now) const;
  duration jittered(duration d);
  void lose(loss_reason r, std::uint64_t n);

  queue_settings settings_;
  std::vector<shard_state> shards_;
  std::vector<std::size_t> arrived_;  // per shard: add()s since the last commit()
  queue_stats stats_;
  std::function<void(std::size_t)> wakeup_change_;
  time_point latest_{};
  std::size_t pending_shards_ = 0;
  batch_id next_id_ = 1;
  std::uint64_t rng_;
};

}  // namespace sigv4::scraper
