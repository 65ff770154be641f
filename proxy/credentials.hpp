#pragma once
// The proxy's credentials: one refresher for the base identity (the `credentials:` source, plus its role_arn
// if any) and one per distinct route role (a route's sigv4.role_arn, assumed with the base identity). They
// run on their own thread and io_context, so a slow IMDS or STS never shares a thread with request
// forwarding; the workers only read the published snapshots.
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "creds/chain.hpp"
#include "creds/refresher.hpp"
#include "creds/store.hpp"
#include "creds/sts.hpp"
#include "obs/metrics.hpp"
#include "proxy/config.hpp"

namespace sigv4::app {

// The HTTP the providers use: net::fetch, with a TLS context for https STS endpoints.
creds::http_fn make_credentials_http(const tls_config& tls);

// The base identity's provider: the `credentials:` source with its role_arn on top. When the source is the
// default chain, `chain` points into `provider` (its decisions() explain the last fetch). `provider` is null,
// and `error` says why, when the source is unknown.
struct base_provider {
  std::unique_ptr<creds::provider> provider;
  const creds::chain_provider* chain = nullptr;
  std::string error;
};
base_provider make_base_provider(const config& cfg, const env_lookup& env, creds::http_fn http);

// STS for the base identity's role (route_region empty) or a route's role: credentials.sts_region, else
// AWS_REGION / AWS_DEFAULT_REGION, else the route's region, else the first route's.
creds::sts_client make_sts_client(const config& cfg, const env_lookup& env, creds::http_fn http,
                                  const std::string& route_region);
// AssumeRole parameters for `role_arn` with the credentials block's session name and duration.
creds::assume_role_params role_params(const credentials_config& c, const std::string& role_arn,
                                      const std::string& external_id);

// Runs one coroutine to completion on a private io_context: for the one-shot commands (sign, doctor).
template <class T>
T run_blocking(boost::asio::awaitable<T> a) {
  boost::asio::io_context ioc;
  auto f = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
  ioc.run();
  return f.get();
}

class credential_hub {
 public:
  credential_hub(const config& cfg, env_lookup env, obs::registry& metrics);
  ~credential_hub();
  credential_hub(const credential_hub&) = delete;
  credential_hub& operator=(const credential_hub&) = delete;

  // Starts the refresh thread and waits (at most `wait`) for the first fetch of every identity. False when
  // some identity has no credentials yet; the refreshers keep trying in the background either way.
  bool start(std::chrono::milliseconds wait);
  void stop();

  const creds::credential_store& base() const { return base_->store; }
  // The store for a route: the base one, or its role's (created, and fetched in the background, on first use:
  // a reload may add a role). Not for the hot path: routing calls it when a config is compiled.
  const creds::credential_store* store_for(const sigv4_config& s);
  // A server refused credentials from `store` as expired, or a request found them expired by this host's clock
  // (`why`, logged): its refresher fetches now (on the hub's thread), at most once per 30 s per identity so a
  // storm of refusals is one fetch. Any thread; unknown stores ignored.
  void refresh_soon(const creds::credential_store* store, std::string_view why);
  // 503 reasons for /-/ready: empty when every identity has unexpired credentials.
  std::string not_ready_reason() const;

 private:
  struct identity {
    std::string label;  // "base" or the role ARN
    creds::credential_store store;
    std::unique_ptr<creds::refresher> refresher;
    std::atomic<std::int64_t> forced_at{0};  // steady-clock ns of the last refresh_soon fetch
  };
  void launch(identity& id);

  config cfg_;
  env_lookup env_;
  creds::http_fn http_;
  boost::asio::io_context ioc_;
  std::thread thread_;
  std::unique_ptr<identity> base_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<identity>> roles_;
  bool started_ = false;
  std::unique_ptr<creds::refresher_metrics> metrics_;
};

}  // namespace sigv4::app
