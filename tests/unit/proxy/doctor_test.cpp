#include <gtest/gtest.h>

#include "proxy/doctor_command.hpp"

namespace sigv4::app {
namespace {

TEST(doctor, http_dates) {
  // RFC 9110's example, and the epoch.
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Tue, 01 Dec 2026 22:26:03 GMT"), 1796163963);
  // Obsolete forms, wrong zones, impossible dates and truncations are refused, not guessed.
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 24:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:3"));
  EXPECT_FALSE(parse_http_date(""));
}

}  // namespace
}  // namespace sigv4::app
