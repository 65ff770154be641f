#include "scraper/labels.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace sigv4::scraper {
namespace {

TEST(labels, set_keeps_sorted_and_empty_value_removes) {
  labels ls;
  set(ls, "job", "a");
  set(ls, "__name__", "up");
  set(ls, "instance", "x:1");
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[0].name, "__name__");
  EXPECT_EQ(ls[1].name, "instance");
  EXPECT_EQ(ls[2].name, "job");
  set(ls, "instance", "");
  EXPECT_EQ(ls.size(), 2u);
  EXPECT_EQ(get(ls, "instance"), "");
  set(ls, "job", "b");
  EXPECT_EQ(get(ls, "job"), "b");
}

TEST(labels, hash_separates_names_from_values) {
  labels a = {{"ab", "c"}};
  labels b = {{"a", "bc"}};
  EXPECT_NE(hash(a), hash(b));
  EXPECT_EQ(hash(a), hash(labels{{"ab", "c"}}));
}

TEST(labels, stale_nan_is_exact_bits) {
  EXPECT_TRUE(is_stale_nan(stale_nan()));
  EXPECT_FALSE(is_stale_nan(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(to_string({{"a", "x\"y\\\n"}}), "{a=\"x\\\"y\\\\\\n\"}");
}

}  // namespace
}  // namespace sigv4::scraper
