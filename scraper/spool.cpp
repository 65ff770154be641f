// The spool's appends, group commit, limits and removal; open() is in spool_open.cpp, readers in
// spool_reader.cpp.
#include "scraper/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "scraper/crc32c.hpp"

namespace sigv4::scraper::spool {
namespace {

using namespace detail;

file_io posix_io;

bool full(int err) {
  return err == ENOSPC || err == EDQUOT;
}

}  // namespace

int file_io::fdatasync(int fd) {
  return ::fdatasync(fd);
}

std::string_view to_string(errc e) {
  switch (e) {
    case errc::ok:
      return "ok";
    case errc::disk_full:
      return "disk full";
    case errc::io_error:
      return "I/O error";
    case errc::too_large:
      return "record too large";
    case errc::bad_settings:
      return "bad settings";
  }
  return "?";
}

std::string to_string(const event& e) {
  const std::string at = e.path + " at offset " + std::to_string(e.offset);
  switch (e.k) {
    case event::kind::torn_tail_cut:
      return "spool: torn tail cut: " + std::to_string(e.bytes) + " bytes off " + at;
    case event::kind::corrupt_skipped:
      return "spool: corrupt data skipped: " + std::to_string(e.bytes) + " bytes in " + at;
    case event::kind::dropped_max_bytes:
    case event::kind::dropped_max_age:
      return "spool: segment " + e.path + " dropped by " +
             (e.k == event::kind::dropped_max_bytes ? "max_bytes: " : "max_age: ") +
             std::to_string(e.records) + " records, " + std::to_string(e.bytes) +
             " bytes lost for the readers that had not read them";
    case event::kind::reader_removed:
      return "spool: reader '" + e.reader + "' is not configured any more: " + e.path + " deleted";
    case event::kind::bad_position_file:
      return "spool: position file " + e.path + " is unreadable: reader '" + e.reader +
             "' starts again at the oldest record";
  }
  return "spool: ?";
}

namespace {

// Writes every byte of `iov` at `off`, through short writes. 0 or errno.
int write_all(file_io& io, int fd, iovec* iov, int n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t w = io.pwritev(fd, iov, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    off += static_cast<std::uint64_t>(w);
    auto left = static_cast<std::size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

}  // namespace

store::store(settings s) : settings_(std::move(s)), io_(settings_.io ? settings_.io : &posix_io) {}

store::~store() {
  if (opened_) (void)sync();
  for (auto& r : readers_) close_reader_fd(*r);
  for (auto [fd, seq] : unsynced_) ::close(fd);
  for (int fd : {active_fd_, dir_fd_, lock_fd_})
    if (fd >= 0) ::close(fd);  // closing the lock's descriptor releases the flock
}

status store::fail(errc code, std::string_view what, const std::string& path, int err) {
  if (full(err)) code = errc::disk_full;
  return {code, "spool: " + std::string(what) + " " + path + ": " + std::strerror(err)};
}

void store::emit(event e) {
  if (settings_.on_event) settings_.on_event(e);
}

std::string store::path_of(std::uint64_t seq) const {
  return settings_.dir + "/" + segment_file_name(seq);
}

status store::roll() {
  const std::uint64_t seq = segments_.empty() ? next_seq_ : segments_.back().seq + 1;
  const std::string path = path_of(seq);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errc::io_error, "cannot create segment", path, errno);
  std::byte header[segment_header_bytes];
  encode_segment_header(header);
  iovec iov{header, sizeof header};
  if (const int err = write_all(*io_, fd, &iov, 1, 0)) {
    ::close(fd);
    ::unlink(path.c_str());
    return fail(errc::io_error, "cannot write segment", path, err);
  }
  if (active_fd_ >= 0) {
    if (active_unsynced_)
      unsynced_.emplace_back(active_fd_, segments_.back().seq);
    else
      ::close(active_fd_);
  }
  active_fd_ = fd;
  active_unsynced_ = true;
  dir_unsynced_ = true;
  segments_.emplace_back().seq = seq;
  segments_.back().size = segment_header_bytes;
  stats_.bytes += segment_header_bytes;
  return {};
}

status store::append(std::string_view payload, std::int64_t timestamp_ms, std::uint8_t type) {
  const std::uint64_t size = record_header_bytes + payload.size();
  if (segment_header_bytes + size > settings_.segment_bytes)
    return {errc::too_large, "spool: a record of " + std::to_string(payload.size()) +
                                 " bytes does not fit in a segment of " +
                                 std::to_string(settings_.segment_bytes)};
  if (segments_.back().records > 0 && segments_.back().size + size > settings_.segment_bytes) {
    if (auto st = roll(); !st.ok()) {
      stats_.disk_full += st.code == errc::disk_full;
      return st;
    }
    remove_passed();  // the segment just sealed may be behind every reader already
  }
  segment& a = segments_.back();
  const record_header h{.length = static_cast<std::uint32_t>(payload.size()),
                        .timestamp_ms = timestamp_ms,
                        .payload_crc = crc32c(payload),
                        .type = type};
  std::byte header[record_header_bytes];
  encode_record_header(h, header);
  iovec iov[2] = {{header, sizeof header}, {const_cast<char*>(payload.data()), payload.size()}};
  if (const int err = write_all(*io_, active_fd_, iov, 2, a.size)) {
    // Whatever part of the record reached the file goes: the next append starts at a.size anyway, and a
    // cut that fails too leaves a torn tail for the next open.
    (void)::ftruncate(active_fd_, static_cast<off_t>(a.size));
    status st = fail(errc::io_error, "cannot append to", path_of(a.seq), err);
    stats_.disk_full += st.code == errc::disk_full;
    return st;
  }
  a.size += size;
  ++a.records;
  a.newest_ms = std::max(a.newest_ms, timestamp_ms);
  active_unsynced_ = true;
  ++stats_.records_appended;
  stats_.bytes_appended += payload.size();
  stats_.bytes += size;
  enforce_max_bytes();
  return {};
}

status store::sync() {
  status first;
  const auto note = [&](status s) {
    if (first.ok()) first = std::move(s);
  };
  // A failed fdatasync is not retried: Linux may already have dropped the failed pages' dirty state, so a
  // second call would report success for data that never reached the disk.
  for (auto [fd, seq] : unsynced_) {
    if (io_->fdatasync(fd) != 0) note(fail(errc::io_error, "cannot fsync segment", path_of(seq), errno));
    ::close(fd);
  }
  unsynced_.clear();
  if (active_unsynced_ && io_->fdatasync(active_fd_) != 0)
    note(fail(errc::io_error, "cannot fsync segment", path_of(segments_.back().seq), errno));
  active_unsynced_ = false;
  for (auto& r : readers_)
    if (r->dirty && !r->closed) note(write_position(*r));
  // After the segments: a position made durable never points past durable records.
  if (dir_unsynced_ && ::fsync(dir_fd_) != 0)
    note(fail(errc::io_error, "cannot fsync directory", settings_.dir, errno));
  dir_unsynced_ = false;
  ++stats_.syncs;
  stats_.disk_full += first.code == errc::disk_full;
  enforce_max_age();
  return first;
}

status store::write_position(reader& r) {
  const std::string path = settings_.dir + "/" + r.file;
  const std::string tmp = path + std::string(temp_suffix);
  std::string bytes = encode_position_file({r.name, r.committed.segment, r.committed.offset});
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errc::io_error, "cannot write reader position", tmp, errno);
  iovec iov{bytes.data(), bytes.size()};
  int err = write_all(*io_, fd, &iov, 1, 0);
  if (!err && io_->fdatasync(fd) != 0) err = errno;
  ::close(fd);
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return fail(errc::io_error, "cannot write reader position", path, err);  // stays dirty: the next sync
  }
  r.dirty = false;
  dir_unsynced_ = true;
  return {};
}

bool store::passed(const segment& s, position p) const {
  return p.segment > s.seq || (p.segment == s.seq && &s != &segments_.back() && p.offset >= s.size);
}

void store::remove_passed() {
  while (segments_.size() > 1) {
    const segment& f = segments_.front();
    for (const auto& r : readers_)
      if (!r->closed && !passed(f, r->committed)) return;
    for (auto& r : readers_)
      if (r->fd >= 0 && r->fd_seq == f.seq) close_reader_fd(*r);
    ::unlink(path_of(f.seq).c_str());  // if that fails, the next open finds the file and removes it then
    stats_.bytes -= f.size;
    ++stats_.segments_removed;
    segments_.pop_front();
  }
}

void store::drop_front(event::kind why) {
  const segment& f = segments_.front();
  const position next{segments_[1].seq, segment_header_bytes};
  for (auto& r : readers_) {
    if (r->closed || passed(f, r->committed)) continue;
    r->counters.dropped_bytes += f.size - std::clamp(r->committed.offset, segment_header_bytes, f.size);
    r->committed = std::max(r->committed, next);
    r->cursor = std::max(r->cursor, next);
    r->dirty = true;
  }
  for (auto& r : readers_)
    if (r->fd >= 0 && r->fd_seq == f.seq) close_reader_fd(*r);
  const std::string path = path_of(f.seq);
  ::unlink(path.c_str());
  if (f.records > 0) {  // an empty segment held nothing to lose
    ++stats_.dropped_segments;
    stats_.dropped_records += f.records;
    stats_.dropped_bytes += f.size;
    emit({why, path, {}, 0, f.size, f.records});
  }
  stats_.bytes -= f.size;
  segments_.pop_front();
}

void store::enforce_max_bytes() {
  if (!settings_.max_bytes || stats_.bytes <= settings_.max_bytes) return;
  remove_passed();
  while (segments_.size() > 1 && stats_.bytes > settings_.max_bytes)
    drop_front(event::kind::dropped_max_bytes);
}

void store::enforce_max_age() {
  if (settings_.max_age.count() <= 0) return;
  const std::int64_t now = settings_.now_ms ? settings_.now_ms()
                                            : std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count();
  const std::int64_t cutoff = now - settings_.max_age.count();
  remove_passed();
  while (segments_.size() > 1 && segments_.front().newest_ms < cutoff)
    drop_front(event::kind::dropped_max_age);
}

const store::segment* store::find(std::uint64_t seq) const {
  auto it = std::lower_bound(segments_.begin(), segments_.end(), seq,
                             [](const segment& s, std::uint64_t v) { return s.seq < v; });
  return it != segments_.end() && it->seq == seq ? &*it : nullptr;
}

store::segment* store::find(std::uint64_t seq) {
  return const_cast<segment*>(std::as_const(*this).find(seq));
}

position store::normalize(position p) const {
  for (const segment& s : segments_) {
    if (s.seq == p.segment) return {s.seq, std::clamp(p.offset, segment_header_bytes, s.size)};
    if (s.seq > p.segment) return {s.seq, segment_header_bytes};
  }
  return {segments_.back().seq, segments_.back().size};
}

std::uint64_t store::bytes_after(position p) const {
  std::uint64_t n = 0;
  for (const segment& s : segments_) {
    if (s.seq > p.segment)
      n += s.size - segment_header_bytes;
    else if (s.seq == p.segment)
      n += s.size - std::clamp(p.offset, segment_header_bytes, s.size);
  }
  return n;
}

stats store::get_stats() const {
  stats out = stats_;
  out.segments = segments_.size();
  for (const auto& r : readers_) {
    if (r->closed) continue;
    reader_stats rs = r->counters;
    rs.name = r->name;
    rs.committed = r->committed;
    rs.cursor = r->cursor;
    rs.lag_bytes = bytes_after(r->committed);
    rs.unread_bytes = bytes_after(r->cursor);
    out.readers.push_back(std::move(rs));
  }
  return out;
}

}  // namespace sigv4::scraper::spool
