#pragma once
// A spool directory of its own under /tmp for each test (removed afterwards), a clock the test moves, the
// events the spool reported, and helpers to append numbered records and read them back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scraper/spool.hpp"

namespace sigv4::scraper::spool::testing {

class spool_dir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/spool_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  settings config(std::vector<std::string> readers = {"a"}) {
    settings s;
    s.dir = dir_.string();
    s.readers = std::move(readers);
    s.segment_bytes = 4096;
    s.now_ms = [this] { return now_; };
    s.on_event = [this](const event& e) { events_.push_back(e); };
    return s;
  }
  std::unique_ptr<store> open(settings s) {
    status st;
    auto p = store::open(std::move(s), st);
    EXPECT_TRUE(st.ok()) << st.message;
    EXPECT_NE(p, nullptr);
    return p;
  }

  // Record i: its number, then bytes that depend on it (zeros included), `n` bytes in all.
  static std::string payload(int i, std::size_t n = 100) {
    std::string p = "record " + std::to_string(i) + ":";
    for (std::size_t k = 0; p.size() < n; ++k) p += static_cast<char>((i * 31 + k * 7) % 256);
    p.resize(n);
    return p;
  }
  // Appends records first..last-1 (timestamps now_ + i), expecting each to succeed.
  void append(store& s, int first, int last, std::size_t n = 100) {
    for (int i = first; i < last; ++i) ASSERT_TRUE(s.append(payload(i, n), now_ + i).ok()) << i;
  }
  // Everything the reader has left, in order.
  std::vector<record> read_all(store& s, reader_id r) {
    std::vector<record> all, batch;
    do {
      EXPECT_TRUE(s.read(r, 7, 1 << 20, batch).ok());
      all.insert(all.end(), batch.begin(), batch.end());
    } while (!batch.empty());
    return all;
  }
  // The record numbers `rs` hold, checking each payload against payload(i, n).
  static std::vector<int> numbers(const std::vector<record>& rs, std::size_t n = 100) {
    std::vector<int> out;
    for (const record& r : rs) {
      const int i = std::atoi(r.payload.c_str() + 7);
      EXPECT_EQ(r.payload, payload(i, n)) << i;
      out.push_back(i);
    }
    return out;
  }
  static std::vector<int> range(int first, int last) {
    std::vector<int> out;
    for (int i = first; i < last; ++i) out.push_back(i);
    return out;
  }
  std::vector<std::string> files(std::string_view suffix) const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      if (e.path().filename().string().ends_with(suffix)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::size_t count(event::kind k) const {
    return static_cast<std::size_t>(
        std::count_if(events_.begin(), events_.end(), [&](const event& e) { return e.k == k; }));
  }
  static void poke(const std::string& path, std::uint64_t offset, char byte) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(byte);
  }
  static char peek(const std::string& path, std::uint64_t offset) {
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    return static_cast<char>(f.get());
  }

  std::filesystem::path dir_;
  std::int64_t now_ = 1'700'000'000'000;
  std::vector<event> events_;
};

// Offsets in a segment of 100-byte records: record k of the segment starts here.
inline std::uint64_t record_at(int k, std::size_t n = 100) {
  return detail::segment_header_bytes + static_cast<std::uint64_t>(k) * (detail::record_header_bytes + n);
}

}  // namespace sigv4::scraper::spool::testing
