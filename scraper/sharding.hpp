#pragma once
// How many shards a remote sends with: Prometheus 2.42's dynamic sharding (storage/remote/queue_manager.go,
// calculateDesiredShards and shouldReshard), sans-I/O. Every `update_interval` (10 s) the sender hands in its
// cumulative counters; rates are EWMAs (alpha 0.2) of those deltas, and
//
//   time per sample = send seconds per second / samples out per second
//   desired         = ceil(time per sample * (in rate * kept ratio + 0.05 * pending samples))
//   pending         = (newest received - newest sent timestamp) * in rate * kept ratio
//
// kept within [min_shards, max_shards]; a change within +-30% of the current count is ignored, a decrease
// while more than 10 s behind is refused, and nothing changes unless a send succeeded in the last interval
// (during an outage more shards would only queue more retries). Ours: no increase while the receiver throttles
// (a 429 or a Retry-After in the last interval): the time spent backing off would read as a need for more
// shards, and more shards would hit a throttling receiver harder (Prometheus 2.42 does add them). Also ours:
// "send seconds" are those of the request that completed each batch, not from its first attempt (2.42 times
// sendSamplesWithBackoff whole): after an outage the first batch's minutes of backoff made the time per sample
// look a hundred times too long and the shards jump to max_shards, with max_shards x capacity samples in
// memory and as many requests at once against a receiver that has just come back.
//
// With the spool, "received" is the newest sample spooled and "in" is what the reader hands the queue, so a
// backlog after an outage shows as delay and pending samples: the shards grow to catch up, then shrink.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sigv4::scraper {

struct shard_inputs {
  std::uint64_t samples_in = 0;       // cumulative: given to the queue
  std::uint64_t samples_out = 0;      // cumulative: sends completed (delivered or failed for good)
  std::uint64_t samples_dropped = 0;  // cumulative: dropped before a send
  double send_seconds = 0;            // cumulative: time of the request that completed each batch
  double highest_received_s = 0;      // newest sample timestamp received (spooled), seconds
  double highest_sent_s = 0;          // newest sample timestamp delivered, seconds
  bool sent_recently = false;         // a send succeeded within the last update_interval
  bool throttled = false;             // a 429 or a Retry-After within the last update_interval
};

class shard_tuner {
 public:
  static constexpr std::chrono::seconds update_interval{10};
  static constexpr double tolerance = 0.3;
  static constexpr double alpha = 0.2;
  static constexpr double catchup_fraction = 0.05;
  static constexpr double max_delay_to_shrink_s = 10.0;

  shard_tuner(std::size_t min_shards, std::size_t max_shards);

  // One update; returns the shard count to run with (`current` when nothing should change).
  std::size_t tick(const shard_inputs& in, std::size_t current);
  double desired() const { return desired_; }  // before rounding and bounds (shards_desired)

 private:
  struct ewma {
    double rate = 0;
    bool init = false;
    void tick(double events, double seconds);
  };
  std::size_t min_, max_;
  shard_inputs last_{};
  ewma in_, out_, dropped_, duration_;
  double desired_ = 0;
};

}  // namespace sigv4::scraper
