#pragma once
// One scrape instance's durable spool (I/O glue around spool::store, on the scraper thread): its jobs'
// scrapes are appended here, once for every endpoint; each remote_sender reads them back through its own
// reader and commits what its receiver acknowledged. The group commit runs on a timer (sync_interval).
//
// When the spool cannot take a scrape (a full disk, an I/O error, a page larger than a segment), that
// scrape goes to the endpoints' memory queues instead, counted and logged, and spooling is tried again after
// `retry_after`: the process keeps scraping and serving. (Samples spooled before such a switch may then
// reach a series' receiver after newer in-memory ones; a receiver that refuses them out of order counts them
// as failed, never silently.)
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scraper/config.hpp"
#include "scraper/labels.hpp"
#include "scraper/scraper_metrics.hpp"
#include "scraper/spool.hpp"

namespace sigv4::scraper {

class instance_spool final : public appender, public std::enable_shared_from_this<instance_spool> {
 public:
  // The store in `dir` with one reader per name (others' positions are deleted). nullptr and `error` (with
  // the path and the reason) when the directory is unusable.
  static std::shared_ptr<instance_spool> open(boost::asio::any_io_executor ex, std::string instance,
                                              std::string dir, const storage_settings& s,
                                              std::vector<std::string> readers, scraper_metrics& m,
                                              std::string& error);
  ~instance_spool() override;

  void append(const sample_batch& batch) override;

  // An endpoint reading this spool: its reader, its metric labels, and how to wake it when a record was
  // appended.
  struct consumer {
    std::string reader;
    std::string remote_name;
    std::string url;
    std::function<void()> wake;
  };
  // The endpoints now configured, and where a scrape goes when the spool can't take it (their memory
  // queues). Readers of endpoints no longer configured are closed: they stop keeping segments.
  void set_consumers(std::shared_ptr<appender> memory_fallback, std::vector<consumer> consumers);

  spool::store& store() { return *store_; }
  // Records ending at or before this were spooled before this start: a read of them is a replay.
  spool::position replay_end() const { return replay_end_; }
  const std::string& instance() const { return instance_; }
  // The newest sample timestamp spooled since this start (ms; 0 before the first): dynamic sharding's
  // "highest received".
  std::int64_t newest_ms() const { return newest_ms_; }
  // Samples given to append() since this start (spooled or not): dynamic sharding's incoming rate, which a
  // reader's rate (it follows the send rate) would make feed on itself during a catch-up.
  std::uint64_t received_samples() const { return received_; }
  const std::string& dir() const { return dir_; }

  void start();  // the sync timer
  // The last sync; lets go of the consumers (they hold this spool: a cycle otherwise). The store stays open
  // for readers' final commits until destruction, which syncs once more.
  void stop();
  void sync();

  static constexpr std::chrono::seconds retry_after{30};

 private:
  instance_spool(boost::asio::any_io_executor ex, std::string instance, std::string dir, scraper_metrics& m);
  void tick();
  void publish();
  void write_failed(const spool::status& st, std::size_t samples);

  boost::asio::any_io_executor ex_;
  std::string instance_;
  std::string dir_;
  scraper_metrics& metrics_;
  std::unique_ptr<spool::store> store_;
  spool::position replay_end_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_{1000};
  std::shared_ptr<appender> memory_;
  std::vector<consumer> consumers_;
  std::vector<std::string> readers_;  // of open readers
  std::string scratch_, payload_;
  std::chrono::steady_clock::time_point retry_at_{};
  bool stopped_ = false;
  std::int64_t newest_ms_ = 0;
  std::uint64_t received_ = 0;
  spool::stats published_{};
};

// The reader's name for an endpoint: its remote name and a hash of its URL, so that two endpoints sharing a
// name, or a name moved to another URL, never share a position.
std::string spool_reader_name(const std::string& remote_name, const std::string& url);

}  // namespace sigv4::scraper
