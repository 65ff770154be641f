// CRC32C against published check values (RFC 3720 B.4, the CRC catalogue's "123456789"), and the
// hardware path against the table path on every length and alignment that matters.
#include "scraper/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sigv4::scraper {
namespace {

TEST(crc32c, check_values) {
  EXPECT_EQ(crc32c(std::string_view("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up += static_cast<char>(i);
    down += static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(std::string_view()), 0u);
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

TEST(crc32c, hardware_and_tables_agree_and_pieces_chain) {
  std::mt19937 rng(7);
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (std::size_t off = 0; off < 8; ++off) {
    for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096}) {
      const char* p = data.data() + off;
      const std::uint32_t whole = crc32c(0, p, n);
      EXPECT_EQ(whole, crc32c_portable(0, p, n)) << off << " " << n;
      const std::size_t cut = n / 3;
      EXPECT_EQ(crc32c(crc32c(0, p, cut), p + cut, n - cut), whole) << off << " " << n;
    }
  }
}

}  // namespace
}  // namespace sigv4::scraper
