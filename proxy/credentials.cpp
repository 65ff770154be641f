#include "proxy/credentials.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <mutex>

#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "obs/log.hpp"

namespace sigv4::app {
namespace asio = boost::asio;

namespace {

// The STS TLS context (a parsed CA store, ~1 MB), made on the first https request: IMDS, container endpoints
// and environment keys never need it.
struct lazy_tls {
  std::once_flag once;
  std::unique_ptr<asio::ssl::context> ctx;
  std::string ca_file;
};

asio::awaitable<net::http_response> fetch_with_lazy_tls(std::shared_ptr<lazy_tls> lazy, net::http_request r) {
  if (r.url.starts_with("https://")) {
    try {
      std::call_once(lazy->once, [&] {
        lazy->ctx = std::make_unique<asio::ssl::context>(
            net::make_client_tls_context(net::tls_settings::server_auth(lazy->ca_file, true)));
      });
    } catch (const std::exception& e) {
      net::http_response failed;
      failed.error = std::string("TLS setup failed: ") + e.what();
      co_return failed;
    }
  }
  co_return co_await net::fetch(std::move(r), lazy->ctx.get());
}

}  // namespace

creds::http_fn make_credentials_http(const tls_config& tls) {
  // STS is always verified: --no-verify-ssl is about upstreams, never about where credentials come from.
  auto lazy = std::make_shared<lazy_tls>();
  lazy->ca_file = tls.ca_file;
  return [lazy](net::http_request r) { return fetch_with_lazy_tls(lazy, std::move(r)); };
}

namespace {

std::string sts_region_for(const config& cfg, const env_lookup& env, const std::string& route_region) {
  if (!cfg.credentials.sts_region.empty()) return cfg.credentials.sts_region;
  std::string fallback = route_region;
  for (const auto& r : cfg.routes) {
    if (fallback.empty()) fallback = r.sigv4.region;
  }
  return creds::sts_region(env, fallback);
}

std::string role_key(const sigv4_config& s) { return s.profile + '\n' + s.role_arn + '\n' + s.external_id; }

auto system_clock_now() { return std::chrono::system_clock::now(); }

}  // namespace

creds::assume_role_params role_params(const credentials_config& c, const std::string& role_arn,
                                      const std::string& external_id) {
  creds::assume_role_params p;
  p.role_arn = role_arn;
  p.role_session_name = c.session_name;
  if (!external_id.empty()) p.external_id = external_id;
  if (c.duration) p.duration_seconds = c.duration->count();
  return p;
}

creds::sts_client make_sts_client(const config& cfg, const env_lookup& env, creds::http_fn http,
                                  const std::string& route_region) {
  return creds::sts_client(creds::resolve_sts_endpoint(env, sts_region_for(cfg, env, route_region)),
                           std::move(http), system_clock_now);
}

base_provider make_base_provider(const config& cfg, const env_lookup& env, creds::http_fn http) {
  base_provider out;
  creds::chain_context ctx{env,
                           http,
                           system_clock_now,
                           sts_region_for(cfg, env, {}),
                           cfg.credentials.profile,
                           cfg.credentials.imds_v1_fallback,
                           cfg.credentials.sts_region};
  if (cfg.credentials.source == "default") {
    auto chain = creds::default_chain(ctx);
    out.chain = chain.get();
    out.provider = std::move(chain);
  } else {
    out.provider = creds::make_source(cfg.credentials.source, ctx, out.error);
  }
  if (out.provider && !cfg.credentials.role_arn.empty()) {
    out.provider = std::make_unique<creds::assume_role_provider>(
        std::move(out.provider), role_params(cfg.credentials, cfg.credentials.role_arn, cfg.credentials.external_id),
        make_sts_client(cfg, env, http, {}));
  }
  return out;
}

credential_hub::credential_hub(const config& cfg, env_lookup env, obs::registry& metrics)
    : cfg_(cfg), env_(std::move(env)), http_(make_credentials_http(cfg.tls)),
      metrics_(std::make_unique<creds::refresher_metrics>(metrics)) {
  auto base = make_base_provider(cfg_, env_, http_);
  if (!base.provider) throw std::runtime_error(base.error);
  base_ = std::make_unique<identity>();
  base_->label = "base";
  base_->store.set_unavailable_reason("credentials have not been fetched yet");
  base_->refresher = std::make_unique<creds::refresher>(ioc_.get_executor(), std::move(base.provider), base_->store,
                                                        metrics_.get());
}

credential_hub::~credential_hub() {
  stop();
  // Refreshers (and their timers) go while the io_context still exists; coroutine frames go with it after.
  roles_.clear();
  base_.reset();
}

void credential_hub::refresh_soon(const creds::credential_store* store, std::string_view why) {
  identity* id = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!started_) return;
    if (base_ && &base_->store == store) id = base_.get();
    for (auto& [key, slot] : roles_) {
      if (slot && &slot->store == store) id = slot.get();
    }
  }
  if (id == nullptr || !id->refresher) return;
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::int64_t last = id->forced_at.load();
  constexpr std::int64_t spacing = std::chrono::nanoseconds(std::chrono::seconds(30)).count();
  if (last != 0 && now - last < spacing) return;
  if (!id->forced_at.compare_exchange_strong(last, now)) return;  // another thread just did
  obs::info(why, {{"identity", id->label}});
  asio::co_spawn(
      ioc_, [id]() -> asio::awaitable<void> { co_await id->refresher->refresh_now(); }, asio::detached);
}

const creds::credential_store* credential_hub::store_for(const sigv4_config& s) {
  if (s.role_arn.empty() && s.profile.empty()) return &base_->store;
  std::lock_guard lock(mutex_);
  auto& slot = roles_[role_key(s)];
  if (!slot) {
    slot = std::make_unique<identity>();
    std::string label = s.profile.empty() ? "role " + s.role_arn : "profile " + s.profile;
    if (!s.profile.empty() && !s.role_arn.empty()) label += " role " + s.role_arn;
    slot->label = label;
    slot->store.set_unavailable_reason("credentials for " + label + " have not been fetched yet");
    std::unique_ptr<creds::provider> p;
    if (s.profile.empty()) {
      p = creds::make_store_provider(base_->store, "base");
    } else {
      // The profile's own chain (keys, credential_process, its role_arn/source_profile...), as botocore reads it.
      config profile_cfg = cfg_;
      profile_cfg.credentials.source = "profile";
      profile_cfg.credentials.profile = s.profile;
      profile_cfg.credentials.role_arn.clear();
      auto base = make_base_provider(profile_cfg, env_, http_);
      if (!base.provider) {
        slot->store.set_unavailable_reason("profile " + s.profile + ": " + base.error);
        return &slot->store;
      }
      p = std::move(base.provider);
    }
    if (!s.role_arn.empty()) {
      p = std::make_unique<creds::assume_role_provider>(std::move(p),
                                                        role_params(cfg_.credentials, s.role_arn, s.external_id),
                                                        make_sts_client(cfg_, env_, http_, s.region));
    }
    slot->refresher = std::make_unique<creds::refresher>(ioc_.get_executor(), std::move(p), slot->store,
                                                         metrics_.get(), creds::clock_fn{},
                                                         creds::refresher::sleep_fn{},
                                                         creds::refresh_policy{},
                                                         // the metrics' identity label: the role ARN, as before
                                                         s.profile.empty() ? s.role_arn : label);
    if (started_) launch(*slot);
  }
  return &slot->store;
}

void credential_hub::launch(identity& id) {
  if (!id.refresher) return;  // a profile that cannot be read: its store says why, nothing to refresh
  asio::co_spawn(
      ioc_,
      [&id]() -> asio::awaitable<void> {
        co_await id.refresher->refresh_now();
        co_await id.refresher->run();
      },
      asio::detached);
}

bool credential_hub::start(std::chrono::milliseconds wait) {
  // Shared with the first round, which may outlive this call when the wait times out.
  struct first_round {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  auto sync = std::make_shared<first_round>();
  {
    std::lock_guard lock(mutex_);
    started_ = true;
    // The base identity first: every role is assumed with it.
    asio::co_spawn(
        ioc_,
        [sync, this]() -> asio::awaitable<void> {
          co_await base_->refresher->refresh_now();
          std::vector<identity*> roles;
          {
            std::lock_guard lock(mutex_);
            for (auto& [k, id] : roles_) roles.push_back(id.get());
          }
          for (auto* id : roles) co_await id->refresher->refresh_now();
          {
            std::lock_guard lk(sync->m);
            sync->done = true;
          }
          sync->cv.notify_all();
          for (auto* id : roles) {
            asio::co_spawn(ioc_, [id]() -> asio::awaitable<void> { co_await id->refresher->run(); }, asio::detached);
          }
          co_await base_->refresher->run();
        },
        asio::detached);
  }
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(ioc_);
    ioc_.run();
  });
  std::unique_lock lk(sync->m);
  if (!sync->cv.wait_for(lk, wait, [&] { return sync->done; })) {
    obs::warn("the first credential fetch is taking long; serving now, requests get 503 until it ends",
              {{"waited_ms", wait.count()}});
  }
  return not_ready_reason().empty();
}

void credential_hub::stop() {
  if (!thread_.joinable()) return;
  ioc_.stop();
  thread_.join();
}

std::string credential_hub::not_ready_reason() const {
  auto now = std::chrono::system_clock::now();
  auto check = [&](const identity& id) -> std::string {
    auto c = id.store.current();
    if (!c || c->creds.empty()) return id.label + ": " + id.store.unavailable_reason();
    if (c->expiration && *c->expiration <= now) {
      return id.label + ": the credentials from " + c->provider + " have expired and could not be refreshed (" +
             id.store.unavailable_reason() + ")";
    }
    return {};
  };
  std::string why = check(*base_);
  std::lock_guard lock(mutex_);
  for (const auto& [k, id] : roles_) {
    if (auto w = check(*id); !w.empty()) why += (why.empty() ? "" : "; ") + w;
  }
  return why;
}

}  // namespace sigv4::app
