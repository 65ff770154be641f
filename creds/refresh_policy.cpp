#include "creds/refresh_policy.hpp"

#include <algorithm>

namespace sigv4::creds {

time_point next_refresh(const refresh_policy& p, time_point now, std::optional<time_point> expiration,
                        double jitter) {
  if (!expiration) return now + p.long_lived;
  const auto j = std::chrono::duration_cast<refresh_policy::duration>(p.max_jitter * std::clamp(jitter, 0.0, 1.0));
  time_point at = *expiration - p.advance - j;
  // Short-lived credentials (less than `advance` left): refresh half-way through what remains.
  if (at <= now) at = now + (*expiration - now) / 2;
  return std::max(at, now + std::chrono::seconds(1));
}

time_point next_retry(const refresh_policy& p, time_point now, int failures,
                      std::optional<time_point> current_expiration) {
  auto backoff = p.min_backoff;
  for (int i = 1; i < failures && backoff < p.max_backoff; ++i) backoff *= 2;
  backoff = std::min(backoff, p.max_backoff);
  time_point at = now + backoff;
  // While the current credentials are still valid, keep trying often enough to replace them in time.
  if (current_expiration && *current_expiration > now) {
    at = std::min(at, std::max(now + p.min_backoff, now + (*current_expiration - now) / 4));
  }
  return at;
}

}  // namespace sigv4::creds
