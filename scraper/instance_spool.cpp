#include "scraper/instance_spool.hpp"

#include <algorithm>

#include "obs/log.hpp"
#include "scraper/spool_codec.hpp"

namespace sigv4::scraper {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

obs::rate_limiter& error_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(10));
  return l;
}

std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return s;
}

// FNV-1a: stable across releases and platforms (std::hash is neither), for names kept on disk.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

std::string spool_reader_name(const std::string& remote_name, const std::string& url) {
  return remote_name + "-" + hex64(fnv1a(url)).substr(0, 8);
}

instance_spool::instance_spool(asio::any_io_executor ex, std::string instance, std::string dir,
                               scraper_metrics& m)
    : ex_(ex), instance_(std::move(instance)), dir_(std::move(dir)), metrics_(m), timer_(ex) {}

instance_spool::~instance_spool() = default;

std::shared_ptr<instance_spool> instance_spool::open(asio::any_io_executor ex, std::string instance,
                                                     std::string dir, const storage_settings& s,
                                                     std::vector<std::string> readers, scraper_metrics& m,
                                                     std::string& error) {
  std::shared_ptr<instance_spool> sp(new instance_spool(ex, std::move(instance), std::move(dir), m));
  spool::settings ss;
  ss.dir = sp->dir_;
  ss.readers = readers;
  ss.new_readers = spool::start_at::oldest;  // never a gap: a reader without a position gets the backlog
  ss.max_bytes = s.max_bytes;
  ss.max_age = s.max_age;
  ss.on_event = [inst = sp->instance_, &m](const spool::event& e) {
    if (e.k == spool::event::kind::dropped_max_age || e.k == spool::event::kind::dropped_max_bytes) {
      m.spool_dropped.with({inst, e.k == spool::event::kind::dropped_max_age ? "max_age" : "max_bytes"})
          .inc(e.records);
    }
    const bool loss = e.k == spool::event::kind::dropped_max_age || e.k == spool::event::kind::dropped_max_bytes ||
                      e.k == spool::event::kind::corrupt_skipped;
    (loss ? obs::error : obs::warn)("spool: " + spool::to_string(e), {{"instance", inst}});
  };
  spool::status st;
  sp->store_ = spool::store::open(std::move(ss), st);
  if (!sp->store_) {
    error = "storage.path: " + st.message;
    return nullptr;
  }
  sp->interval_ = sp->store_->config().sync_interval;
  sp->replay_end_ = sp->store_->end();
  sp->readers_ = std::move(readers);
  const auto stats = sp->store_->get_stats();
  std::uint64_t backlog = 0;
  for (const auto& r : stats.readers) backlog = std::max(backlog, r.lag_bytes);
  obs::info("spool opened", {{"instance", sp->instance_},
                             {"dir", sp->dir_},
                             {"segments", stats.segments},
                             {"bytes", stats.bytes},
                             {"unsent_bytes", backlog},
                             {"corrupt_records", stats.corrupt_records},
                             {"torn_tails", stats.torn_tails}});
  // What open() found is counted from zero: a torn tail or a corrupt record of this start shows.
  sp->publish();
  return sp;
}

void instance_spool::set_consumers(std::shared_ptr<appender> memory_fallback, std::vector<consumer> consumers) {
  memory_ = std::move(memory_fallback);
  consumers_ = std::move(consumers);
  std::vector<std::string> now;
  for (const auto& c : consumers_) now.push_back(c.reader);
  for (const auto& r : readers_) {
    if (std::find(now.begin(), now.end(), r) == now.end()) {
      store_->close_reader(store_->open_reader(r));
      obs::info("spool: an endpoint left the config; its position is forgotten",
                {{"instance", instance_}, {"reader", r}});
    }
  }
  readers_ = std::move(now);
}

void instance_spool::append(const sample_batch& batch) {
  if (batch.empty()) return;
  for (const auto& e : batch.entries()) newest_ms_ = std::max(newest_ms_, e.t_ms);
  received_ += batch.size();
  if (stopped_ || steady::now() < retry_at_) {
    if (memory_) memory_->append(batch);
    return;
  }
  const std::int64_t newest = encode_spool_record(batch, scratch_, payload_);
  if (auto st = store_->append(payload_, newest, spool_record_samples); !st.ok()) {
    write_failed(st, batch.size());
    if (memory_) memory_->append(batch);
    return;
  }
  metrics_.spool_appended.with({instance_}).inc(batch.size());
  for (auto& c : consumers_) c.wake();
}

void instance_spool::write_failed(const spool::status& st, std::size_t samples) {
  const char* kind = st.code == spool::errc::disk_full ? "disk_full"
                     : st.code == spool::errc::too_large ? "too_large"
                                                          : "io_error";
  metrics_.spool_errors.with({instance_, kind}).inc();
  if (st.code != spool::errc::too_large) retry_at_ = steady::now() + retry_after;
  std::uint64_t suppressed = 0;
  if (error_log_limiter().allow(suppressed)) {
    obs::error(st.code == spool::errc::too_large
                   ? "spool: a scrape too large for a segment waits in memory"
                   : "spool: cannot write; scrapes wait in memory (up to queue_config.capacity) and spooling "
                     "is tried again in 30 s",
               {{"instance", instance_},
                {"dir", dir_},
                {"error", st.message},
                {"samples", samples},
                {"suppressed", suppressed}});
  }
}

void instance_spool::start() {
  tick();
}

void instance_spool::tick() {
  timer_.expires_after(interval_);
  timer_.async_wait([w = weak_from_this()](boost::system::error_code ec) {
    auto self = w.lock();
    if (ec || !self || self->stopped_) return;
    self->sync();
    self->tick();
  });
}

void instance_spool::sync() {
  if (auto st = store_->sync(); !st.ok()) write_failed(st, 0);
  publish();
}

void instance_spool::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  sync();
  // The senders hold this spool (their reader's store); the fallback fanout holds them: let go of them, or
  // neither is ever freed.
  memory_.reset();
  consumers_.clear();
}

void instance_spool::publish() {
  const auto s = store_->get_stats();
  auto delta = [](std::uint64_t now, std::uint64_t before) { return now > before ? now - before : 0; };
  metrics_.spool_bytes.with({instance_}).set(static_cast<double>(s.bytes));
  metrics_.spool_segments.with({instance_}).set(static_cast<double>(s.segments));
  metrics_.spool_corrupt.with({instance_}).inc(delta(s.corrupt_records, published_.corrupt_records));
  metrics_.spool_torn.with({instance_}).inc(delta(s.torn_tails, published_.torn_tails));
  for (const auto& c : consumers_) {
    for (const auto& r : s.readers) {
      if (r.name == c.reader) metrics_.spool_lag.with({c.remote_name, c.url}).set(static_cast<double>(r.lag_bytes));
    }
  }
  published_ = s;
}

}  // namespace sigv4::scraper
