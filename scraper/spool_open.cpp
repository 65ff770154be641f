// Opening the spool: the directory and its lock, the scan that verifies and repairs every segment, and the
// readers' position files.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>

#include "scraper/spool.hpp"

namespace sigv4::scraper::spool {
namespace {

namespace fs = std::filesystem;
using namespace detail;

constexpr std::uint64_t min_segment_bytes = segment_header_bytes + record_header_bytes + 64;
constexpr std::size_t scan_window = 1 << 20;
constexpr std::size_t max_position_file = 4096;

// The file's bytes, or nullopt when it can't be read or is implausibly large for a position.
std::optional<std::string> slurp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out(max_position_file + 1, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (got > max_position_file) return std::nullopt;
  out.resize(got);
  return out;
}

}  // namespace

std::unique_ptr<store> store::open(settings s, status& error) {
  error = {};
  if (s.dir.empty() || std::find(s.readers.begin(), s.readers.end(), "") != s.readers.end()) {
    error = {errc::bad_settings,
             s.dir.empty() ? "spool: no directory given" : "spool: a reader needs a name"};
    return nullptr;
  }
  if (s.max_bytes) s.segment_bytes = std::min(s.segment_bytes, s.max_bytes / 4);
  if (s.segment_bytes < min_segment_bytes) {
    error = {errc::bad_settings, "spool: segment_bytes " + std::to_string(s.segment_bytes) +
                                     " (or max_bytes / 4) is below " + std::to_string(min_segment_bytes)};
    return nullptr;
  }
  while (s.dir.size() > 1 && s.dir.ends_with('/')) s.dir.pop_back();
  std::unique_ptr<store> st(new store(std::move(s)));
  if (error = st->open_dir(); !error.ok()) return nullptr;
  if (error = st->scan_segments(); !error.ok()) return nullptr;
  if (error = st->load_readers(); !error.ok()) return nullptr;
  return st;
}

status store::open_dir() {
  const std::string& dir = settings_.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(errc::io_error, "cannot create directory", dir, ec.value());
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return fail(errc::io_error, "cannot open directory", dir, errno);
  const std::string lock = dir + "/lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return fail(errc::io_error, "cannot write in directory", dir, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return fail(errc::io_error, "directory in use by another process (flock)", dir, errno);
  // A write test: a directory that lets us open an existing lock file may still refuse new files.
  const std::string probe = dir + "/probe" + std::string(temp_suffix);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errc::io_error, "cannot write in directory", dir, errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

status store::scan_segments() {
  std::map<std::uint64_t, std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(settings_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (auto seq = parse_segment_file_name(name))
      found[*seq] = it->path().string();
    else if (name.ends_with(temp_suffix))
      ::unlink(it->path().c_str());  // a write cut short
  }
  if (ec) return fail(errc::io_error, "cannot list directory", settings_.dir, ec.value());

  for (const auto& [seq, path] : found) {
    next_seq_ = std::max(next_seq_, seq + 1);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    struct stat sb {};
    if (fd < 0 || ::fstat(fd, &sb) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      return fail(errc::io_error, "cannot open segment", path, err);
    }
    segment seg;
    seg.seq = seq;
    seg.size = static_cast<std::uint64_t>(sb.st_size);
    segment_source src(fd, seg.size, scan_window);
    status bad_read;
    if (seg.size < segment_header_bytes) {
      // Created, then cut short before its header was written: nothing in it was ever appended.
      ::close(fd);
      ::unlink(path.c_str());
      ++stats_.torn_tails;
      stats_.torn_bytes += seg.size;
      emit({event::kind::torn_tail_cut, path, {}, 0, seg.size, 0});
      continue;
    }
    if (const std::byte* h = src.view(0, segment_header_bytes); !h || !segment_header_ok(h)) {
      if (!h) bad_read = fail(errc::io_error, "cannot read segment", path, src.error());
      ++stats_.corrupt_records;
      stats_.corrupt_bytes += segment_header_bytes;
      emit({event::kind::corrupt_skipped, path, {}, 0, segment_header_bytes, 0});
    }
    for (std::uint64_t off = segment_header_bytes; bad_read.ok();) {
      const step s = next_step(src, off);
      if (s.k == step::kind::end) break;
      if (s.k == step::kind::io_error) {
        bad_read = fail(errc::io_error, "cannot read segment", path, src.error());
      } else if (s.k == step::kind::record) {
        ++seg.records;
        seg.newest_ms = std::max(seg.newest_ms, s.header.timestamp_ms);
        off = s.end;
      } else if (s.end == seg.size) {
        if (::ftruncate(fd, static_cast<off_t>(s.begin)) != 0) {
          bad_read = fail(errc::io_error, "cannot truncate the torn tail of", path, errno);
          break;
        }
        ++stats_.torn_tails;
        stats_.torn_bytes += s.end - s.begin;
        emit({event::kind::torn_tail_cut, path, {}, s.begin, s.end - s.begin, 0});
        seg.size = s.begin;
        break;
      } else {
        seg.bad.emplace_back(s.begin, s.end);
        ++stats_.corrupt_records;
        stats_.corrupt_bytes += s.end - s.begin;
        emit({event::kind::corrupt_skipped, path, {}, s.begin, s.end - s.begin, 0});
        off = s.end;
      }
    }
    ::close(fd);
    if (!bad_read.ok()) return bad_read;
    stats_.bytes += seg.size;
    segments_.push_back(std::move(seg));
  }
  return {};
}

status store::load_readers() {
  // Position files by file name; nullopt for those that fail their checks.
  std::map<std::string, std::optional<position_file>> files;
  std::error_code ec;
  for (fs::directory_iterator it(settings_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(position_suffix)) continue;
    std::optional<position_file> p;
    if (auto bytes = slurp(it->path().string())) p = decode_position_file(*bytes);
    if (p) next_seq_ = std::max(next_seq_, p->segment + 1);
    files.emplace(name, std::move(p));
  }
  if (ec) return fail(errc::io_error, "cannot list directory", settings_.dir, ec.value());

  // A fresh segment on every start: sealed segments are never written again, and a sequence number
  // above every segment and every position means no position can name a segment of a past life.
  if (auto st = roll(); !st.ok()) return st;

  for (const std::string& name : settings_.readers) {
    if (std::any_of(readers_.begin(), readers_.end(), [&](auto& r) { return r->name == name; })) continue;
    auto it = files.find(position_file_name(name));
    if (it == files.end()) {
      add_reader(name, settings_.new_readers);
      continue;
    }
    if (it->second && it->second->reader == name) {
      reader& r = add_reader(name, start_at::oldest);
      r.committed = r.cursor = normalize({it->second->segment, it->second->offset});
      r.dirty = false;
    } else {
      // Its position is lost; from the oldest record it is sent duplicates, never a gap.
      emit({event::kind::bad_position_file, settings_.dir + "/" + it->first, name});
      add_reader(name, start_at::oldest);
    }
    files.erase(it);
  }
  for (const auto& [file, p] : files) {
    const std::string path = settings_.dir + "/" + file;
    ::unlink(path.c_str());
    dir_unsynced_ = true;
    emit({event::kind::reader_removed, path, p ? p->reader : std::string()});
  }
  opened_ = true;
  remove_passed();
  enforce_max_age();
  enforce_max_bytes();
  return {};
}

}  // namespace sigv4::scraper::spool
