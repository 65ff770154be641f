#include "creds/refresher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "obs/log.hpp"

namespace sigv4::creds {
namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

double seconds_since_epoch(time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

refresher_metrics::refresher_metrics(obs::registry& r)
    : registry(r),
      refreshes(r.counters("sigv4_sidecar_credential_refreshes_total",
                           "Credential fetches, by provider, result and identity.",
                           {"provider", "result", "identity"})),
      expiry(r.gauges("sigv4_sidecar_credentials_expiry_timestamp_seconds",
                      "When the credentials in use expire (0: they do not).", {"identity"})),
      last_success(r.gauges("sigv4_sidecar_credentials_last_success_timestamp_seconds",
                            "When credentials were last fetched successfully.", {"identity"})),
      since(r.gauges("sigv4_sidecar_credentials_seconds_since_last_success",
                     "Seconds since credentials were last fetched successfully (-1: never).", {"identity"})),
      provider_in_use(r.gauges("sigv4_sidecar_credentials_provider",
                               "The credential provider in use (1) by name.", {"provider", "identity"})) {}

refresher::refresher(asio::any_io_executor ex, std::unique_ptr<provider> source, credential_store& store,
                     refresher_metrics* metrics, clock_fn clock, sleep_fn sleep, refresh_policy policy,
                     std::string identity)
    : ex_(ex),
      source_(std::move(source)),
      store_(store),
      clock_(clock ? std::move(clock) : clock_fn([] { return std::chrono::system_clock::now(); })),
      sleep_(std::move(sleep)),
      policy_(policy),
      wake_(ex),
      metrics_(metrics),
      identity_(std::move(identity)) {
  if (metrics_ != nullptr) {
    expiry_ = &metrics_->expiry.with({identity_});
    last_success_ = &metrics_->last_success.with({identity_});
    auto& since = metrics_->since.with({identity_});
    since.set(-1);
    metrics_->registry.add_collector([this, &since] {
      double last = last_success_->value();
      since.set(last == 0 ? -1 : seconds_since_epoch(clock_()) - last);
    });
  }
}

asio::awaitable<void> refresher::default_sleep(time_point until) {
  auto delay = until - clock_();
  if (delay <= decltype(delay)::zero()) co_return;
  wake_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
  co_await wake_.async_wait(use_tuple);
}

asio::awaitable<bool> refresher::refresh_now() {
  if (in_flight_) {
    // Join the fetch in progress: wait until it wakes us, then report its result.
    asio::steady_timer waiter(ex_, std::chrono::steady_clock::time_point::max());
    waiters_.push_back(&waiter);
    co_await waiter.async_wait(use_tuple);
    co_return last_ok_;
  }
  in_flight_ = true;
  const std::string name(source_->name());
  fetch_result r = co_await source_->fetch();
  const time_point now = clock_();
  auto current = store_.current();
  if (r.creds && !(r.creds->expiration && *r.creds->expiration <= now)) {
    failures_ = 0;
    last_error_.clear();
    store_.publish(r.creds);
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    next_ = next_refresh(policy_, now, r.creds->expiration, jitter(rng_));
    last_ok_ = true;
    if (metrics_ != nullptr) {
      metrics_->refreshes.with({r.creds->provider, "success", identity_}).inc();
      expiry_->set(r.creds->expiration ? seconds_since_epoch(*r.creds->expiration) : 0);
      last_success_->set(seconds_since_epoch(now));
      if (provider_shown_ != r.creds->provider) {
        if (!provider_shown_.empty()) metrics_->provider_in_use.with({provider_shown_, identity_}).set(0);
        provider_shown_ = r.creds->provider;
        metrics_->provider_in_use.with({provider_shown_, identity_}).set(1);
      }
    }
    obs::info("credentials refreshed",
              {{"identity", identity_},
               {"provider", r.creds->provider},
               {"access_key_id_suffix", access_key_suffix(r.creds->creds)},
               {"expires_in_s", r.creds->expiration
                                    ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                         *r.creds->expiration - now)
                                                         .count())
                                    : std::string("never")}});
  } else {
    ++failures_;
    last_error_ = r.creds ? name + ": the credentials it returned have already expired" : r.reason;
    const bool still_valid = current && !(current->expiration && *current->expiration <= now);
    auto expiration = still_valid && current ? current->expiration : std::nullopt;
    next_ = next_retry(policy_, now, failures_, expiration, !still_valid);
    last_ok_ = false;
    if (!still_valid) store_.set_unavailable_reason(last_error_);
    if (metrics_ != nullptr) metrics_->refreshes.with({name, "failure", identity_}).inc();
    obs::warn(still_valid ? "credential refresh failed; the current credentials stay in use until they expire"
                          : "no valid AWS credentials; requests get 503 until a refresh succeeds",
              {{"identity", identity_},
               {"provider", name},
               {"error", last_error_},
               {"failures", failures_},
               {"retry_in_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(next_ - now).count()}});
  }
  in_flight_ = false;
  for (auto* w : waiters_) w->cancel();
  waiters_.clear();
  co_return last_ok_;
}

asio::awaitable<void> refresher::run() {
  stopped_ = false;
  while (!stopped_) {
    if (sleep_) {
      co_await sleep_(next_);
    } else {
      co_await default_sleep(next_);
    }
    if (stopped_) break;
    if (clock_() >= next_) co_await refresh_now();
  }
}

void refresher::stop() {
  stopped_ = true;
  wake_.cancel();
}

}  // namespace sigv4::creds
