#include "creds/refresh_policy.hpp"

#include <algorithm>

namespace sigv4::creds {

time_point next_refresh(const refresh_policy& p, time_point now, std::optional<time_point> expiration,
                        double jitter) {
  if (!expiration) return now + p.long_lived;
  const time_point window = *expiration - p.advance;
  time_point at;
  if (window <= now) {
    // Short-lived credentials (less than `advance` left): refresh half-way through what remains.
    at = now + (*expiration - now) / 2;
  } else {
    // Jitter spreads a fleet's refreshes, but never by more than a quarter of the wait.
    const auto spread = std::min<refresh_policy::duration>(p.max_jitter, (window - now) / 4);
    at = window - std::chrono::duration_cast<refresh_policy::duration>(spread * std::clamp(jitter, 0.0, 1.0));
  }
  return std::max(at, now + std::chrono::seconds(1));
}

time_point next_retry(const refresh_policy& p, time_point now, int failures,
                      std::optional<time_point> current_expiration, bool unavailable) {
  auto backoff = p.min_backoff;
  for (int i = 1; i < failures && backoff < p.max_backoff; ++i) backoff *= 2;
  backoff = std::min(backoff, p.max_backoff);
  time_point at = now + backoff;
  // While the current credentials are still valid, keep trying often enough to replace them in time.
  if (current_expiration && *current_expiration > now) {
    at = std::min(at, std::max(now + p.min_backoff, now + (*current_expiration - now) / 4));
  } else if (unavailable) {
    // No valid credentials: every request is failing, so keep retrying briskly.
    at = std::min(at, now + std::max(p.min_backoff, p.max_backoff_unavailable));
  }
  return at;
}

}  // namespace sigv4::creds
