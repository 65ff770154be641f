#pragma once
// When to refresh credentials, as pure functions of the clock (so the timing is unit-tested without sleeping).
#include <chrono>
#include <optional>

namespace sigv4::creds {

struct refresh_policy {
  using duration = std::chrono::system_clock::duration;
  duration advance = std::chrono::minutes(5);      // refresh no later than this before Expiration (SDK rule)
  duration max_jitter = std::chrono::minutes(1);   // spread a fleet's refreshes
  duration long_lived = std::chrono::hours(1);     // re-check credentials that carry no Expiration
  duration min_backoff = std::chrono::seconds(1);  // after a failure: 1 s, 2 s, 4 s, ... capped
  duration max_backoff = std::chrono::minutes(2);
  // With no valid credentials every request is failing: retry at least this often (SDKs retry per request).
  duration max_backoff_unavailable = std::chrono::seconds(5);
};

using time_point = std::chrono::system_clock::time_point;

// After a successful fetch. jitter is in [0, 1): the fraction of max_jitter to refresh earlier by.
time_point next_refresh(const refresh_policy& p, time_point now, std::optional<time_point> expiration,
                        double jitter);

// After `failures` consecutive failed fetches (>= 1). Never later than the refresh that would still beat
// the current credentials' expiry, when there are any; at most max_backoff_unavailable apart when there are
// no valid credentials at all (`unavailable`).
time_point next_retry(const refresh_policy& p, time_point now, int failures,
                      std::optional<time_point> current_expiration, bool unavailable = false);

}  // namespace sigv4::creds
