#include "scraper/queue.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "signer/time.hpp"

namespace sigv4::scraper {

std::string_view to_string(loss_reason r) {
  switch (r) {
    case loss_reason::queue_full:
      return "queue_full";
    case loss_reason::http_4xx:
      return "http_4xx";
    case loss_reason::http_429:
      return "http_429";
    case loss_reason::http_other:
      return "http_other";
  }
  return "unknown";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Go's strconv.Atoi: an optional sign, then decimal digits only. Values past ~30 years are refused rather
// than left to overflow a nanosecond count.
std::optional<std::int64_t> parse_seconds(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 1'000'000'000) return std::nullopt;
  return negative ? -v : v;
}

// AWS's answers when the signature was made with expired temporary credentials: AMP and most REST services
// say 403 with this message, JSON-protocol services 400 with the ExpiredToken(Exception) code.
bool says_token_expired(std::string_view body) {
  return body.find("security token included in the request is expired") != std::string_view::npos ||
         body.find("ExpiredToken") != std::string_view::npos;
}

std::string status_message(int status, std::string_view body_first_line) {
  std::string m = "server returned HTTP status " + std::to_string(status);
  if (!body_first_line.empty()) {
    m += ": ";
    m += body_first_line;
  }
  return m;
}

}  // namespace

duration parse_retry_after(std::string_view header, std::chrono::system_clock::time_point now_wall) {
  using namespace std::chrono;
  header = trim(header);
  if (auto date = sigv4::parse_http_date(header)) return duration_cast<seconds>(*date - now_wall);
  if (auto secs = parse_seconds(header)) return seconds(*secs);
  return duration{0};
}

outcome classify(int http_status, std::string_view retry_after_header, std::string_view body_first_line,
                 bool transport_error, const queue_settings& settings,
                 std::chrono::system_clock::time_point now_wall) {
  outcome o;
  if (transport_error) {
    o.kind = outcome_kind::retry;
    o.message = "transport error";
    return o;
  }
  if (http_status / 100 == 2) return o;
  o.message = status_message(http_status, body_first_line);
  o.throttled = http_status == 429 || parse_retry_after(retry_after_header, now_wall) > duration{0};
  auto server_delay = [&] { return std::max(parse_retry_after(retry_after_header, now_wall), duration{0}); };
  if (http_status / 100 == 5) {
    o.kind = outcome_kind::retry;
    if (settings.retry_after_on_5xx) o.retry_after = server_delay();
  } else if (http_status == 429) {
    if (settings.retry_on_http_429) {
      o.kind = outcome_kind::retry;
      o.retry_after = server_delay();
    } else {
      o.kind = outcome_kind::drop;
      o.reason = loss_reason::http_429;
    }
  } else if ((http_status == 403 || http_status == 400) && says_token_expired(body_first_line)) {
    o.kind = outcome_kind::retry_after_refresh;
  } else {
    o.kind = outcome_kind::drop;
    o.reason = http_status / 100 == 4 ? loss_reason::http_4xx : loss_reason::http_other;
  }
  return o;
}

write_queue::write_queue(const queue_settings& settings, std::uint64_t seed)
    : settings_(settings),
      shards_(std::max<std::size_t>(1, std::min(settings.min_shards, settings.max_shards))),
      arrived_(shards_.size(), 0),
      rng_(seed) {
  for (auto& sh : shards_) sh.backoff = settings_.min_backoff;
}

void write_queue::note_time(time_point now) {
  latest_ = std::max(latest_, now);
}

void write_queue::lose(loss_reason r, std::uint64_t n) {
  stats_.samples_lost[static_cast<std::size_t>(r)] += n;
  (is_send_failure(r) ? stats_.samples_failed : stats_.samples_dropped) += n;
}

bool write_queue::add(std::uint64_t series_hash, std::int64_t t_ms, std::string_view record,
                      sample_origin origin) {
  ++stats_.samples_in;
  const std::size_t i = shard_of(series_hash);
  auto& sh = shards_[i];
  if (origin == no_origin && sh.queued.size() >= settings_.capacity) {
    lose(loss_reason::queue_full, 1);
    return false;
  }
  sh.bytes.append(record);
  sh.queued.push_back({series_hash, t_ms, origin, static_cast<std::uint32_t>(record.size())});
  ++arrived_[i];
  return true;
}

void write_queue::commit(time_point now) {
  note_time(now);
  const std::size_t full = std::max<std::size_t>(1, settings_.max_samples_per_send);
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const std::size_t n = std::exchange(arrived_[i], 0);
    if (n == 0) continue;
    auto& sh = shards_[i];
    sh.arrivals.push_back({n, latest_});
    stats_.samples_pending += n;
    const std::size_t before = sh.queued.size() - n;
    const bool earlier = before == 0 || (before < full && sh.queued.size() >= full);
    if (sh.ph == phase::idle && earlier && wakeup_change_) wakeup_change_(i);
  }
}

bool write_queue::has_room() const {
  return std::all_of(shards_.begin(), shards_.end(),
                     [&](const shard_state& sh) { return sh.queued.size() < settings_.capacity; });
}

bool write_queue::has_room(std::uint64_t max_pending) const {
  return stats_.samples_pending < max_pending && has_room();
}

std::size_t write_queue::queued_bytes(std::size_t shard) const {
  const auto& sh = shards_.at(shard);
  return sh.bytes.size() - sh.head;
}

bool write_queue::due(const shard_state& sh, time_point now) const {
  if (sh.queued.empty()) return false;
  if (sh.queued.size() >= std::max<std::size_t>(1, settings_.max_samples_per_send)) return true;
  return now >= sh.arrivals.front().at + settings_.batch_send_deadline;
}

void write_queue::request_shards(std::size_t n) {
  n = std::max<std::size_t>(1, n);
  pending_shards_ = n == shards_.size() ? 0 : n;
  try_reshard();
}

void write_queue::try_reshard() {
  if (pending_shards_ == 0) return;
  for (const auto& sh : shards_)
    if (sh.ph == phase::sending) return;
  for (std::size_t a : arrived_)
    if (a != 0) return;  // between add() and commit(): never, as the I/O side calls it, but not here either
  const std::size_t n = std::exchange(pending_shards_, 0);
  std::vector<shard_state> next(n);
  // The re-split samples keep their deadline only roughly: each new shard's are due as its oldest would
  // have been (and a retried batch's are due now).
  std::vector<time_point> oldest(n, time_point::max());
  for (auto& sh : shards_) {
    std::size_t pos = sh.head;
    time_point arrived = sh.arrivals.empty() ? latest_ : sh.arrivals.front().at;
    auto move = [&](const record_info& r, time_point at) {
      const std::size_t i = r.series_hash % n;
      next[i].bytes.append(sh.bytes, pos, r.size);
      next[i].queued.push_back(r);
      oldest[i] = std::min(oldest[i], at);
      pos += r.size;
    };
    if (sh.ph == phase::backing_off) {
      for (const auto& r : sh.inflight) move(r, latest_ - settings_.batch_send_deadline);
    }
    for (const auto& r : sh.queued) move(r, arrived);
  }
  for (std::size_t i = 0; i < n; ++i) {
    next[i].backoff = settings_.min_backoff;
    if (!next[i].queued.empty()) next[i].arrivals.push_back({next[i].queued.size(), oldest[i]});
  }
  shards_ = std::move(next);
  arrived_.assign(n, 0);
}

std::optional<batch> write_queue::take_batch(std::size_t shard, time_point now, take_mode mode) {
  note_time(now);
  auto& sh = shards_.at(shard);
  if (pending_shards_ != 0) return std::nullopt;
  if (sh.ph == phase::sending) return std::nullopt;
  if (sh.ph == phase::backing_off) {
    if (now < sh.retry_at) return std::nullopt;
  } else {
    if (sh.queued.empty() || (mode == take_mode::when_due && !due(sh, now))) return std::nullopt;
    const std::size_t n =
        std::min(sh.queued.size(), std::max<std::size_t>(1, settings_.max_samples_per_send));
    const auto end = sh.queued.begin() + static_cast<std::ptrdiff_t>(n);
    sh.inflight.assign(sh.queued.begin(), end);
    sh.queued.erase(sh.queued.begin(), end);
    sh.inflight_bytes = 0;
    for (const auto& r : sh.inflight) sh.inflight_bytes += r.size;
    for (std::size_t left = n; left > 0;) {
      auto& a = sh.arrivals.front();
      const std::size_t k = std::min(left, a.count);
      a.count -= k;
      left -= k;
      if (a.count == 0) sh.arrivals.pop_front();
    }
    sh.inflight_id = next_id_++;
    sh.attempt = 0;
    sh.backoff = settings_.min_backoff;
  }
  sh.ph = phase::sending;
  stats_.samples_total += sh.inflight.size();
  return batch{sh.inflight_id, std::string_view(sh.bytes).substr(sh.head, sh.inflight_bytes), sh.inflight,
               sh.attempt};
}

time_point write_queue::next_wakeup(std::size_t shard) const {
  const auto& sh = shards_.at(shard);
  if (pending_shards_ != 0) return time_point::max();
  switch (sh.ph) {
    case phase::sending:
      return time_point::max();
    case phase::backing_off:
      return sh.retry_at;
    case phase::idle:
      break;
  }
  if (sh.queued.empty()) return time_point::max();
  if (sh.queued.size() >= std::max<std::size_t>(1, settings_.max_samples_per_send)) return time_point::min();
  return sh.arrivals.front().at + settings_.batch_send_deadline;
}

duration write_queue::jittered(duration d) {
  // splitmix64: a tiny, seedable source; quality is irrelevant for spreading retries
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
  const double j = std::clamp(settings_.backoff_jitter, 0.0, 1.0);
  const auto lo = static_cast<duration::rep>(std::ceil(static_cast<double>(d.count()) * (1 - j)));
  const auto v = static_cast<duration::rep>(static_cast<double>(d.count()) * (1 - j * u));
  return duration{std::clamp(v, std::min(lo, d.count()), d.count())};
}

duration write_queue::complete(std::size_t shard, batch_id id, const outcome& o, time_point now) {
  note_time(now);
  if (shard >= shards_.size()) throw std::logic_error("write_queue::complete: no such shard");
  auto& sh = shards_[shard];
  if (sh.ph != phase::sending || sh.inflight_id != id) {
    throw std::logic_error("write_queue::complete: batch is not in flight on this shard");
  }
  const std::uint64_t n = sh.inflight.size();
  if (o.kind == outcome_kind::retry || o.kind == outcome_kind::retry_after_refresh) {
    stats_.samples_retried += n;
    ++stats_.batches_retried;
    // As 2.42's sendWriteRequestWithBackoff: a Retry-After replaces the backoff and the next backoff doubles
    // whichever was slept; only the computed one is capped and jittered.
    duration base = o.retry_after > duration{0} ? o.retry_after : duration{sh.backoff};
    const duration wait = o.retry_after > duration{0} ? base : jittered(base);
    sh.backoff = std::min<duration>(base * 2, settings_.max_backoff);
    sh.retry_at = now + wait;
    sh.ph = phase::backing_off;
    ++sh.attempt;
    try_reshard();
    return wait;
  }
  if (o.kind == outcome_kind::success) {
    stats_.samples_sent += n;
    ++stats_.batches_sent;
    for (const auto& s : sh.inflight) {
      stats_.highest_sent_timestamp_ms = std::max(stats_.highest_sent_timestamp_ms, s.t_ms);
    }
  } else {
    lose(is_send_failure(o.reason) ? o.reason : loss_reason::http_other, n);
    ++stats_.batches_failed;
  }
  stats_.samples_pending -= n;
  sh.inflight.clear();
  // The batch's bytes are done with. The FIFO's front is cut only once it is most of the buffer, so each
  // byte moves at most about once; an emptied shard starts over.
  sh.head += std::exchange(sh.inflight_bytes, 0);
  if (sh.head == sh.bytes.size()) {
    sh.bytes.clear();
    sh.head = 0;
  } else if (sh.head >= 64 * 1024 && sh.head * 2 >= sh.bytes.size()) {
    sh.bytes.erase(0, sh.head);
    sh.head = 0;
  }
  sh.ph = phase::idle;
  sh.attempt = 0;
  sh.backoff = settings_.min_backoff;
  try_reshard();
  return duration{0};
}

}  // namespace sigv4::scraper
