// The spool's faults: torn tails and corrupt records at open and while running, unusable directories,
// a full disk (injected through file_io), lost position files, and kill -9 in the middle of appending.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "scraper/spool_format.hpp"
#include "tests/unit/scraper/spool_fixture.hpp"

namespace sigv4::scraper::spool::testing {
namespace {

constexpr std::uint64_t rec = detail::record_header_bytes + 100;

TEST_F(spool_dir, torn_tail_is_cut_and_the_records_before_it_kept) {
  {
    auto s = open(config());
    append(*s, 0, 5);
  }
  const std::string seg = files(".seg").at(0);
  std::filesystem::resize_file(seg, record_at(4) + 60);  // record 4 cut in its payload
  {
    auto s = open(config());
    const stats st = s->get_stats();
    EXPECT_EQ(st.torn_tails, 1u);
    EXPECT_EQ(st.torn_bytes, 60u);
    EXPECT_EQ(st.corrupt_records, 0u);
    ASSERT_EQ(count(event::kind::torn_tail_cut), 1u);
    EXPECT_EQ(events_[0].path, seg);
    EXPECT_EQ(events_[0].offset, record_at(4));
    EXPECT_NE(to_string(events_[0]).find(seg), std::string::npos);
    EXPECT_EQ(std::filesystem::file_size(seg), record_at(4)) << "truncated on disk";
    const reader_id a = s->open_reader("a");
    EXPECT_EQ(numbers(read_all(*s, a)), range(0, 4));
    append(*s, 5, 7);
    EXPECT_EQ(numbers(read_all(*s, a)), range(5, 7));
  }
  events_.clear();
  auto s = open(config());
  EXPECT_EQ(s->get_stats().torn_tails, 0u) << "the cut is for good";
  EXPECT_TRUE(events_.empty());
}

TEST_F(spool_dir, torn_tail_inside_a_header_and_a_segment_cut_before_its_header) {
  {
    auto s = open(config());
    append(*s, 0, 3);
  }
  std::filesystem::resize_file(files(".seg").at(0), record_at(2) + 10);
  { std::ofstream(dir_ / "00000000000000000009.seg") << "S4SP"; }  // created, then the crash
  auto s = open(config());
  EXPECT_EQ(s->get_stats().torn_tails, 2u);
  EXPECT_EQ(s->get_stats().torn_bytes, 14u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "00000000000000000009.seg"));
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(0, 2));
}

TEST_F(spool_dir, corrupt_payload_in_the_middle_is_skipped_and_counted) {
  {
    auto s = open(config());
    append(*s, 0, 10);
  }
  const std::string seg = files(".seg").at(0);
  const std::uint64_t at = record_at(3) + detail::record_header_bytes + 50;
  poke(seg, at, static_cast<char>(peek(seg, at) ^ 0x01));
  auto s = open(config({"a", "b"}));
  stats st = s->get_stats();
  EXPECT_EQ(st.corrupt_records, 1u);
  EXPECT_EQ(st.corrupt_bytes, rec);
  EXPECT_EQ(st.torn_tails, 0u);
  ASSERT_EQ(count(event::kind::corrupt_skipped), 1u);
  EXPECT_EQ(events_[0].offset, record_at(3));
  std::vector<int> want = range(0, 10);
  want.erase(want.begin() + 3);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), want);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("b"))), want);
  EXPECT_EQ(s->get_stats().corrupt_records, 1u) << "found once at open, not again by each reader";
}

TEST_F(spool_dir, corrupt_header_resynchronises_on_the_next_record) {
  {
    auto s = open(config());
    append(*s, 0, 10);
  }
  const std::string seg = files(".seg").at(0);
  poke(seg, record_at(5) + 5, 0x7F);  // the length field: the scanner must not trust it
  poke(seg, record_at(7), 'x');       // the magic
  auto s = open(config());
  EXPECT_EQ(s->get_stats().corrupt_records, 2u);
  EXPECT_EQ(s->get_stats().corrupt_bytes, 2 * rec);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), (std::vector<int>{0, 1, 2, 3, 4, 6, 8, 9}));
}

TEST_F(spool_dir, corruption_found_while_running_is_skipped_once) {
  auto s = open(config({"a", "b"}));
  append(*s, 0, 6);
  const std::string seg = files(".seg").at(0);
  const std::uint64_t at = record_at(2) + detail::record_header_bytes + 10;
  poke(seg, at, static_cast<char>(peek(seg, at) ^ 0x80));  // the page cache is what pread sees
  const std::vector<int> want = {0, 1, 3, 4, 5};
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), want);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("b"))), want);
  EXPECT_EQ(s->get_stats().corrupt_records, 1u);
  EXPECT_EQ(count(event::kind::corrupt_skipped), 1u);
}

TEST_F(spool_dir, unusable_directory_fails_open_with_the_path_and_the_reason) {
  { std::ofstream(dir_ / "file") << "x"; }
  settings c = config();
  c.dir = (dir_ / "file" / "spool").string();  // ENOTDIR, root or not
  status st;
  EXPECT_EQ(store::open(c, st), nullptr);
  EXPECT_EQ(st.code, errc::io_error);
  EXPECT_NE(st.message.find(c.dir), std::string::npos) << st.message;
  EXPECT_NE(st.message.find(std::strerror(ENOTDIR)), std::string::npos) << st.message;

  c.dir = (dir_ / "file").string();
  EXPECT_EQ(store::open(c, st), nullptr);
  EXPECT_NE(st.message.find(c.dir), std::string::npos) << st.message;

  c = config({"a", ""});
  EXPECT_EQ(store::open(c, st), nullptr);
  EXPECT_EQ(st.code, errc::bad_settings);
  c = config();
  c.segment_bytes = 1 << 20;
  c.max_bytes = 100;  // a quarter of it can't hold a record
  EXPECT_EQ(store::open(c, st), nullptr);
  EXPECT_EQ(st.code, errc::bad_settings);
  EXPECT_TRUE(files(".seg").empty()) << "nothing created";
}

TEST_F(spool_dir, a_directory_in_use_is_refused) {
  auto s = open(config());
  status st;
  EXPECT_EQ(store::open(config(), st), nullptr);
  EXPECT_NE(st.message.find("in use"), std::string::npos) << st.message;
  EXPECT_NE(st.message.find(dir_.string()), std::string::npos) << st.message;
  s.reset();
  EXPECT_NE(open(config()), nullptr) << "the lock goes with the store";
}

// A disk that holds `budget` more bytes (negative: no limit), writing what fits before ENOSPC as a real one.
class full_disk : public file_io {
 public:
  std::int64_t budget = -1;
  bool fsync_fails = false;
  ssize_t pwritev(int fd, const iovec* iov, int n, off_t off) override {
    if (budget < 0) return file_io::pwritev(fd, iov, n, off);
    if (budget == 0) {
      errno = ENOSPC;
      return -1;
    }
    std::vector<iovec> fit;
    std::size_t left = static_cast<std::size_t>(budget);
    for (int i = 0; i < n && left > 0; ++i) {
      fit.push_back({iov[i].iov_base, std::min(iov[i].iov_len, left)});
      left -= fit.back().iov_len;
    }
    const ssize_t w = ::pwritev(fd, fit.data(), static_cast<int>(fit.size()), off);
    if (w > 0) budget -= w;
    return w;
  }
  int fdatasync(int fd) override {
    if (!fsync_fails) return file_io::fdatasync(fd);
    errno = ENOSPC;
    return -1;
  }
};

TEST_F(spool_dir, full_disk_is_its_own_status_and_leaves_the_files_consistent) {
  full_disk disk;
  settings c = config();
  c.io = &disk;
  c.segment_bytes = 1024;
  {
    auto s = open(c);
    append(*s, 0, 3);
    const std::uint64_t before = std::filesystem::file_size(files(".seg").at(0));
    disk.budget = 50;  // record 3 is half written, then the disk is full
    status st = s->append(payload(3), now_);
    EXPECT_EQ(st.code, errc::disk_full);
    EXPECT_NE(st.message.find(files(".seg").at(0)), std::string::npos) << st.message;
    EXPECT_EQ(std::filesystem::file_size(files(".seg").at(0)), before) << "the half record is cut back";
    EXPECT_EQ(s->append(payload(3), now_).code, errc::disk_full);

    disk.budget = -1;
    disk.fsync_fails = true;
    st = s->sync();
    EXPECT_EQ(st.code, errc::disk_full);
    EXPECT_NE(st.message.find("fsync"), std::string::npos) << st.message;
    disk.fsync_fails = false;
    EXPECT_EQ(s->get_stats().disk_full, 3u);

    disk.budget = -1;  // space again
    append(*s, 4, 8);  // fills the segment: 0-2, 4-7
    disk.budget = 10;  // the next record needs a new segment, whose header does not fit
    EXPECT_EQ(s->append(payload(8), now_).code, errc::disk_full);
    EXPECT_EQ(files(".seg").size(), 1u) << "the segment that could not be started is gone";
    EXPECT_EQ(s->get_stats().disk_full, 4u);
    disk.budget = -1;
    append(*s, 9, 10);
    EXPECT_EQ(files(".seg").size(), 2u);
    EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), (std::vector<int>{0, 1, 2, 4, 5, 6, 7, 9}));
    EXPECT_EQ(s->get_stats().records_appended, 8u);
  }
  auto s = open(c);
  EXPECT_EQ(s->get_stats().torn_tails, 0u);
  EXPECT_EQ(s->get_stats().corrupt_records, 0u);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), (std::vector<int>{0, 1, 2, 4, 5, 6, 7, 9}));
}

TEST_F(spool_dir, position_not_written_on_a_full_disk_is_written_at_the_next_sync) {
  full_disk disk;
  settings c = config();
  c.io = &disk;
  {
    auto s = open(c);
    const reader_id a = s->open_reader("a");
    append(*s, 0, 4);
    ASSERT_TRUE(s->sync().ok());
    std::vector<record> out;
    ASSERT_TRUE(s->read(a, 2, 1 << 20, out).ok());
    s->commit(a, out[1].end);
    disk.budget = 0;
    EXPECT_EQ(s->sync().code, errc::disk_full);
    EXPECT_TRUE(files(".tmp").empty());
    disk.budget = -1;
  }  // the destructor's sync writes it
  auto s = open(c);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(2, 4));
}

TEST_F(spool_dir, unreadable_position_file_restarts_its_reader_at_the_oldest_record) {
  {
    auto s = open(config());
    const reader_id a = s->open_reader("a");
    append(*s, 0, 5);
    std::vector<record> out;
    ASSERT_TRUE(s->read(a, 3, 1 << 20, out).ok());
    s->commit(a, out.back().end);
  }
  poke(dir_ / "a.pos", 20, 'x');
  auto s = open(config());
  ASSERT_EQ(count(event::kind::bad_position_file), 1u);
  EXPECT_EQ(events_[0].reader, "a");
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(0, 5)) << "duplicates rather than a gap";
}

TEST(spool_format, position_file_names_are_safe_and_distinct) {
  using detail::position_file_name;
  EXPECT_EQ(position_file_name("amp-eu_1.x"), "amp-eu_1.x.pos");
  EXPECT_EQ(position_file_name("a/b c"), "a%2Fb%20c.pos");
  EXPECT_EQ(position_file_name(".."), "%2E..pos");
  EXPECT_EQ(position_file_name("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1"),
            "https%3A%2F%2Faps-workspaces.eu-west-1.amazonaws.com%2Fworkspaces%2Fws-1.pos");
  const std::string a = position_file_name(std::string(300, 'a'));
  const std::string b = position_file_name(std::string(299, 'a') + "b");
  EXPECT_LE(a.size(), 200u);
  EXPECT_NE(a, b);
  const auto p = detail::decode_position_file(detail::encode_position_file({"x y", 7, 1234}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->reader, "x y");
  EXPECT_EQ(p->segment, 7u);
  EXPECT_EQ(p->offset, 1234u);
  std::string bytes = detail::encode_position_file({"x", 7, 1234});
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x04;
    EXPECT_FALSE(detail::decode_position_file(bad)) << i;
  }
  EXPECT_FALSE(detail::decode_position_file(bytes.substr(0, bytes.size() - 1)));
}

TEST(spool_format, every_flipped_header_bit_is_caught) {
  const detail::record_header h{.length = 100, .timestamp_ms = -5, .payload_crc = 0xDEADBEEF, .type = 9};
  std::byte b[detail::record_header_bytes];
  detail::encode_record_header(h, b);
  detail::record_header out;
  ASSERT_TRUE(detail::decode_record_header(b, out));
  EXPECT_EQ(out.length, 100u);
  EXPECT_EQ(out.timestamp_ms, -5);
  EXPECT_EQ(out.payload_crc, 0xDEADBEEFu);
  EXPECT_EQ(out.type, 9);
  for (std::size_t bit = 0; bit < 8 * sizeof b; ++bit) {
    std::byte c[sizeof b];
    std::memcpy(c, b, sizeof b);
    c[bit / 8] ^= std::byte(1 << (bit % 8));
    EXPECT_FALSE(detail::decode_record_header(c, out)) << bit;
  }
  EXPECT_EQ(detail::segment_file_name(7), "00000000000000000007.seg");
  EXPECT_EQ(detail::parse_segment_file_name("00000000000000000007.seg"), 7u);
  EXPECT_EQ(detail::parse_segment_file_name("18446744073709551615.seg"), UINT64_MAX);
  EXPECT_FALSE(detail::parse_segment_file_name("0000000000000000007.seg"));
  EXPECT_FALSE(detail::parse_segment_file_name("0000000000000000000x.seg"));
}

// A child appends numbered records (syncing now and then) and reports each append that returned; the
// parent kills it with SIGKILL in mid-stream. Every reported record must be there after a reopen.
TEST_F(spool_dir, kill_9_loses_no_record_whose_append_returned) {
  settings c = config();
  c.segment_bytes = 64 << 10;
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    status st;
    auto s = store::open(c, st);
    if (!s) ::_exit(2);
    for (std::int32_t i = 0; i < 200'000; ++i) {
      if (!s->append(payload(i, 100 + i % 300), now_ + i).ok()) ::_exit(3);
      if (i % 500 == 499 && !s->sync().ok()) ::_exit(4);
      if (::write(report[1], &i, sizeof i) != sizeof i) ::_exit(5);
    }
    ::_exit(6);  // the parent should have killed it long before
  }
  ::close(report[1]);
  std::int32_t last = -1;
  std::int32_t i = 0;
  bool killed = false;
  while (::read(report[0], &i, sizeof i) == sizeof i) {
    last = i;
    if (!killed && i >= 3000) killed = ::kill(child, SIGKILL) == 0;
  }
  ::close(report[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << wstatus;

  auto s = open(c);
  const auto all = read_all(*s, s->open_reader("a"));
  ASSERT_GE(static_cast<std::int64_t>(all.size()), last + 1);
  // One more at most: an append that returned after the last report was written.
  ASSERT_LE(static_cast<std::int64_t>(all.size()), last + 2);
  for (std::size_t k = 0; k < all.size(); ++k) {
    const int n = static_cast<int>(k);
    ASSERT_EQ(all[k].payload, payload(n, 100 + static_cast<std::size_t>(n % 300))) << k;
    ASSERT_EQ(all[k].timestamp_ms, now_ + n);
  }
  EXPECT_LE(s->get_stats().torn_tails, 1u) << "only the write the kill interrupted";
  EXPECT_EQ(s->get_stats().corrupt_records, 0u);
}

}  // namespace
}  // namespace sigv4::scraper::spool::testing
