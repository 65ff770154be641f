#pragma once
// The running scraper: its own thread and io_context (scraping and sending never share a thread with the
// proxy's forwarding), one scrape_loop per target, target discovery (static_configs, file_sd_configs), one
// remote_sender per remote_write, SIGHUP reloads that keep unchanged targets' loops and their staleness
// state, and the /api/v1/targets view. proxy/ creates it and hands it the config section and the credentials.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "creds/store.hpp"
#include "net/tls.hpp"
#include "obs/metrics.hpp"
#include "scraper/config.hpp"

namespace sigv4::scraper {

struct manager_deps {
  obs::registry& registry;
  // The published credentials for a sigv4 block (the base identity, or its role's); null and `error` set
  // when there can be none. Called on the scraper thread while a config is applied.
  std::function<const creds::credential_store*(const sigv4_settings&, std::string& error)> store_for;
  // The credentials from this store are expired: AWS refused a signature as made with them, or this host's
  // clock is past their expiry. Refresh them now rather than at their schedule (a clock step, or an expiry
  // the refresher misjudged); `why` is for the log. Any thread; may be empty.
  std::function<void(const creds::credential_store*, std::string_view why)> refresh_credentials;
  std::string user_agent;
  net::tls_settings default_tls;  // https targets and remotes without a tls_config: the proxy's CA settings
};

class manager {
 public:
  explicit manager(manager_deps deps);
  ~manager();
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  // Starts the thread and applies cfg. "" on success, else why not (nothing runs then).
  std::string start(const scraper_config& cfg);
  // Applies a new config; "" on success, else why not (the old one keeps running).
  std::string reload(const scraper_config& cfg);
  // Stops scraping, gives the senders until `grace` to deliver what is queued, then stops the thread.
  void shutdown(std::chrono::milliseconds grace);

  // Prometheus' /api/v1/targets answer (the part tools read).
  std::string targets_json() const;
  // Empty when ready; else why not (for /-/ready).
  std::string not_ready_reason() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace sigv4::scraper
