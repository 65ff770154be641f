#include "scraper/sharding.hpp"

#include <algorithm>
#include <cmath>

namespace sigv4::scraper {

void shard_tuner::ewma::tick(double events, double seconds) {
  const double instant = events / seconds;
  if (init) {
    rate += alpha * (instant - rate);
  } else if (events > 0) {
    init = true;
    rate = instant;
  }
}

shard_tuner::shard_tuner(std::size_t min_shards, std::size_t max_shards)
    : min_(std::max<std::size_t>(1, std::min(min_shards, max_shards))),
      max_(std::max<std::size_t>(1, max_shards)) {}

std::size_t shard_tuner::tick(const shard_inputs& in, std::size_t current) {
  const double secs = std::chrono::duration<double>(update_interval).count();
  auto delta = [](std::uint64_t now, std::uint64_t before) {
    return now > before ? static_cast<double>(now - before) : 0.0;
  };
  in_.tick(delta(in.samples_in, last_.samples_in), secs);
  out_.tick(delta(in.samples_out, last_.samples_out), secs);
  dropped_.tick(delta(in.samples_dropped, last_.samples_dropped), secs);
  duration_.tick(std::max(0.0, in.send_seconds - last_.send_seconds), secs);
  last_ = in;

  const double out_rate = out_.rate;
  const double kept = out_rate / (dropped_.rate + out_rate);
  if (out_rate <= 0 || !(kept > 0)) return current;
  const double delay = in.highest_received_s - in.highest_sent_s;
  const double pending = std::max(0.0, delay) * in_.rate * kept;
  const double time_per_sample = duration_.rate / out_rate;
  desired_ = time_per_sample * (in_.rate * kept + catchup_fraction * pending);

  const double lower = static_cast<double>(current) * (1 - tolerance);
  const double upper = static_cast<double>(current) * (1 + tolerance);
  const double want = std::ceil(desired_);
  if (lower <= want && want <= upper) return current;
  auto n = static_cast<std::size_t>(std::max(0.0, std::min(want, 1e6)));
  if (n < current && delay > max_delay_to_shrink_s) return current;
  n = std::clamp(n, min_, max_);
  if (n == current || !in.sent_recently || (n > current && in.throttled)) return current;
  return n;
}

}  // namespace sigv4::scraper
