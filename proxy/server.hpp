#pragma once
// The running proxy: worker threads (one io_context each, so a connection and the upstream connections it uses
// never change thread and need no strand), the listener, the admin endpoints, signals and reload.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "creds/store.hpp"
#include "net/upstream.hpp"
#include "obs/metrics.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/routing.hpp"
#include "scraper/manager.hpp"
#include "signer/signer.hpp"

namespace sigv4::app {

struct shared_state {
  shared_state(std::shared_ptr<const runtime> initial, const creds::credential_store& c, obs::registry& reg,
               std::unique_ptr<boost::asio::ssl::context> tls_ctx)
      : rt(std::move(initial)), creds(c), registry(reg), metrics(reg), tls(std::move(tls_ctx)) {}

  std::atomic<std::shared_ptr<const runtime>> rt;
  const creds::credential_store& creds;  // the base identity; a route may have its own (route_runtime::creds)
  obs::registry& registry;
  proxy_metrics metrics;
  std::unique_ptr<boost::asio::ssl::context> tls;
  sigv4::signer signing;  // thread-safe; caches derived keys
  // Why /-/ready is 503 (every identity's credentials are checked); empty = ready. Unset: the base store only.
  std::function<std::string()> not_ready_reason;
  store_resolver resolve_store;  // for reloads: a new route role gets its refresher
  // A request found the credentials of `store` expired by this host's clock (a refresh failed, or the wall clock
  // stepped past their expiry before the refresher's timer): fetch now, at most every 30 s. Unset: nothing.
  std::function<void(const creds::credential_store*)> credentials_expired;
  scraper::manager* scraper = nullptr;  // the bundled scraper; it runs only when the config has scrape jobs
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> refusing{0};  // connections over max_connections still being answered 503
  // max_connections as the open-file limit allows (proxy/fd_limit.hpp): the configured one applies up to this.
  std::size_t connection_cap = SIZE_MAX;
};

// What a session reads at most at once: a 10 KiB POST in one read. (Beast reads into a buffer's spare capacity
// only, so its buffer is reserved to this before Beast reads the rest of a request: not 512 bytes a read.)
inline constexpr std::size_t session_read_bytes = 16 * 1024;

struct worker {
  explicit worker(shared_state& s) : ioc(1), shared(s) {}

  net::upstream_pool& pool_for(const net::upstream_key& key, const runtime& rt);
  void sweep_pools();
  void close_idle_sessions();

  boost::asio::io_context ioc;
  shared_state& shared;
  std::map<net::upstream_key, std::unique_ptr<net::upstream_pool>> pools;
  // Sessions waiting for their next request; closed at once when the proxy drains. Only touched on ioc's thread.
  std::set<net::timed_socket*> idle_sessions;
  std::size_t active_sessions = 0;
  // Where a session reads the first bytes of its next request, copied out at once (session.cpp): a connection
  // waiting for a request holds no read buffer of its own. Only touched on ioc's thread.
  std::array<char, session_read_bytes> read_scratch{};
};

// One client connection, start to end. Exceptions are bugs: the caller logs them and only this session dies.
boost::asio::awaitable<void> run_session(worker& w, boost::asio::ip::tcp::socket socket);

// The admin endpoints: /-/healthy, /-/ready, /metrics, /api/v1/targets.
boost::asio::awaitable<void> run_admin_session(shared_state& s, boost::asio::ip::tcp::socket socket);

}  // namespace sigv4::app
