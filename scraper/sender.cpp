#include "scraper/sender.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/client.hpp"
#include "obs/log.hpp"
#include "scraper/aws_errors.hpp"
#include "signer/payload_hash.hpp"

namespace sigv4::scraper {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

obs::rate_limiter& send_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(5));
  return l;
}

obs::rate_limiter& drop_log_limiter() {
  static obs::rate_limiter l(std::chrono::seconds(10));
  return l;
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    obs::error("remote-write shard died (a bug)", {{"error", ex.what()}});
  }
}

}  // namespace

void fanout::append(const sample_batch& batch) {
  for (const auto& to : to_) to->append(batch);
}

remote_sender::remote_sender(asio::any_io_executor ex, remote_runtime rt, net::upstream_pool& pool,
                             const signer& s, scraper_metrics& m, std::string user_agent)
    : ex_(std::move(ex)),
      rt_(std::move(rt)),
      pool_(pool),
      signer_(s),
      metrics_(m),
      user_agent_(std::move(user_agent)),
      queue_(rt_.queue, std::hash<std::string>{}(rt_.url_text)),
      records_(rt_.external, rt_.write_relabel),
      tuner_(rt_.queue.min_shards, rt_.queue.max_shards) {
  queue_.request_shards(rt_.start_shards);  // nothing is queued yet: applied at once
  for (std::size_t i = 0; i < queue_.shards(); ++i)
    wake_.push_back(std::make_unique<asio::steady_timer>(ex_));
  queue_.on_wakeup_change([this](std::size_t shard) { wake_[shard]->cancel(); });
  metrics_.shards.with({rt_.name, rt_.url_text}).set(static_cast<double>(queue_.shards()));
  metrics_.shards_min.with({rt_.name, rt_.url_text}).set(static_cast<double>(rt_.queue.min_shards));
  metrics_.shards_max.with({rt_.name, rt_.url_text}).set(static_cast<double>(rt_.queue.max_shards));
}

void remote_sender::sync_loops() {
  const std::size_t n = queue_.shards();
  while (wake_.size() < n) wake_.push_back(std::make_unique<asio::steady_timer>(ex_));
  loop_running_.resize(std::max(loop_running_.size(), n), false);
  for (std::size_t i = 0; i < n; ++i) {
    if (loop_running_[i] || stopping_) continue;
    loop_running_[i] = true;
    asio::co_spawn(
        ex_, [self = shared_from_this(), i]() { return self->shard_loop(i); }, log_exception);
  }
  for (auto& t : wake_) t->cancel();  // new next_wakeup() for every shard; loops past n end
  metrics_.shards.with({rt_.name, rt_.url_text}).set(static_cast<double>(n));
}

asio::awaitable<void> remote_sender::tune_loop() {
  auto self = shared_from_this();
  auto& timer = *tune_timer_;
  while (!stopping_) {
    timer.expires_after(shard_tuner::update_interval);
    co_await timer.async_wait(use_tuple);
    if (stopping_) break;
    const auto& st = queue_.stats();
    shard_inputs in;
    // With a spool, what arrives is what the scrapes append, not what the reader hands the queue (that follows
    // the sends, so a backlog would grow the shards by itself, tick after tick, to max_shards).
    in.samples_in = rt_.spool ? rt_.spool->received_samples() : st.samples_in;
    in.samples_out = st.samples_sent + st.samples_failed;
    in.samples_dropped = st.samples_dropped;
    in.send_seconds = send_seconds_;
    in.highest_received_s = static_cast<double>(rt_.spool ? rt_.spool->newest_ms() : newest_received_ms_) / 1000.0;
    in.highest_sent_s = static_cast<double>(st.highest_sent_timestamp_ms) / 1000.0;
    in.sent_recently = steady::now() - last_success_ <= shard_tuner::update_interval;
    in.throttled = steady::now() - last_throttled_ <= shard_tuner::update_interval;
    const std::size_t now = queue_.shards();
    const std::size_t want = tuner_.tick(in, now);
    metrics_.shards_desired.with({rt_.name, rt_.url_text}).set(tuner_.desired());
    if (want == now || queue_.resharding()) continue;
    obs::info("remote_write: resharding",
              {{"remote", rt_.name}, {"url", rt_.url_text}, {"from", now}, {"to", want},
               {"desired", std::to_string(tuner_.desired())}});
    queue_.request_shards(want);
    if (queue_.shards() != now) sync_loops();
  }
}

void remote_sender::start() {
  sync_loops();
  tune_timer_ = std::make_unique<asio::steady_timer>(ex_);
  asio::co_spawn(
      ex_, [self = shared_from_this()]() { return self->tune_loop(); }, log_exception);
  if (rt_.spool) {
    auto& store = rt_.spool->store();
    reader_ = store.open_reader(rt_.reader);
    store.rewind(reader_);
    feed_timer_ = std::make_unique<asio::steady_timer>(ex_);
    asio::co_spawn(
        ex_, [self = shared_from_this()]() { return self->feed_loop(); }, log_exception);
  }
}

void remote_sender::stop() {
  stopping_ = true;
  detached_ = true;
  for (auto& t : wake_) t->cancel();
  if (tune_timer_) tune_timer_->cancel();
  wake_feed();
}

void remote_sender::wake_feed() {
  if (feed_waiting_) feed_timer_->cancel();
}

asio::awaitable<void> remote_sender::feed_loop() {
  ++running_;
  auto& timer = *feed_timer_;
  while (!stopping_) {
    // What is on disk need not wait in memory: two batches per shard keep every shard busy.
    const bool room =
        queue_.has_room(2 * std::max<std::size_t>(1, rt_.queue.max_samples_per_send) * queue_.shards());
    if (room && feed_once()) {
      // Let the shards send (and the scrapes run) between reads of a backlog.
      co_await asio::post(ex_, asio::use_awaitable);
      continue;
    }
    feed_waiting_ = true;
    if (feed_failed_)
      timer.expires_after(std::chrono::seconds(1));
    else
      timer.expires_at(steady::time_point::max());
    co_await timer.async_wait(use_tuple);
    feed_waiting_ = false;
  }
  --running_;
}

bool remote_sender::feed_once() {
  auto& store = rt_.spool->store();
  // A few scrapes at a time: each is about a thousand samples, and has_room() is asked again before the next.
  auto st = store.read(reader_, 8, 4 << 20, read_);
  feed_failed_ = !st.ok();
  if (feed_failed_) {
    std::uint64_t suppressed = 0;
    if (send_log_limiter().allow(suppressed)) {
      obs::error("spool: cannot read; retrying in 1 s",
                 {{"remote", rt_.name}, {"error", st.message}, {"suppressed", suppressed}});
    }
  }
  if (read_.empty()) return false;
  std::uint64_t relabeled_away = 0, replayed = 0, undecodable = 0;
  for (const auto& rec : read_) {
    decoded_.clear();
    if (rec.type != spool_record_samples || !decode_spool_record(rec.payload, scratch_, decoded_)) {
      ++undecodable;
      acks_.add(rec.end, 0);
      continue;
    }
    const auto o = acks_.add(rec.end, decoded_.size());
    for (const auto& e : decoded_.entries()) {
      record_.clear();
      if (!records_.build(decoded_.flat_labels(e), e.t_ms, e.v, record_)) {
        ++relabeled_away;
        acks_.done(o);
        continue;
      }
      queue_.add(e.hash, e.t_ms, record_, o);
    }
    if (rec.end <= rt_.spool->replay_end()) replayed += decoded_.size();
  }
  if (undecodable != 0) {
    // Checksummed, so written whole, but not by this release's encoder: nothing here can send it.
    metrics_.spool_corrupt.with({rt_.spool->instance()}).inc(undecodable);
    obs::error("spool: records of an unknown format skipped (their samples are lost)",
               {{"remote", rt_.name}, {"records", undecodable}});
  }
  if (relabeled_away != 0)
    metrics_.samples_dropped.with({rt_.name, rt_.url_text, "write_relabel"}).inc(relabeled_away);
  if (replayed != 0) metrics_.replayed.with({rt_.name, rt_.url_text}).inc(replayed);
  queue_.commit(steady::now());
  commit_acks();
  publish();
  return true;
}

void remote_sender::commit_acks() {
  if (!rt_.spool || detached_) return;
  spool::position end;
  if (acks_.committable(end)) rt_.spool->store().commit(reader_, end);
}

asio::awaitable<void> remote_sender::drain(steady::time_point until) {
  auto self = shared_from_this();
  flushing_ = true;
  stopping_ = true;
  for (auto& t : wake_) t->cancel();
  if (feed_timer_) wake_feed();
  if (tune_timer_) tune_timer_->cancel();
  asio::steady_timer t(ex_);
  while (running_ > 0 && steady::now() < until) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(use_tuple);
  }
  commit_acks();
  publish();
  const auto& st = queue_.stats();
  if (st.samples_pending != 0 && rt_.spool) {
    obs::info("remote_write: samples not delivered before shutdown stay in the spool for the next start",
              {{"remote", rt_.name}, {"url", rt_.url_text}, {"samples_in_memory", st.samples_pending}});
  } else if (st.samples_pending != 0) {
    obs::warn("remote_write: samples not delivered before shutdown (no spool configured: lost)",
              {{"remote", rt_.name}, {"url", rt_.url_text}, {"samples", st.samples_pending}});
  }
}

void remote_sender::append(const sample_batch& batch) {
  if (stopping_) {
    metrics_.samples_dropped.with({rt_.name, rt_.url_text, "shutting_down"}).inc(batch.size());
    return;
  }
  std::uint64_t relabeled_away = 0;
  for (const auto& e : batch.entries()) {
    newest_received_ms_ = std::max(newest_received_ms_, e.t_ms);
    record_.clear();
    if (!records_.build(batch.flat_labels(e), e.t_ms, e.v, record_)) {
      ++relabeled_away;
      continue;
    }
    queue_.add(e.hash, e.t_ms, record_);
  }
  if (relabeled_away != 0)
    metrics_.samples_dropped.with({rt_.name, rt_.url_text, "write_relabel"}).inc(relabeled_away);
  queue_.commit(steady::now());
  publish();
}

asio::awaitable<void> remote_sender::shard_loop(std::size_t shard) {
  ++running_;
  auto& timer = *wake_[shard];
  for (;;) {
    if (shard >= queue_.shards()) break;  // resharded to fewer
    auto b = queue_.take_batch(shard, steady::now(), flushing_ ? take_mode::flush : take_mode::when_due);
    if (!b) {
      if (stopping_ && (!flushing_ || queue_.queued(shard) == 0)) break;
      auto at = queue_.next_wakeup(shard);
      timer.expires_at(at == time_point::max() ? steady::time_point::max() : at);
      co_await timer.async_wait(use_tuple);
      continue;
    }
    const auto started = steady::now();
    outcome o = co_await send(*b);
    const auto ended = steady::now();
    metrics_.sent_batch_duration.with({rt_.name, rt_.url_text})
        .observe(std::chrono::duration<double>(ended - started).count());
    const bool done = o.kind == outcome_kind::success || o.kind == outcome_kind::drop;
    if (done) {
      for (const auto& r : b->records) acks_.done(r.origin);
      // Only the request that completed the batch: the backoff waits and failed attempts of an outage are no
      // sign of a slow receiver, and counted they made the tuner jump to max_shards at the recovery.
      send_seconds_ += std::chrono::duration<double>(ended - started).count();
    }
    if (o.kind == outcome_kind::success) last_success_ = ended;
    if (o.throttled) last_throttled_ = ended;
    const std::size_t shards_before = queue_.shards();
    queue_.complete(shard, b->id, o, ended);
    if (queue_.shards() != shards_before) sync_loops();
    commit_acks();
    if (feed_timer_) wake_feed();  // room again, perhaps: feed_loop asks
    publish();
  }
  if (shard < loop_running_.size()) loop_running_[shard] = false;
  --running_;
}

asio::awaitable<outcome> remote_sender::send(const batch& b) {
  // The body lives in this coroutine's frame: every shard is in a send() at once, and req.body (a view) must
  // stay the bytes that were signed until round_trip is done. A member buffer shared by the shards was
  // overwritten mid-request by the next shard's encode (snappy garbage, signature mismatches, 403 drops).
  std::string body;
  compress(b.body, body);
  const std::size_t samples = b.records.size();
  net::client_request req;
  req.method = "POST";
  req.target = rt_.url.target;
  req.headers = {{"Host", rt_.url.host_header()},
                 {"Content-Encoding", "snappy"},
                 {"Content-Type", "application/x-protobuf"},
                 {"User-Agent", user_agent_},
                 {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  for (const auto& h : rt_.headers) req.headers.push_back(h);
  req.body = body;
  const std::string payload = rt_.auth.sigv4 ? sha256_hex(body) : std::string(empty_payload_sha256);
  auto authorized = authorize(rt_.auth, req.method, req.target, payload, req.headers, signer_,
                              std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  if (!authorized.error.empty()) {
    // Never unsigned: the batch waits (with backoff) until the refresher has credentials again.
    metrics_.send_errors.with({rt_.name, rt_.url_text, "credentials"}).inc();
    if (authorized.sigv4_expired && rt_.refresh_credentials) {
      // Expired by this host's clock (stepped past the expiry, say): the refresher's timer was set by the
      // clock before, so ask it to fetch now.
      rt_.refresh_credentials(rt_.auth.store, "credentials expired by this host's clock: refreshing now");
    }
    std::uint64_t suppressed = 0;
    if (send_log_limiter().allow(suppressed)) {
      obs::warn("remote_write: not sent", {{"remote", rt_.name},
                                           {"url", rt_.url_text},
                                           {"error", authorized.error},
                                           {"suppressed", suppressed}});
    }
    co_return outcome{.kind = outcome_kind::retry, .message = authorized.error};
  }
  metrics_.bytes_sent.with({rt_.name, rt_.url_text}).inc(body.size());
  auto res = co_await net::round_trip(pool_, req, {steady::now() + rt_.timeout, 64 * 1024});
  std::string_view first_line = res.body;
  if (auto nl = first_line.find('\n'); nl != std::string_view::npos) first_line = first_line.substr(0, nl);
  first_line = first_line.substr(0, 512);
  if (!first_line.empty() && first_line.back() == '\r') first_line.remove_suffix(1);  // a CRLF body
  outcome o = classify(res.status, res.header("Retry-After"), first_line,
                       res.error.has_value() && res.status == 0, rt_.queue, std::chrono::system_clock::now());
  if (o.kind == outcome_kind::retry_after_refresh && rt_.auth.store != nullptr && rt_.refresh_credentials) {
    // The batch is kept; the retry after the backoff signs with what the refresh publishes.
    rt_.refresh_credentials(rt_.auth.store, "credentials refused as expired: refreshing now");
  }
  if (o.kind != outcome_kind::success) {
    std::string kind = res.status == 0     ? "network"
                       : res.status == 429 ? "http_429"
                       : res.status >= 500 ? "http_5xx"
                                           : "http_4xx";
    metrics_.send_errors.with({rt_.name, rt_.url_text, kind}).inc();
    // The answer's first line as the receiver wrote it (o.message), and for AWS's known messages a hint.
    std::string detail = res.error ? res.error->message : o.message;
    if (!res.error) {
      if (auto e = explain_aws_error(res.status, res.body); !e.hint.empty())
        detail += " (hint: " + e.hint + ")";
    }
    std::uint64_t suppressed = 0;
    if (o.kind == outcome_kind::drop) {
      obs::error(
          "remote_write: batch refused, dropped",
          {{"remote", rt_.name}, {"url", rt_.url_text}, {"samples", samples}, {"error", detail}});
    } else if (send_log_limiter().allow(suppressed)) {
      obs::warn("remote_write: send failed, retrying",
                {{"remote", rt_.name}, {"url", rt_.url_text}, {"error", detail}, {"suppressed", suppressed}});
    }
  }
  co_return o;
}

void remote_sender::publish() {
  const auto& s = queue_.stats();
  const std::string& n = rt_.name;
  const std::string& u = rt_.url_text;
  auto delta = [](std::uint64_t now, std::uint64_t before) { return now > before ? now - before : 0; };
  if (auto d = delta(s.samples_in, published_.samples_in)) metrics_.samples_in.with({n, u}).inc(d);
  if (auto d = delta(s.samples_total, published_.samples_total)) metrics_.samples_total.with({n, u}).inc(d);
  if (auto d = delta(s.samples_sent, published_.samples_sent)) metrics_.samples_sent.with({n, u}).inc(d);
  if (auto d = delta(s.samples_retried, published_.samples_retried))
    metrics_.samples_retried.with({n, u}).inc(d);
  for (std::size_t r = 0; r < loss_reason_count; ++r) {
    auto d = delta(s.samples_lost[r], published_.samples_lost[r]);
    if (d == 0) continue;
    auto reason = static_cast<loss_reason>(r);
    auto& fam = is_send_failure(reason) ? metrics_.samples_failed : metrics_.samples_dropped;
    fam.with({n, u, std::string(to_string(reason))}).inc(d);
    std::uint64_t suppressed = 0;
    if (reason == loss_reason::queue_full && drop_log_limiter().allow(suppressed)) {
      obs::warn(
          "remote_write: queue full, newest samples dropped (raise queue_config.capacity or max_shards)",
          {{"remote", n}, {"url", u}, {"dropped", d}, {"suppressed", suppressed}});
    }
  }
  metrics_.samples_pending.with({n, u}).set(static_cast<double>(s.samples_pending));
  metrics_.highest_sent.with({n, u}).set(static_cast<double>(s.highest_sent_timestamp_ms) / 1000.0);
  published_ = s;
}

}  // namespace sigv4::scraper
