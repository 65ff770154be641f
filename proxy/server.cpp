#include "proxy/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <iostream>
#include <thread>

#include "net/event_loop.hpp"
#include "net/tls.hpp"
#include "proxy/cpu_limit.hpp"
#include "proxy/fd_limit.hpp"
#include "proxy/credentials.hpp"
#include "obs/log.hpp"
#include "obs/process_metrics.hpp"
#include "proxy/forward.hpp"
#include "proxy/run_command.hpp"

namespace sigv4::app {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

net::upstream_pool& worker::pool_for(const net::upstream_key& key, const runtime& rt) {
  auto it = pools.find(key);
  if (it != pools.end()) return *it->second;
  net::pool_settings settings{.max_idle = rt.cfg.pool.max_idle_per_upstream,
                              .idle_timeout = rt.cfg.timeouts.upstream_idle,
                              .connect_timeout = rt.cfg.timeouts.upstream_connect};
  auto name = key.to_string();
  net::pool_metrics m{&shared.metrics.pool_connections.with({name, "open"}),
                      &shared.metrics.pool_connections.with({name, "idle"})};
  auto* tls = key.scheme == "https" ? shared.tls.get() : nullptr;
  auto pool = std::make_unique<net::upstream_pool>(key, tls, settings, m);
  return *pools.emplace(key, std::move(pool)).first->second;
}

void worker::sweep_pools() {
  auto rt = shared.rt.load();
  net::pool_settings settings{.max_idle = rt->cfg.pool.max_idle_per_upstream,
                              .idle_timeout = rt->cfg.timeouts.upstream_idle,
                              .connect_timeout = rt->cfg.timeouts.upstream_connect};
  for (auto& [key, pool] : pools) {
    pool->update_settings(settings);
    pool->sweep();
  }
}

void worker::close_idle_sessions() {
  for (auto* stream : idle_sessions) {
    beast::error_code ec;
    stream->socket().cancel(ec);
  }
}

asio::awaitable<void> run_admin_session(shared_state& s, tcp::socket socket) {
  net::timed_socket stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) break;
    auto& req = parser.get();
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "sigv4-sidecar");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "only GET and HEAD\n";
    } else if (target == "/-/healthy") {
      res.body() = "OK\n";
    } else if (target == "/-/ready") {
      auto c = s.creds.current();
      if (s.draining) {
        res.result(http::status::service_unavailable);
        res.body() = "shutting down\n";
      } else if (auto why = s.not_ready_reason ? s.not_ready_reason()
                            : !c || c->creds.empty() ? s.creds.unavailable_reason()
                                                      : std::string();
                 !why.empty() || (s.scraper != nullptr && !(why = s.scraper->not_ready_reason()).empty())) {
        res.result(http::status::service_unavailable);
        res.body() = "not ready: " + why + "\n";
      } else {
        res.body() = c ? "ready: credentials from " + c->provider + "\n" : std::string("ready\n");
      }
    } else if (target == "/api/v1/targets" && s.scraper != nullptr) {
      res.set(http::field::content_type, "application/json");
      res.body() = s.scraper->targets_json();
    } else if (target == "/metrics") {
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = s.registry.render();
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: try /-/healthy, /-/ready, /metrics or /api/v1/targets\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !req.keep_alive()) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

namespace {

std::optional<tcp::endpoint> parse_listen(const std::string& addr, std::string& err) {
  auto u = net::parse_url("http://" + addr, &err);
  if (!u) return std::nullopt;
  std::string host = u->host;
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    err = "listen address must be an IP address, not '" + host + "'";
    return std::nullopt;
  }
  return tcp::endpoint(ip, u->port);
}

void log_warnings(const cli_result& res) {
  for (const auto& w : res.warnings) {
    obs::warn("config", {{"file", res.config_path}, {"line", w.line}, {"warning", w.message}});
  }
}

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    obs::error("session failed", {{"where", what}, {"error", ex.what()}});
  }
}

class server {
 public:
  server(shared_state& s, std::vector<std::string> args, env_lookup env)
      : shared_(s), args_(std::move(args)), env_(std::move(env)) {}

  int run() {
    auto rt = shared_.rt.load();
    std::size_t threads = rt->cfg.threads > 0 ? static_cast<std::size_t>(rt->cfg.threads)
                                              : std::min<std::size_t>(2, std::max(1u, std::thread::hardware_concurrency()));
    for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<worker>(shared_));
    const auto cpu_limit = cgroup_cpu_limit();
    busy_poll_ = std::chrono::microseconds(effective_busy_poll_us(rt->cfg.busy_poll_us, cpu_limit, threads));
    auto& ioc0 = workers_[0]->ioc;

    std::string err;
    auto ep = parse_listen(rt->cfg.listen, err);
    auto admin_ep = parse_listen(rt->cfg.admin_listen, err);
    if (!ep || !admin_ep) {
      obs::error("bad listen address", {{"error", err}});
      return 2;
    }
    // A config with scrape jobs and no route or forward proxy runs the scraper alone: no proxy listener.
    const bool proxying = !rt->routes.empty() || !rt->cfg.forward_proxy.allow.empty();
    if ((proxying && !open_acceptor(listener_, ioc0, *ep, "listen")) ||
        !open_acceptor(admin_, ioc0, *admin_ep, "admin_listen")) {
      return 1;
    }
    obs::info("sigv4-sidecar listening",
              {{"listen", proxying ? rt->cfg.listen : std::string("off (no routes)")},
               {"admin_listen", rt->cfg.admin_listen}, {"threads", threads},
               {"busy_poll_us", busy_poll_.count()},
               {"cpu_limit_cores", cpu_limit ? std::to_string(*cpu_limit).substr(0, 5) : std::string("none")},
               {"routes", rt->routes.size()}, {"forward_proxy_hosts", rt->cfg.forward_proxy.allow.size()}});

    if (listener_) asio::co_spawn(ioc0, accept_loop(), asio::detached);
    asio::co_spawn(ioc0, admin_loop(), asio::detached);
    asio::signal_set signals(ioc0, SIGINT, SIGTERM, SIGHUP);
    wait_signal(signals);
    for (auto& w : workers_) asio::co_spawn(w->ioc, sweep_loop(*w), asio::detached);
    asio::co_spawn(ioc0, heap_loop(), asio::detached);

    std::vector<std::thread> pool;
    for (std::size_t i = 1; i < workers_.size(); ++i) pool.emplace_back([this, i] { run_worker(i); });
    run_worker(0);
    for (auto& t : pool) t.join();
    obs::info("sigv4-sidecar stopped", {{"unfinished_connections", shared_.connections.load()}});
    return 0;
  }

 private:
  void run_worker(std::size_t i) {
    auto& m = shared_.metrics;
    auto id = std::to_string(i);
    net::run_event_loop(workers_[i]->ioc, busy_poll_,
                        {&m.busy_poll_seconds.with({id}), &m.busy_poll_wakeups.with({id, "caught"}),
                         &m.busy_poll_wakeups.with({id, "slept"})});
  }

  bool open_acceptor(std::optional<tcp::acceptor>& a, asio::io_context& ioc, const tcp::endpoint& ep,
                     const char* what) {
    boost::system::error_code ec;
    a.emplace(ioc);
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      obs::error("cannot listen", {{"what", what}, {"address", ep.address().to_string() + ":" + std::to_string(ep.port())},
                                   {"error", ec.message()}});
      return false;
    }
    return true;
  }

  asio::awaitable<void> accept_loop() {
    std::size_t next = 0;
    while (listener_ && listener_->is_open()) {
      worker& w = *workers_[next++ % workers_.size()];
      auto [ec, socket] = co_await listener_->async_accept(w.ioc, use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || shared_.draining) break;
        obs::warn("accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
        co_await pause.async_wait(use_tuple);  // e.g. EMFILE: let connections close
        continue;
      }
      boost::system::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);
      auto rt = shared_.rt.load();
      const auto limit = std::min(rt->cfg.limits.max_connections, shared_.connection_cap);
      if (shared_.connections.load() >= limit) {
        shared_.metrics.client_errors.with({"too_many_connections"}).inc();
        asio::co_spawn(w.ioc, refuse(shared_, std::move(socket), limit, rt->cfg.timeouts.lingering_close),
                       asio::detached);
        continue;
      }
      asio::co_spawn(w.ioc, run_session(w, std::move(socket)),
                     [](std::exception_ptr e) { log_exception(e, "proxy"); });
    }
  }

  // The 503 over max_connections, closed lingeringly (the client's request may be arriving) while fewer than
  // max(max_connections, lingering_refusals_floor) refusals are lingering, so that a flood holds at most twice
  // the limit in descriptors (or the floor, within fd_reserve). A refusal over that closes at once, and a client
  // still writing may then be reset before it reads the 503: with a limit of 8 and no floor, a few clients that
  // each wrote 2 MiB on a loaded machine overlapped more than 8 (CI, 1 of 50).
  static asio::awaitable<void> refuse(shared_state& s, tcp::socket socket, std::size_t limit,
                                      std::chrono::milliseconds lingering_close) {
    struct count_guard {
      std::atomic<std::size_t>& n;
      std::size_t before = n.fetch_add(1);
      ~count_guard() { n.fetch_sub(1); }
    } counted{s.refusing};
    net::timed_socket stream(std::move(socket));
    co_await send_error(stream, 503, "too many connections (limit " + std::to_string(limit) + ")", false, 11);
    const bool lingers = counted.before < std::max(limit, lingering_refusals_floor);
    auto linger = lingers ? lingering_close : std::chrono::milliseconds(0);
    if (linger.count() > 0) s.metrics.lingering_closes.with({"refused"}).inc();
    co_await net::lingering_close(stream, linger);
  }

  asio::awaitable<void> admin_loop() {
    while (admin_ && admin_->is_open()) {
      auto [ec, socket] = co_await admin_->async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) break;
        continue;
      }
      asio::co_spawn(admin_->get_executor(), run_admin_session(shared_, std::move(socket)),
                     [](std::exception_ptr e) { log_exception(e, "admin"); });
    }
  }

  asio::awaitable<void> sweep_loop(worker& w) {
    asio::steady_timer timer(w.ioc);
    while (!stopping_) {
      timer.expires_after(std::chrono::seconds(2));
      co_await timer.async_wait(use_tuple);
      w.sweep_pools();
    }
  }

  // Every 10 s, the free heap goes back to the kernel but for the 1 MiB main.cpp keeps at its top (TLS records):
  // RSS follows heap in use instead of creeping up by the free pages the threads' arenas touch again.
  asio::awaitable<void> heap_loop() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopping_) {
      timer.expires_after(std::chrono::seconds(10));
      co_await timer.async_wait(use_tuple);
      if (!stopping_) heap_.release(obs::heap_top_kept_bytes);
    }
  }

  void wait_signal(asio::signal_set& signals) {
    signals.async_wait([this, &signals](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal(signals);
        return;
      }
      begin_shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
      wait_signal(signals);  // a second signal during the drain is absorbed; the grace period still applies
    });
  }

  void reload() {
    auto res = config_from_args(std::vector<std::string_view>(args_.begin(), args_.end()), env_);
    log_warnings(res);
    if (!res.cfg) {
      obs::error("config reload rejected; the previous config stays in force",
                 {{"errors", format_errors(res.errors, res.config_path.empty() ? "flags" : res.config_path)}});
      return;
    }
    auto old = shared_.rt.load();
    if (res.cfg->listen != old->cfg.listen || res.cfg->admin_listen != old->cfg.admin_listen ||
        res.cfg->threads != old->cfg.threads || res.cfg->busy_poll_us != old->cfg.busy_poll_us ||
        res.cfg->tls.ca_file != old->cfg.tls.ca_file ||
        res.cfg->tls.insecure_skip_verify != old->cfg.tls.insecure_skip_verify) {
      obs::warn("listen addresses, threads, busy_poll_us and tls settings change only on restart; the rest is reloaded");
    }
    obs::level l = obs::level::info;
    obs::parse_level(res.cfg->log_level, l);
    obs::configure(l, res.cfg->log_format == "json" ? obs::log_format::json : obs::log_format::logfmt);
    if (res.cfg->credentials.source != old->cfg.credentials.source ||
        res.cfg->credentials.profile != old->cfg.credentials.profile ||
        res.cfg->credentials.role_arn != old->cfg.credentials.role_arn) {
      obs::warn("the credentials block changes only on restart; new route roles are picked up now");
    }
    if (shared_.scraper != nullptr) {
      // The scraper applies its section first: if it refuses it (a TLS file, credentials), nothing changes.
      if (auto e = shared_.scraper->reload(res.cfg->scrape); !e.empty()) {
        obs::error("config reload rejected by the scraper; the previous config stays in force", {{"error", e}});
        return;
      }
    }
    auto compiled = compile(std::move(*res.cfg), shared_.resolve_store);
    obs::info("config reloaded", {{"routes", compiled->routes.size()}, {"scrape_jobs", compiled->cfg.scrape.job_count()}});
    shared_.rt.store(std::move(compiled));
  }

  void begin_shutdown(const char* why) {
    if (shared_.draining.exchange(true)) return;
    auto grace = shared_.rt.load()->cfg.timeouts.shutdown_grace;
    obs::info("shutting down: no new connections, finishing in-flight requests",
              {{"signal", why}, {"grace_ms", grace.count()}, {"connections", shared_.connections.load()}});
    boost::system::error_code ec;
    if (listener_) listener_->close(ec);
    for (auto& w : workers_) asio::post(w->ioc, [w = w.get()] { w->close_idle_sessions(); });
    asio::co_spawn(workers_[0]->ioc, drain(clock::now() + grace), asio::detached);
  }

  using clock = std::chrono::steady_clock;
  asio::awaitable<void> drain(clock::time_point deadline) {
    // The scraper stops scraping and its senders deliver what they can within the same grace period, on
    // their own thread, while the proxy finishes its requests.
    std::future<void> scraper_done;
    if (shared_.scraper != nullptr) {
      auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      scraper_done = std::async(std::launch::async, [s = shared_.scraper, grace] { s->shutdown(grace); });
    }
    asio::steady_timer timer(workers_[0]->ioc);
    while (shared_.connections.load() > 0 && clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
      for (auto& w : workers_) asio::post(w->ioc, [w = w.get()] { w->close_idle_sessions(); });
    }
    if (shared_.connections.load() > 0) {
      obs::warn("grace period over; closing the remaining connections", {{"connections", shared_.connections.load()}});
    }
    while (scraper_done.valid() &&
           scraper_done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(use_tuple);
    }
    stopping_ = true;
    boost::system::error_code ec;
    if (admin_) admin_->close(ec);
    for (auto& w : workers_) w->ioc.stop();
  }

  shared_state& shared_;
  std::vector<std::string> args_;
  env_lookup env_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::chrono::microseconds busy_poll_{0};
  std::optional<tcp::acceptor> listener_;
  std::optional<tcp::acceptor> admin_;
  std::atomic<bool> stopping_{false};
  obs::heap_releaser heap_{shared_.registry};
};

}  // namespace

int run_proxy(std::span<const std::string_view> args, const env_lookup& env) {
  auto res = config_from_args(args, env);
  if (!res.cfg) {
    std::cerr << format_errors(res.errors, res.config_path.empty() ? "sigv4-sidecar" : res.config_path);
    return 2;
  }
  obs::level l = obs::level::info;
  obs::parse_level(res.cfg->log_level, l);
  obs::configure(l, res.cfg->log_format == "json" ? obs::log_format::json : obs::log_format::logfmt);
  log_warnings(res);
  const auto fds = raise_fd_limit();
  const std::size_t idle_pool =
      res.cfg->pool.max_idle_per_upstream * std::max<std::size_t>(1, res.cfg->routes.size());
  if (!fds.error.empty()) obs::warn("cannot raise the open-file limit", {{"error", fds.error}});
  if (fds.soft < fds_needed(res.cfg->limits.max_connections, idle_pool)) {
    obs::warn("the open-file limit is too low for max_connections: fewer connections are accepted, the rest get "
              "503; raise LimitNOFILE / ulimit -n",
              {{"open_files", std::to_string(fds.soft)},
               {"needed", std::to_string(fds_needed(res.cfg->limits.max_connections, idle_pool))},
               {"max_connections", std::to_string(res.cfg->limits.max_connections)},
               {"max_connections_effective", std::to_string(connections_for_fds(fds.soft, idle_pool))}});
  } else if (fds.soft != fds.before) {
    obs::debug("raised the open-file limit", {{"from", std::to_string(fds.before)}, {"to", std::to_string(fds.soft)}});
  }

  std::unique_ptr<asio::ssl::context> tls;
  try {
    tls = std::make_unique<asio::ssl::context>(net::make_client_tls_context(
        net::tls_settings::server_auth(res.cfg->tls.ca_file, !res.cfg->tls.insecure_skip_verify)));
  } catch (const std::exception& e) {
    obs::error("TLS setup failed", {{"error", e.what()}});
    return 1;
  }
  if (res.cfg->tls.insecure_skip_verify) {
    obs::warn("TLS certificate verification is OFF (--no-verify-ssl): upstreams are not authenticated");
  }

  obs::registry registry;
  obs::register_process_metrics(registry);
  std::unique_ptr<credential_hub> hub;
  try {
    hub = std::make_unique<credential_hub>(*res.cfg, env, registry);
  } catch (const std::exception& e) {
    obs::error("credentials setup failed", {{"error", e.what()}});
    return 1;
  }
  auto resolve = [h = hub.get()](const sigv4_config& s) { return h->store_for(s); };
  shared_state shared(compile(std::move(*res.cfg), resolve), hub->base(),
                      registry, std::move(tls));
  shared.resolve_store = resolve;
  if (fds.soft > 0) shared.connection_cap = connections_for_fds(fds.soft, idle_pool);
  shared.not_ready_reason = [h = hub.get()] { return h->not_ready_reason(); };
  shared.credentials_expired = [h = hub.get()](const creds::credential_store* st) {
    h->refresh_soon(st, "credentials expired by this host's clock: refreshing now");
  };
  // The first fetch happens before the first request is served. If it fails (or is slow), the proxy serves
  // anyway: /-/ready and every signed request say why with a 503, and the refreshers keep trying.
  if (!hub->start(std::chrono::seconds(20))) {
    obs::warn("no usable AWS credentials yet: requests get 503 until a refresh succeeds",
              {{"reason", hub->not_ready_reason()}});
  }
  shared.metrics.build_info.with({SIGV4_SIDECAR_VERSION_STRING}).set(1);

  const auto& live = shared.rt.load()->cfg;
  scraper::manager scrape(scraper::manager_deps{
      .registry = registry,
      .store_for = [h = hub.get()](const scraper::sigv4_settings& s, std::string&) -> const creds::credential_store* {
        sigv4_config c;
        c.region = s.region;
        c.role_arn = s.role_arn;
        c.external_id = s.external_id;
        c.profile = s.profile;
        return h->store_for(c);
      },
      .refresh_credentials = [h = hub.get()](const creds::credential_store* s,
                                             std::string_view why) { h->refresh_soon(s, why); },
      .user_agent = std::string("sigv4-sidecar/") + SIGV4_SIDECAR_VERSION_STRING,
      .default_tls = net::tls_settings::server_auth(live.tls.ca_file, !live.tls.insecure_skip_verify)});
  shared.scraper = &scrape;
  if (!live.scrape.empty()) {
    if (auto e = scrape.start(live.scrape); !e.empty()) {
      obs::error("the scraper cannot start", {{"error", e}});
      return 1;
    }
  }
  server srv(shared, std::vector<std::string>(args.begin(), args.end()), env);
  return srv.run();
}

}  // namespace sigv4::app
