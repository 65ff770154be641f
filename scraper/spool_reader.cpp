// The spool's readers: reads, commits, rewinds.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "scraper/spool.hpp"

namespace sigv4::scraper::spool {
namespace {

using namespace detail;

constexpr std::size_t read_window = 256 << 10;

}  // namespace

store::reader& store::add_reader(std::string name, start_at where) {
  auto r = std::make_unique<reader>();
  r->file = position_file_name(name);
  r->name = std::move(name);
  r->committed = r->cursor = where == start_at::oldest
                                 ? position{segments_.front().seq, segment_header_bytes}
                                 : position{segments_.back().seq, segments_.back().size};
  r->dirty = true;  // written at the next sync, so that a restart knows it is not new
  readers_.push_back(std::move(r));
  return *readers_.back();
}

reader_id store::open_reader(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("spool: a reader needs a name");
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    reader& r = *readers_[i];
    if (r.name != name) continue;
    if (r.closed) {
      r.closed = false;
      r.committed = r.cursor = settings_.new_readers == start_at::oldest
                                   ? position{segments_.front().seq, segment_header_bytes}
                                   : end();
      r.dirty = true;
    }
    return static_cast<reader_id>(i);
  }
  add_reader(std::string(name), settings_.new_readers);
  return static_cast<reader_id>(readers_.size() - 1);
}

void store::close_reader_fd(reader& r) {
  r.source.reset();
  if (r.fd >= 0) ::close(r.fd);
  r.fd = -1;
}

status store::source_for(reader& r, const segment& s) {
  if (r.fd >= 0 && r.fd_seq == s.seq) {
    r.source->set_size(s.size);
    return {};
  }
  close_reader_fd(r);
  const std::string path = path_of(s.seq);
  r.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.fd < 0) return fail(errc::io_error, "cannot open segment", path, errno);
  r.fd_seq = s.seq;
  r.source = std::make_unique<segment_source>(r.fd, s.size, read_window);
  return {};
}

status store::read(reader_id id, std::size_t max_records, std::size_t max_bytes, std::vector<record>& out) {
  reader& r = *readers_.at(id);
  std::size_t n = 0;
  std::size_t bytes = 0;
  status st;
  while (st.ok() && n < max_records && (n == 0 || bytes < max_bytes)) {
    segment* seg = find(r.cursor.segment);
    if (!seg || r.cursor.offset < segment_header_bytes) {  // removed, dropped, or a segment's very start
      r.cursor = normalize(r.cursor);
      continue;
    }
    if (r.cursor.offset >= seg->size) {
      if (seg == &segments_.back()) break;
      r.cursor = {seg->seq + 1, 0};  // normalize() finds the next one, across any gap
      continue;
    }
    const auto known = std::find_if(seg->bad.begin(), seg->bad.end(), [&](auto& b) {
      return b.first <= r.cursor.offset && r.cursor.offset < b.second;
    });
    if (known != seg->bad.end()) {  // counted when it was found
      r.cursor.offset = known->second;
      continue;
    }
    if (st = source_for(r, *seg); !st.ok()) break;
    const step s = next_step(*r.source, r.cursor.offset);
    switch (s.k) {
      case step::kind::record: {
        if (n == out.size()) out.emplace_back();
        record& rec = out[n++];
        rec.type = s.header.type;
        rec.timestamp_ms = s.header.timestamp_ms;
        rec.payload.assign(reinterpret_cast<const char*>(s.payload), s.header.length);
        rec.end = {seg->seq, s.end};
        bytes += s.header.length;
        r.cursor.offset = s.end;
        break;
      }
      case step::kind::bad:  // damaged since open (the disk, or a hand): skipped as at open
        seg->bad.insert(std::upper_bound(seg->bad.begin(), seg->bad.end(), std::pair{s.begin, s.end}),
                        {s.begin, s.end});
        ++stats_.corrupt_records;
        stats_.corrupt_bytes += s.end - s.begin;
        emit({event::kind::corrupt_skipped, path_of(seg->seq), {}, s.begin, s.end - s.begin, 0});
        r.cursor.offset = s.end;
        break;
      case step::kind::end:
        r.cursor.offset = seg->size;
        break;
      case step::kind::io_error:
        st = fail(errc::io_error, "cannot read segment", path_of(seg->seq), r.source->error());
        close_reader_fd(r);
        break;
    }
  }
  out.resize(n);
  r.counters.records_read += n;
  stats_.records_read += n;
  return st;
}

void store::commit(reader_id id, position end) {
  reader& r = *readers_.at(id);
  if (end <= r.committed) return;
  if (end > r.cursor)
    throw std::invalid_argument("spool: reader '" + r.name + "' commits past what it has read");
  r.committed = end;
  r.dirty = true;
  remove_passed();
}

void store::rewind(reader_id id) {
  reader& r = *readers_.at(id);
  r.cursor = r.committed;
}

void store::close_reader(reader_id id) {
  reader& r = *readers_.at(id);
  if (r.closed) return;
  close_reader_fd(r);
  r.closed = true;
  r.dirty = false;
  const std::string path = settings_.dir + "/" + r.file;
  ::unlink(path.c_str());  // if that fails, the next open removes it (the reader is not configured then)
  dir_unsynced_ = true;
  remove_passed();
}

}  // namespace sigv4::scraper::spool
