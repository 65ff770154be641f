#pragma once
// A durable disk spool of opaque records, behind the remote-write queue: the queue appends ready-made
// wire records, each remote_write endpoint reads them back through its own reader and commits what its
// receiver acknowledged, and a restart resumes every reader where it committed. Blocking POSIX I/O, no
// Asio, no threads, not thread-safe: the owner calls it from one thread of its own.
//
// Durability (the fsync window the README is to state):
// - append() passes the record to write(2) before it returns, so a crash or `kill -9` of the process
//   loses no record whose append() returned ok: the kernel has it.
// - sync() fdatasyncs what was written since the last sync (the group commit), so a power cut or kernel
//   crash loses at most what was appended since the last successful sync: up to `sync_interval`.
// - commit() moves a reader in memory; sync() persists its position (temp file, fdatasync, rename, fsync
//   of the directory). A crash between the two re-sends what was acknowledged since the last sync:
//   duplicates the receiver tolerates, never a loss. commit() itself does no I/O beyond deleting the
//   segments every reader has now passed. Destroying the store syncs.
//
// Faults at open(): a torn tail (invalid bytes to the end of a segment) is truncated and counted; a corrupt
// record followed by valid ones is skipped and counted (see spool_format.hpp for how the scanner finds the
// next record); a directory that can't be created, read or written fails open() with the path and errno
// text; a directory another store has open, in this process or another, fails too (flock). Full disk:
// append() and sync() return errc::disk_full, the failed record is cut back off the file (or, if even that
// fails, at the next open), and the owner stops spooling until it chooses to try again.
//
// Limits: max_bytes and max_age drop the oldest segments even when readers have not passed them; every
// drop is counted (records and bytes), reported as an event, and moves the readers in it to the next.
// Only sealed segments are dropped; max_bytes is checked on every append, max_age at open and every sync.
#include <sys/uio.h>
#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scraper/spool_format.hpp"

namespace sigv4::scraper::spool {

struct position {
  std::uint64_t segment = 0;  // sequence number of the segment file
  std::uint64_t offset = 0;   // byte offset in it of the next record
  friend auto operator<=>(const position&, const position&) = default;
};

struct record {
  std::uint8_t type = 0;
  std::int64_t timestamp_ms = 0;
  std::string payload;
  position end;  // commit(r, end) acknowledges this record and every one before it
};

enum class errc : std::uint8_t {
  ok,
  disk_full,  // ENOSPC or EDQUOT on a write or fsync: stop spooling, fall back to memory
  io_error,   // any other failure of a system call; the message has the path and errno text
  too_large,  // a record that can't fit in a segment
  bad_settings,
};
std::string_view to_string(errc e);

struct status {
  errc code = errc::ok;
  std::string message;
  bool ok() const { return code == errc::ok; }
};

// Where a reader that has no position file yet starts.
enum class start_at : std::uint8_t {
  oldest,  // the oldest retained record: a new endpoint is sent the whole backlog
  newest,  // the end: a new endpoint gets only what is appended from now on
};

// What the owner should log: every loss, and every repair of the files.
struct event {
  enum class kind : std::uint8_t {
    torn_tail_cut,      // at open: `bytes` cut off `path` at `offset`
    corrupt_skipped,    // `bytes` at `offset` of `path` skipped (at open, or found later by a read)
    dropped_max_bytes,  // the segment `path` (`records`, `bytes`) dropped by max_bytes
    dropped_max_age,    // the same by max_age
    reader_removed,     // at open: `reader` is no longer configured; its position file is deleted
    bad_position_file,  // at open: `path` unreadable; `reader` starts at the oldest record
  };
  kind k;
  std::string path;
  std::string reader;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
};
std::string to_string(const event& e);  // one line, for the owner's log

// The few system calls where a test injects a full disk; everything else is plain POSIX.
class file_io {
 public:
  virtual ~file_io() = default;
  virtual ssize_t pwritev(int fd, const iovec* iov, int n, off_t off) { return ::pwritev(fd, iov, n, off); }
  virtual int fdatasync(int fd);
};

struct settings {
  std::string dir;
  // The configured endpoints: other position files are deleted at open. Segments are kept only while a
  // reader has not passed them, so a spool without readers keeps nothing but its active segment.
  std::vector<std::string> readers;
  start_at new_readers = start_at::oldest;
  std::uint64_t segment_bytes = 64 << 20;  // capped at max_bytes / 4, so that max_bytes holds
  std::uint64_t max_bytes = 0;             // 0: no limit
  // Amazon Managed Service for Prometheus refuses samples older than 1 hour ("Metric samples older than
  // 1 hour are refused from being ingested", AMP_quotas.html), so older records would only be sent to be
  // rejected. (Its out-of-order window, 60 s by default, is about samples older than their series' newest;
  // a replay is in order per series.) 0: no limit.
  std::chrono::milliseconds max_age = std::chrono::hours(1);
  std::chrono::milliseconds sync_interval{1000};  // for the owner: how often it calls sync()
  std::function<std::int64_t()> now_ms;           // wall clock for max_age; empty: the system clock
  std::function<void(const event&)> on_event;     // empty: events only counted
  file_io* io = nullptr;                          // empty: POSIX
};

using reader_id = std::uint32_t;

struct reader_stats {
  std::string name;
  position committed;
  position cursor;                  // the next record read() returns
  std::uint64_t lag_bytes = 0;      // from committed to the end of the data
  std::uint64_t unread_bytes = 0;   // from cursor to the end
  std::uint64_t records_read = 0;   // re-reads after rewind() count again
  std::uint64_t dropped_bytes = 0;  // by max_bytes or max_age, from its committed position
};

struct stats {
  std::uint64_t bytes = 0;  // the segment files' sizes
  std::uint64_t segments = 0;
  std::uint64_t records_appended = 0;
  std::uint64_t bytes_appended = 0;
  std::uint64_t records_read = 0;
  std::uint64_t corrupt_records = 0;  // invalid stretches skipped (a corrupt record, or bytes until the next)
  std::uint64_t corrupt_bytes = 0;
  std::uint64_t torn_tails = 0;
  std::uint64_t torn_bytes = 0;
  std::uint64_t dropped_segments = 0;  // by max_bytes or max_age
  std::uint64_t dropped_records = 0;   // every record of those segments, whoever had read them
  std::uint64_t dropped_bytes = 0;
  std::uint64_t segments_removed = 0;  // passed by every reader
  std::uint64_t syncs = 0;
  std::uint64_t disk_full = 0;  // appends and syncs that returned errc::disk_full
  std::vector<reader_stats> readers;
};

class store {
 public:
  // Creates the directory if needed, takes its lock, scans and repairs every segment, loads the readers'
  // positions (dropping unconfigured ones), applies the limits and starts a fresh segment to append to.
  // nullptr with `error` set when the directory is unusable.
  static std::unique_ptr<store> open(settings s, status& error);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // `timestamp_ms` is what max_age compares with the clock: the newest sample in the payload.
  status append(std::string_view payload, std::int64_t timestamp_ms, std::uint8_t type = 0);
  // The group commit: fdatasync the segments written since the last sync, persist the positions committed
  // since, fsync the directory when files were created or renamed; then apply max_age.
  status sync();

  // The reader of that name: the configured ones exist from open(); another is added (at `new_readers`).
  reader_id open_reader(std::string_view name);
  // Reads from the reader's cursor up to `max_records` records and `max_bytes` of payload (at least one
  // record when any is there), into `out` (replaced; its strings' capacity reused). Advances the cursor.
  status read(reader_id r, std::size_t max_records, std::size_t max_bytes, std::vector<record>& out);
  // Everything before `end` (a record's end from read()) is acknowledged. Earlier than the committed
  // position: nothing changes. Past the cursor: std::invalid_argument.
  void commit(reader_id r, position end);
  // Back to the committed position: the records read since are returned again.
  void rewind(reader_id r);
  // The endpoint is gone from the config: its position file is deleted and it no longer keeps segments.
  // open_reader() of its name later starts it afresh (at `new_readers`).
  void close_reader(reader_id r);
  // Where the next append goes: every record appended so far ends at or before it.
  position end() const { return {segments_.back().seq, segments_.back().size}; }

  stats get_stats() const;
  const settings& config() const { return settings_; }

 private:
  struct segment {
    std::uint64_t seq = 0;
    std::uint64_t size = 0;  // valid bytes: appends go here
    std::uint64_t records = 0;
    std::int64_t newest_ms = INT64_MIN;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> bad;  // known invalid [begin, end), sorted
  };
  struct reader {
    std::string name;
    std::string file;
    position committed;
    position cursor;
    bool dirty = false;  // committed moved since the position file was written
    bool closed = false;  // close_reader(): keeps its id, pins nothing, has no file
    reader_stats counters;
    int fd = -1;  // the segment at cursor.segment, for reading
    std::uint64_t fd_seq = 0;
    std::unique_ptr<detail::segment_source> source;
  };

  explicit store(settings s);
  status open_dir();
  status scan_segments();
  status load_readers();
  reader& add_reader(std::string name, start_at where);
  status roll();
  void remove_passed();
  void drop_front(event::kind why);
  void enforce_max_bytes();
  void enforce_max_age();
  bool passed(const segment& s, position p) const;
  position normalize(position p) const;
  const segment* find(std::uint64_t seq) const;
  segment* find(std::uint64_t seq);
  std::uint64_t bytes_after(position p) const;
  status write_position(reader& r);
  status source_for(reader& r, const segment& s);
  void close_reader_fd(reader& r);
  void emit(event e);
  status fail(errc code, std::string_view what, const std::string& path, int err);
  std::string path_of(std::uint64_t seq) const;

  settings settings_;
  file_io* io_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  int active_fd_ = -1;
  std::vector<std::pair<int, std::uint64_t>>
      unsynced_;  // sealed segments (fd, seq) written since the last sync
  bool active_unsynced_ = false;
  bool dir_unsynced_ = false;
  bool opened_ = false;  // until open() completes there are no readers, and nothing may be removed
  std::uint64_t next_seq_ = 1;
  std::deque<segment> segments_;  // by seq; back() is the active one, the others are sealed
  std::vector<std::unique_ptr<reader>> readers_;
  stats stats_;
};

}  // namespace sigv4::scraper::spool
