#pragma once
// Keeps credentials fresh in the background and publishes each new set to the store. The hot path only
// reads the store; it never waits here. A failed refresh keeps the current credentials while they are valid
// and retries with capped exponential backoff; expired credentials are never published as usable (the
// proxy answers 503 with the reason). Concurrent refresh_now() calls share one fetch.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <list>
#include <memory>
#include <random>

#include "creds/provider.hpp"
#include "creds/refresh_policy.hpp"
#include "creds/store.hpp"
#include "obs/metrics.hpp"

namespace sigv4::creds {

// The credential metrics of a process, shared by its refreshers; the `identity` label tells them apart
// ("base", or a route's role ARN).
struct refresher_metrics {
  explicit refresher_metrics(obs::registry& r);
  obs::registry& registry;
  obs::counter_family& refreshes;     // {provider, result, identity}
  obs::gauge_family& expiry;          // {identity}
  obs::gauge_family& last_success;    // {identity}
  obs::gauge_family& since;           // {identity}
  obs::gauge_family& provider_in_use; // {provider, identity}
};

class refresher {
 public:
  // Waits until the given wall-clock time; injectable so tests move a fake clock instead of sleeping.
  using sleep_fn = std::function<boost::asio::awaitable<void>(time_point)>;

  // metrics may be null (no metrics); identity labels them.
  refresher(boost::asio::any_io_executor ex, std::unique_ptr<provider> source, credential_store& store,
            refresher_metrics* metrics, clock_fn clock = {}, sleep_fn sleep = {}, refresh_policy policy = {},
            std::string identity = "base");

  // Fetches now (or joins the fetch in progress) and publishes on success. True when it succeeded.
  boost::asio::awaitable<bool> refresh_now();
  // The background loop: refresh_now() when due, until stop().
  boost::asio::awaitable<void> run();
  void stop();

  int consecutive_failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }
  time_point next_attempt() const { return next_; }

 private:
  boost::asio::awaitable<void> default_sleep(time_point until);

  boost::asio::any_io_executor ex_;
  std::unique_ptr<provider> source_;
  credential_store& store_;
  clock_fn clock_;
  sleep_fn sleep_;
  refresh_policy policy_;
  std::mt19937_64 rng_{std::random_device{}()};

  bool in_flight_ = false;
  bool last_ok_ = false;
  std::list<boost::asio::steady_timer*> waiters_;
  int failures_ = 0;
  std::string last_error_;
  time_point next_{};
  bool stopped_ = false;
  boost::asio::steady_timer wake_;

  refresher_metrics* metrics_ = nullptr;
  std::string identity_;
  std::string provider_shown_;  // the provider whose gauge is 1
  obs::gauge* expiry_ = nullptr;
  obs::gauge* last_success_ = nullptr;
};

}  // namespace sigv4::creds
