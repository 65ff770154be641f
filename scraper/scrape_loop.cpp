#include "scraper/scrape_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "conf/values.hpp"
#include "net/client.hpp"
#include "net/url.hpp"
#include "obs/log.hpp"
#include "scraper/aws_errors.hpp"
#include "scraper/gzip.hpp"
#include "scraper/textparse.hpp"

namespace sigv4::scraper {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string reason_of(net::failure_kind k) {
  switch (k) {
    case net::failure_kind::resolve:
      return "dns";
    case net::failure_kind::refused:
    case net::failure_kind::connect_timeout:
      return "connect";
    case net::failure_kind::tls:
      return "tls";
    case net::failure_kind::timeout:
      return "timeout";
    default:
      return "other";
  }
}

std::string seconds_text(std::chrono::milliseconds d) {
  // strconv.FormatFloat(seconds, 'f', -1, 64): the shortest form, no exponent.
  char buf[32];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof buf, static_cast<double>(d.count()) / 1000.0, std::chars_format::fixed);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(d.count() / 1000);
}

obs::rate_limiter& failure_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(1));
  return l;
}

}  // namespace

scrape_loop::scrape_loop(scrape_services& services, scrape_target target,
                         std::shared_ptr<const job_runtime> job)
    : svc_(services), target_(std::move(target)), job_(std::move(job)), timer_(services.ex) {}

std::string scrape_loop::job_name() const {
  return job_->name;
}

target_status scrape_loop::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void scrape_loop::start() {
  asio::co_spawn(
      svc_.ex, [self = shared_from_this()]() { return self->run(); },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          obs::error("scrape loop died (a bug)", {{"error", ex.what()}});
        }
      });
}

void scrape_loop::stop(bool end_of_run_staleness) {
  stopping_ = true;
  end_of_run_ = end_of_run_staleness;
  timer_.cancel();
}

void scrape_loop::update_job(std::shared_ptr<const job_runtime> job) {
  job_ = std::move(job);
}

steady::duration scrape_loop::first_offset() const {
  // As Target.offset: scrapes of a target happen at a fixed phase of the interval, pinned to absolute time,
  // so restarts and reloads do not bunch the targets up.
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(target_.interval).count();
  const auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall::now().time_since_epoch()).count();
  std::int64_t base = interval - now % interval;
  auto offset = static_cast<std::int64_t>(target_.identity() % static_cast<std::uint64_t>(interval));
  std::int64_t next = base + offset;
  if (next > interval) next -= interval;
  return std::chrono::nanoseconds(next);
}

asio::awaitable<void> scrape_loop::run() {
  auto self = shared_from_this();  // the loop lives while its coroutine runs
  steady::time_point next = steady::now() + first_offset();
  while (!stopping_) {
    timer_.expires_at(next);
    co_await timer_.async_wait(use_tuple);
    if (stopping_) break;
    const auto job = job_;
    const auto start_wall = wall::now();
    const auto start = steady::now();
    page p = co_await fetch(*job, start + target_.timeout);
    if (stopping_ && !end_of_run_) break;
    scrape_done(*job, p, start_wall, steady::now() - start);
    // A ticker: the next scrape one interval after this one was due; missed ticks are skipped.
    next += target_.interval;
    while (next <= steady::now()) next += target_.interval;
  }
  if (end_of_run_ && last_start_ms_ != 0) {
    // endOfRunStaleness: wait until the next scrape would have been (plus 10% of the interval), then mark
    // every series stale at that scrape's time.
    const auto interval_ms = target_.interval.count();
    const std::int64_t stale_at = last_start_ms_ + interval_ms;
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(wall::now().time_since_epoch()).count();
    const auto wait =
        std::chrono::milliseconds(std::max<std::int64_t>(0, stale_at - now_ms + interval_ms / 10));
    asio::steady_timer t(svc_.ex, wait);
    co_await t.async_wait(use_tuple);
    auto& batch = svc_.batch;
    batch.clear();
    cache_.append_all_stale(stale_at, batch, true);
    if (job_->out != nullptr && !batch.empty()) job_->out->append(batch);
    batch.clear();
  }
}

asio::awaitable<scrape_loop::page> scrape_loop::fetch(const job_runtime& job, steady::time_point deadline) {
  page p;
  std::string problem;
  auto u = net::parse_url(target_.url(), &problem);
  if (!u) {
    p.error = "invalid target URL " + target_.url() + ": " + problem;
    p.reason = "other";
    co_return p;
  }
  net::client_request req;
  std::string target = u->target;
  for (int redirects = 0;; ++redirects) {
    req.method = "GET";
    req.target = target;
    req.headers = {{"Host", u->host_header()},
                   {"Accept", std::string(scrape_accept_header)},
                   {"Accept-Encoding", "gzip"},
                   {"User-Agent", svc_.user_agent},
                   {"X-Prometheus-Scrape-Timeout-Seconds", seconds_text(target_.timeout)}};
    request_auth auth = job.auth;
    if (auth.sigv4 && (auth.region.empty() || auth.service.empty())) {
      auto inferred = conf::infer_sigv4(u->host);
      if (!inferred) {
        p.error = "cannot sign: no sigv4 region/service given and " + u->host + " is not an AWS host";
        p.reason = "credentials";
        co_return p;
      }
      if (auth.region.empty()) auth.region = inferred->region;
      if (auth.service.empty()) auth.service = inferred->service;
    }
    auto authorized = authorize(auth, req.method, req.target, empty_payload_sha256, req.headers, svc_.signing,
                                std::chrono::floor<std::chrono::seconds>(wall::now()));
    if (!authorized.error.empty()) {
      if (authorized.sigv4_expired && svc_.refresh_credentials) {
        svc_.refresh_credentials(auth.store, "credentials expired by this host's clock: refreshing now");
      }
      p.error = authorized.error;
      p.reason = "credentials";
      co_return p;
    }
    net::upstream_key key{u->scheme, u->host, u->port, job.server_name};
    auto& pool = svc_.pool_for(key, u->scheme == "https" ? job.tls : nullptr);
    // Compressed pages are bounded by the same limit (a page never shrinks when inflated).
    auto res = co_await net::round_trip(pool, req, {deadline, job.body_size_limit});
    if (res.error) {
      p.error = res.error->message;
      p.reason = res.body_too_large ? "body_size_limit" : reason_of(res.error->kind);
      if (res.body_too_large) p.error = "body size limit exceeded";
      co_return p;
    }
    if ((res.status == 301 || res.status == 302 || res.status == 303 || res.status == 307 ||
         res.status == 308) &&
        job.follow_redirects) {
      if (redirects >= 10) {
        p.error = "stopped after 10 redirects";
        p.reason = "http_status";
        co_return p;
      }
      std::string location(res.header("Location"));
      if (location.starts_with('/')) {
        target = location;
        continue;
      }
      auto next = net::parse_url(location, &problem);
      if (!next) {
        p.error = "bad redirect Location '" + location + "': " + problem;
        p.reason = "http_status";
        co_return p;
      }
      u = next;
      target = u->target;
      continue;
    }
    if (res.status != 200) {
      p.error = describe_http_failure(res.status, res.body);
      p.reason = "http_status";
      co_return p;
    }
    p.content_type = std::string(res.header("Content-Type"));
    if (res.header("Content-Encoding") == "gzip") {
      auto why = gunzip(res.body, inflated_, job.body_size_limit);
      if (!why.empty()) {
        p.error = why;
        p.reason = why.starts_with("body size") ? "body_size_limit" : "gzip";
        co_return p;
      }
      p.body.swap(inflated_);
    } else {
      p.body = std::move(res.body);
    }
    co_return p;
  }
}

void scrape_loop::scrape_done(const job_runtime& job, page& p, wall::time_point start,
                              steady::duration took) {
  const std::int64_t start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
  last_start_ms_ = start_ms;
  auto& batch = svc_.batch;
  batch.clear();
  scrape_cache::report rep;
  if (p.error.empty()) {
    sample_context ctx{.target_labels = &target_.lbls,
                       .honor_labels = job.honor_labels,
                       .honor_timestamps = job.honor_timestamps,
                       .metric_relabel = &job.metric_relabel,
                       .limits = job.limits};
    rep.page = cache_.append_page(p.body, p.content_type, start_ms, ctx, batch);
    if (!rep.page.error.empty()) {
      p.error = rep.page.error;
      p.reason = p.error.starts_with("sample limit")                    ? "sample_limit"
                 : p.error.find("_limit exceeded") != std::string::npos ? "label_limit"
                                                                        : "parse";
    }
    if (rep.page.duplicates != 0) svc_.metrics.scrape_duplicates.with({job.name}).inc(rep.page.duplicates);
  }
  if (!p.error.empty()) cache_.append_all_stale(start_ms, batch, false);
  rep.up = p.error.empty();
  rep.duration_seconds = std::chrono::duration<double>(took).count();
  cache_.append_report(rep, start_ms, target_.lbls, batch);
  if (job.out != nullptr) job.out->append(batch);
  batch.clear();

  auto& m = svc_.metrics;
  m.scrapes.with({job.name, rep.up ? "success" : "failure"}).inc();
  m.scrape_duration.with({job.name}).observe(rep.duration_seconds);
  if (rep.up) {
    m.scrape_samples.with({job.name}).inc(rep.page.added);
  } else {
    m.scrape_failures.with({job.name, p.reason}).inc();
    std::uint64_t suppressed = 0;
    if (failure_log_limiter().allow(suppressed)) {
      obs::warn("scrape failed", {{"job", job.name},
                                  {"target", target_.url()},
                                  {"reason", p.reason},
                                  {"error", p.error},
                                  {"suppressed", suppressed}});
    }
  }
  std::lock_guard lock(status_mutex_);
  const bool was_up = status_.health == "up";
  status_.health = rep.up ? "up" : "down";
  status_.last_error = p.error;
  status_.last_scrape = start;
  status_.last_duration_seconds = rep.duration_seconds;
  if (rep.up && !was_up) obs::info("target up", {{"job", job.name}, {"target", target_.url()}});
}

}  // namespace sigv4::scraper
