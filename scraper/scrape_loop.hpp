#pragma once
// One target's scrape loop (I/O): at a fixed offset in every interval it GETs the page through a keep-alive
// pool (signed when the job says sigv4), decompresses and parses it through the target's scrape_cache, and
// hands the samples, stale markers and synthetic series to the job's appender. A failure fails that scrape
// (up = 0, stale markers, the reason logged and shown in /api/v1/targets), never the loop or the process.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "net/upstream.hpp"
#include "scraper/http_auth.hpp"
#include "scraper/scrape_cache.hpp"
#include "scraper/scraper_metrics.hpp"
#include "scraper/targets.hpp"
#include "signer/signer.hpp"

namespace sigv4::scraper {

// A job's settings as the loops use them: immutable, shared by the job's loops, replaced whole on reload.
struct job_runtime {
  std::string name;
  bool honor_labels = false;
  bool honor_timestamps = true;
  scrape_limits limits;
  std::size_t body_size_limit = 0;
  bool follow_redirects = true;
  relabel_rules metric_relabel;
  request_auth auth;  // with sigv4, an empty region/service is inferred from each target's host
  boost::asio::ssl::context* tls = nullptr;  // for https targets; owned by the manager, outlives the job
  std::string server_name;                   // TLS name to check instead of the target host
  std::shared_ptr<appender> out;             // shared: a loop mid-scrape may outlive a reload's new fan-out
};

struct scrape_services {
  boost::asio::any_io_executor ex;
  const signer& signing;
  scraper_metrics& metrics;
  // The keep-alive pool for an upstream, per TLS context (one per job with its own tls_config).
  std::function<net::upstream_pool&(const net::upstream_key&, boost::asio::ssl::context*)> pool_for;
  std::string user_agent;
  // Every loop's samples on their way to the queues: one buffer for all (a scrape is turned into samples
  // and handed on without a suspension, on the one scraper thread), not one per target kept between scrapes.
  sample_batch batch;
  std::function<void(const creds::credential_store*, std::string_view)> refresh_credentials;  // manager_deps'
};

struct target_status {
  std::string health = "unknown";  // up, down, unknown (not scraped yet)
  std::string last_error;
  std::chrono::system_clock::time_point last_scrape{};
  double last_duration_seconds = 0;
};

class scrape_loop : public std::enable_shared_from_this<scrape_loop> {
 public:
  scrape_loop(scrape_services& services, scrape_target target, std::shared_ptr<const job_runtime> job);

  void start();
  // Stops the loop. With end_of_run_staleness (the target went away, the process goes on) it first waits
  // until the next scrape would have been and writes stale markers for every series then, as Prometheus does.
  void stop(bool end_of_run_staleness);
  // Reload with the target unchanged: the loop keeps its cache (and so its staleness state).
  void update_job(std::shared_ptr<const job_runtime> job);

  const scrape_target& target() const { return target_; }
  std::string job_name() const;
  target_status status() const;

 private:
  struct page {
    std::string body;
    std::string content_type;
    std::string error;
    std::string reason;  // metric label
  };
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<page> fetch(const job_runtime& job, std::chrono::steady_clock::time_point deadline);
  void scrape_done(const job_runtime& job, page& p, std::chrono::system_clock::time_point start,
                   std::chrono::steady_clock::duration took);
  std::chrono::steady_clock::duration first_offset() const;

  scrape_services& svc_;
  scrape_target target_;
  std::shared_ptr<const job_runtime> job_;  // only touched on the scraper thread
  scrape_cache cache_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
  bool end_of_run_ = false;
  std::int64_t last_start_ms_ = 0;
  std::string inflated_;
  mutable std::mutex status_mutex_;
  target_status status_;
};

}  // namespace sigv4::scraper
