// The spool's behaviour: round trips, readers with their own positions, segments rolling and going away,
// restarts resuming where each reader committed, and the max_bytes / max_age limits. Faults are in
// spool_faults_test.cpp.
#include <gtest/gtest.h>

#include <stdexcept>

#include "scraper/spool_format.hpp"
#include "tests/unit/scraper/spool_fixture.hpp"

namespace sigv4::scraper::spool::testing {
namespace {

TEST_F(spool_dir, round_trip) {
  auto s = open(config());
  const reader_id a = s->open_reader("a");
  std::vector<record> out;
  ASSERT_TRUE(s->read(a, 10, 1 << 20, out).ok());
  EXPECT_TRUE(out.empty());

  ASSERT_TRUE(s->append("", now_, 3).ok());  // an empty payload is a record too
  ASSERT_TRUE(s->append(payload(1, 1000), now_ - 5, 7).ok());
  ASSERT_TRUE(s->append(std::string(1, '\0'), now_ + 5, 255).ok());
  ASSERT_TRUE(s->read(a, 10, 1 << 20, out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].payload, "");
  EXPECT_EQ(out[0].type, 3);
  EXPECT_EQ(out[0].timestamp_ms, now_);
  EXPECT_EQ(out[1].payload, payload(1, 1000));
  EXPECT_EQ(out[1].type, 7);
  EXPECT_EQ(out[1].timestamp_ms, now_ - 5);
  EXPECT_EQ(out[2].payload, std::string(1, '\0'));
  EXPECT_EQ(out[2].type, 255);
  EXPECT_LT(out[0].end, out[1].end);
  EXPECT_LT(out[1].end, out[2].end);
  ASSERT_TRUE(s->read(a, 10, 1 << 20, out).ok());
  EXPECT_TRUE(out.empty());

  const stats st = s->get_stats();
  EXPECT_EQ(st.records_appended, 3u);
  EXPECT_EQ(st.bytes_appended, 1001u);
  EXPECT_EQ(st.records_read, 3u);
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.bytes, detail::segment_header_bytes + 3 * detail::record_header_bytes + 1001);
  EXPECT_EQ(files(".seg").size(), 1u);
}

TEST_F(spool_dir, read_limits) {
  auto s = open(config());
  const reader_id a = s->open_reader("a");
  append(*s, 0, 10);
  std::vector<record> out;
  ASSERT_TRUE(s->read(a, 3, 1 << 20, out).ok());
  EXPECT_EQ(numbers(out), range(0, 3));
  ASSERT_TRUE(s->read(a, 100, 250, out).ok());  // stops once 250 bytes are reached: 3 records of 100
  EXPECT_EQ(numbers(out), range(3, 6));
  ASSERT_TRUE(s->read(a, 100, 1, out).ok());  // at least one record, whatever max_bytes says
  EXPECT_EQ(numbers(out), range(6, 7));
  EXPECT_EQ(numbers(read_all(*s, a)), range(7, 10));
}

TEST_F(spool_dir, readers_have_their_own_positions) {
  auto s = open(config({"a", "b"}));
  const reader_id a = s->open_reader("a");
  const reader_id b = s->open_reader("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(s->open_reader("a"), a);
  append(*s, 0, 10);
  std::vector<record> ra, rb;
  ASSERT_TRUE(s->read(a, 6, 1 << 20, ra).ok());
  ASSERT_TRUE(s->read(b, 2, 1 << 20, rb).ok());
  EXPECT_EQ(numbers(ra), range(0, 6));
  EXPECT_EQ(numbers(rb), range(0, 2));
  s->commit(a, ra[3].end);

  const std::uint64_t rec = detail::record_header_bytes + 100;
  stats st = s->get_stats();
  ASSERT_EQ(st.readers.size(), 2u);
  EXPECT_EQ(st.readers[0].name, "a");
  EXPECT_EQ(st.readers[0].committed, ra[3].end);
  EXPECT_EQ(st.readers[0].cursor, ra[5].end);
  EXPECT_EQ(st.readers[0].lag_bytes, 6 * rec);
  EXPECT_EQ(st.readers[0].unread_bytes, 4 * rec);
  EXPECT_EQ(st.readers[0].records_read, 6u);
  EXPECT_EQ(st.readers[1].name, "b");
  EXPECT_EQ(st.readers[1].lag_bytes, 10 * rec);
  EXPECT_EQ(st.readers[1].unread_bytes, 8 * rec);

  EXPECT_EQ(numbers(read_all(*s, b)), range(2, 10));
  EXPECT_EQ(numbers(read_all(*s, a)), range(6, 10));
}

TEST_F(spool_dir, rewind_returns_what_was_read_but_not_committed) {
  auto s = open(config());
  const reader_id a = s->open_reader("a");
  append(*s, 0, 6);
  std::vector<record> out;
  ASSERT_TRUE(s->read(a, 4, 1 << 20, out).ok());
  s->commit(a, out[1].end);
  s->rewind(a);
  EXPECT_EQ(numbers(read_all(*s, a)), range(2, 6));
  s->commit(a, out[0].end);  // behind the committed position: nothing moves
  s->rewind(a);
  EXPECT_EQ(numbers(read_all(*s, a)), range(2, 6));
}

TEST_F(spool_dir, commit_past_the_cursor_is_a_bug) {
  auto s = open(config());
  const reader_id a = s->open_reader("a");
  append(*s, 0, 3);
  std::vector<record> out;
  ASSERT_TRUE(s->read(a, 1, 1 << 20, out).ok());
  EXPECT_THROW(s->commit(a, {out[0].end.segment, out[0].end.offset + 1}), std::invalid_argument);
  EXPECT_THROW(s->read(99, 1, 1, out), std::out_of_range);
  EXPECT_THROW(s->open_reader(""), std::invalid_argument);
}

TEST_F(spool_dir, record_larger_than_a_segment_is_refused) {
  auto s = open(config());
  const status st = s->append(std::string(4096, 'x'), now_);
  EXPECT_EQ(st.code, errc::too_large);
  EXPECT_NE(st.message.find("4096"), std::string::npos) << st.message;
  EXPECT_TRUE(s->append(std::string(4096 - 16 - 28, 'x'), now_).ok());  // exactly a segment
  EXPECT_EQ(s->get_stats().records_appended, 1u);
}

TEST_F(spool_dir, segments_roll_and_go_once_every_reader_passed_them) {
  settings c = config({"a", "b"});
  c.segment_bytes = 1024;  // 7 records of 100 bytes a segment
  auto s = open(c);
  const reader_id a = s->open_reader("a");
  const reader_id b = s->open_reader("b");
  append(*s, 0, 30);
  EXPECT_EQ(s->get_stats().segments, 5u);  // 7 + 7 + 7 + 7 + 2
  EXPECT_EQ(files(".seg").size(), 5u);
  for (const auto& f : files(".seg")) EXPECT_LE(std::filesystem::file_size(f), 1024u) << f;

  const auto all_a = read_all(*s, a);
  EXPECT_EQ(numbers(all_a), range(0, 30));
  s->commit(a, all_a.back().end);
  EXPECT_EQ(s->get_stats().segments, 5u) << "b has read nothing: it pins them all";

  std::vector<record> rb;
  ASSERT_TRUE(s->read(b, 10, 1 << 20, rb).ok());
  s->commit(b, rb[6].end);  // the end of the first segment
  EXPECT_EQ(s->get_stats().segments, 4u);
  s->commit(b, rb[9].end);
  EXPECT_EQ(s->get_stats().segments, 4u) << "record 9 is in the middle of the second segment";
  const auto rest = read_all(*s, b);
  EXPECT_EQ(numbers(rest), range(10, 30));
  s->commit(b, rest.back().end);
  const stats st = s->get_stats();
  EXPECT_EQ(st.segments, 1u) << "the active segment stays";
  EXPECT_EQ(st.segments_removed, 4u);
  EXPECT_EQ(st.dropped_records, 0u);
  EXPECT_EQ(files(".seg").size(), 1u);
  EXPECT_EQ(st.bytes, std::filesystem::file_size(files(".seg")[0]));

  append(*s, 30, 32);
  EXPECT_EQ(numbers(read_all(*s, a)), range(30, 32));
}

TEST_F(spool_dir, restart_resumes_each_reader_at_its_commit) {
  settings c = config({"a", "b"});
  c.segment_bytes = 1024;
  {
    auto s = open(c);
    const reader_id a = s->open_reader("a");
    const reader_id b = s->open_reader("b");
    append(*s, 0, 20);
    std::vector<record> ra;
    ASSERT_TRUE(s->read(a, 10, 1 << 20, ra).ok());
    s->commit(a, ra[6].end);  // read 10, acknowledged 7: 7..9 come again
    const auto rb = read_all(*s, b);
    s->commit(b, rb.back().end);
  }
  {
    auto s = open(c);
    const reader_id a = s->open_reader("a");
    const reader_id b = s->open_reader("b");
    EXPECT_EQ(numbers(read_all(*s, b)), std::vector<int>{});
    const auto ra = read_all(*s, a);
    EXPECT_EQ(numbers(ra), range(7, 20));
    append(*s, 20, 25);
    s->commit(a, ra[2].end);  // through record 9
    EXPECT_EQ(numbers(read_all(*s, b)), range(20, 25));
    EXPECT_EQ(numbers(read_all(*s, a)), range(20, 25));
    ASSERT_TRUE(s->sync().ok());
  }
  auto s = open(c);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(10, 25));
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("b"))), range(20, 25)) << "b never committed 20..24";
  EXPECT_EQ(s->get_stats().corrupt_records, 0u);
  EXPECT_EQ(s->get_stats().torn_tails, 0u);
}

TEST_F(spool_dir, a_reader_removed_from_the_config_stops_pinning_segments) {
  settings c = config({"a", "b"});
  c.segment_bytes = 1024;
  {
    auto s = open(c);
    append(*s, 0, 20);
    const reader_id a = s->open_reader("a");
    const auto ra = read_all(*s, a);
    s->commit(a, ra.back().end);
    s->open_reader("b");
    EXPECT_EQ(s->get_stats().segments, 3u);
  }
  EXPECT_EQ(files(".pos").size(), 2u);
  c.readers = {"a"};
  auto s = open(c);
  EXPECT_EQ(count(event::kind::reader_removed), 1u);
  EXPECT_EQ(events_.back().reader, "b");
  EXPECT_EQ(files(".pos"), std::vector<std::string>{dir_.string() + "/a.pos"});
  EXPECT_EQ(s->get_stats().segments, 1u) << "a had passed everything of the last run";
  EXPECT_EQ(files(".seg").size(), 1u);
  EXPECT_EQ(s->get_stats().readers.size(), 1u);
}

TEST_F(spool_dir, a_new_reader_starts_at_the_oldest_record_or_the_end) {
  {
    auto s = open(config({"a"}));
    append(*s, 0, 5);
  }
  {
    settings c = config({"a", "old"});
    auto s = open(c);
    EXPECT_EQ(numbers(read_all(*s, s->open_reader("old"))), range(0, 5));
  }
  settings c = config({"a", "new"});
  c.new_readers = start_at::newest;
  {
    auto s = open(c);
    const reader_id n = s->open_reader("new");
    EXPECT_TRUE(read_all(*s, n).empty());
    append(*s, 5, 7);
    const auto rn = read_all(*s, n);
    EXPECT_EQ(numbers(rn), range(5, 7));
    s->commit(n, rn[0].end);
    const reader_id late = s->open_reader("late");  // not configured at open: added where new_readers says
    EXPECT_TRUE(read_all(*s, late).empty());
  }
  c.readers = {"a", "new", "old"};
  c.new_readers = start_at::oldest;
  auto s = open(c);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("new"))), range(6, 7)) << "no longer new: from its commit";
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(0, 7));
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("old"))), range(0, 7))
      << "removed at the last open: new again";
}

TEST_F(spool_dir, max_bytes_drops_the_oldest_segments_and_counts_them) {
  settings c = config({"a", "b"});
  c.segment_bytes = 1024;
  c.max_bytes = 4096;
  auto s = open(c);
  const reader_id a = s->open_reader("a");
  const reader_id b = s->open_reader("b");
  std::vector<record> rb;
  ASSERT_TRUE(s->append(payload(0), now_).ok());
  ASSERT_TRUE(s->append(payload(1), now_).ok());
  ASSERT_TRUE(s->read(b, 2, 1 << 20, rb).ok());
  s->commit(b, rb[0].end);
  for (int i = 2; i < 100; ++i) {
    ASSERT_TRUE(s->append(payload(i), now_).ok());
    EXPECT_LE(s->get_stats().bytes, 4096u) << i;
  }
  const stats st = s->get_stats();
  EXPECT_GT(st.dropped_segments, 0u);
  EXPECT_EQ(st.dropped_records, st.dropped_segments * 7);
  EXPECT_EQ(count(event::kind::dropped_max_bytes), st.dropped_segments);
  EXPECT_EQ(events_.back().records, 7u);
  EXPECT_NE(to_string(events_.back()).find("max_bytes"), std::string::npos);

  const auto ra = read_all(*s, a);
  EXPECT_EQ(ra.size() + st.dropped_records, 100u);
  EXPECT_EQ(numbers(ra), range(100 - static_cast<int>(ra.size()), 100)) << "the newest are kept";
  EXPECT_EQ(st.readers[0].dropped_bytes, st.dropped_segments * 7 * 128) << "7 records of 128 bytes each";
  EXPECT_EQ(st.readers[1].dropped_bytes, st.readers[0].dropped_bytes - 128) << "b had committed one";
  s->commit(b, rb[1].end);  // in a dropped segment: behind its position now, so nothing changes
  EXPECT_EQ(numbers(read_all(*s, b)), numbers(ra)) << "moved to the oldest kept record";
}

TEST_F(spool_dir, max_age_drops_segments_whose_newest_record_is_too_old) {
  settings c = config({"a"});
  c.segment_bytes = 1024;
  c.max_age = std::chrono::seconds(60);
  {
    auto s = open(c);
    const reader_id a = s->open_reader("a");
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(s->append(payload(i), now_ - 120'000).ok());  // one segment
    for (int i = 7; i < 10; ++i) ASSERT_TRUE(s->append(payload(i), now_).ok());
    ASSERT_TRUE(s->sync().ok());
    stats st = s->get_stats();
    EXPECT_EQ(st.dropped_segments, 1u);
    EXPECT_EQ(st.dropped_records, 7u);
    EXPECT_EQ(count(event::kind::dropped_max_age), 1u);
    EXPECT_EQ(numbers(read_all(*s, a)), range(7, 10));
  }
  now_ += 61'000;  // the process was down for a minute: all it left is too old now
  auto s = open(c);
  EXPECT_EQ(s->get_stats().dropped_records, 3u);
  EXPECT_EQ(count(event::kind::dropped_max_age), 2u);
  EXPECT_TRUE(read_all(*s, s->open_reader("a")).empty());
  append(*s, 10, 12);
  EXPECT_EQ(numbers(read_all(*s, s->open_reader("a"))), range(10, 12));
}

TEST_F(spool_dir, a_closed_reader_keeps_nothing_and_reopens_afresh) {
  auto s = open(config({"a", "b"}));
  const reader_id a = s->open_reader("a");
  const reader_id b = s->open_reader("b");
  append(*s, 0, 100);  // several 4 KiB segments
  EXPECT_EQ(numbers(read_all(*s, a)), range(0, 100));
  s->commit(a, s->end());
  ASSERT_TRUE(s->sync().ok());
  EXPECT_GT(s->get_stats().segments, 1u) << "b has read nothing: every segment is kept";
  EXPECT_EQ(files(".pos").size(), 2u);
  s->close_reader(b);
  EXPECT_EQ(s->get_stats().segments, 1u) << "only the active segment is left";
  ASSERT_EQ(s->get_stats().readers.size(), 1u);
  ASSERT_TRUE(s->sync().ok());
  EXPECT_EQ(files(".pos").size(), 1u) << "its position file is gone";
  append(*s, 100, 103);
  EXPECT_EQ(s->open_reader("b"), b) << "the same id again";
  // From the oldest record still kept: the start of the one segment left, not record 0.
  const auto again = numbers(read_all(*s, b));
  ASSERT_FALSE(again.empty());
  EXPECT_GT(again.front(), 0);
  EXPECT_EQ(again, range(again.front(), 103));
}

TEST_F(spool_dir, end_is_where_the_next_record_ends_up) {
  auto s = open(config({"a"}));
  const reader_id a = s->open_reader("a");
  const position before = s->end();
  append(*s, 0, 1);
  std::vector<record> got;
  ASSERT_TRUE(s->read(a, 10, 1 << 20, got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].end, s->end());
  EXPECT_LT(before, s->end());
}

}  // namespace
}  // namespace sigv4::scraper::spool::testing
