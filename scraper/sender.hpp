#pragma once
// One remote_write endpoint (I/O): its write_queue, one sending coroutine per shard, write_relabel_configs,
// the encoder, signing and the POST. The queue decides what to send and when to retry; this only performs it
// and reports each outcome back.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/upstream.hpp"
#include "net/url.hpp"
#include "scraper/http_auth.hpp"
#include "scraper/instance_spool.hpp"
#include "scraper/queue.hpp"
#include "scraper/relabel.hpp"
#include "scraper/remote_write.hpp"
#include "scraper/scraper_metrics.hpp"
#include "scraper/sharding.hpp"
#include "scraper/spool_codec.hpp"
#include "signer/signer.hpp"

namespace sigv4::scraper {

struct remote_runtime {
  std::string name;  // remote_name label: the configured name, else a hash of the URL as Prometheus does
  net::url url;
  std::string url_text;
  queue_settings queue;
  std::size_t start_shards = 1;  // until dynamic sharding's first update
  std::chrono::milliseconds timeout{30000};
  std::vector<std::pair<std::string, std::string>> headers;
  relabel_rules write_relabel;
  labels external;
  request_auth auth;
  boost::asio::ssl::context* tls = nullptr;  // https; owned by the manager
  std::string server_name;
  std::function<void(const creds::credential_store*, std::string_view)> refresh_credentials;  // manager_deps'
  // With a spool, the sender reads the instance's scrapes back from it (reader `reader`) and commits what
  // was delivered; append() is then only the spool's fallback when it can't take a scrape.
  std::shared_ptr<instance_spool> spool;
  std::string reader;
};

class remote_sender final : public appender, public std::enable_shared_from_this<remote_sender> {
 public:
  remote_sender(boost::asio::any_io_executor ex, remote_runtime rt, net::upstream_pool& pool, const signer& s,
                scraper_metrics& m, std::string user_agent);

  // With a spool: from the reader's committed position (what an earlier sender read and did not get
  // acknowledged is read again).
  void start();
  // Stops reading the spool and the shard loops; what is queued is sent first while `grace` lasts. The rest
  // stays in the spool when there is one, and is counted as lost at exit when there is not.
  boost::asio::awaitable<void> drain(std::chrono::steady_clock::time_point until);
  // Stops at once (a reload replaced it): no commit from now on, so its replacement may rewind the reader.
  void stop();
  // A record was appended to the spool.
  void wake_feed();

  // From the scrape loops (without a spool) or the spool's fallback, on the scraper thread.
  void append(const sample_batch& batch) override;

  const remote_runtime& runtime() const { return rt_; }
  const queue_stats& stats() const { return queue_.stats(); }

 private:
  boost::asio::awaitable<void> shard_loop(std::size_t shard);
  boost::asio::awaitable<void> feed_loop();
  boost::asio::awaitable<void> tune_loop();
  // Starts a loop (and a wake timer) for every shard the queue has that has none; wakes them all.
  void sync_loops();
  // Reads a few spool records into the queue; false when there was nothing to read.
  bool feed_once();
  void commit_acks();
  // Compresses the batch's body before its first suspension: the view into the queue is not kept.
  boost::asio::awaitable<outcome> send(const batch& b);
  void publish();

  boost::asio::any_io_executor ex_;
  remote_runtime rt_;
  net::upstream_pool& pool_;
  const signer& signer_;
  scraper_metrics& metrics_;
  std::string user_agent_;
  write_queue queue_;
  std::vector<std::unique_ptr<boost::asio::steady_timer>> wake_;
  record_builder records_;
  std::string record_;
  std::unique_ptr<boost::asio::steady_timer> feed_timer_;
  std::unique_ptr<boost::asio::steady_timer> tune_timer_;
  shard_tuner tuner_;
  std::vector<bool> loop_running_;
  double send_seconds_ = 0;  // the completing request of every batch (the tuner's input)
  std::int64_t newest_received_ms_ = 0;  // without a spool
  std::chrono::steady_clock::time_point last_success_{};
  std::chrono::steady_clock::time_point last_throttled_{};
  spool::reader_id reader_ = 0;
  ack_tracker<spool::position> acks_;
  std::vector<spool::record> read_;
  sample_batch decoded_;
  std::string scratch_;
  bool feed_waiting_ = false;
  bool feed_failed_ = false;  // a read error: try again after a second
  bool detached_ = false;     // stop(): commits nothing more
  bool stopping_ = false;
  bool flushing_ = false;
  std::size_t running_ = 0;
  queue_stats published_{};
};

// Gives each remote of an instance the samples of that instance's jobs.
class fanout final : public appender {
 public:
  explicit fanout(std::vector<std::shared_ptr<appender>> to) : to_(std::move(to)) {}
  void append(const sample_batch& batch) override;

 private:
  std::vector<std::shared_ptr<appender>> to_;
};

}  // namespace sigv4::scraper
