#include "proxy/fd_limit.hpp"

#include <gtest/gtest.h>
#include <algorithm>
#include <sys/resource.h>

namespace {

using sigv4::app::fds_needed;
using sigv4::app::raise_fd_limit;

TEST(FdLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_TRUE(rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 256) << "the hard limit is too low for this test";
  const rlimit saved = rl;
  rl.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);

  const auto got = raise_fd_limit(4096);
  EXPECT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.before, 256u);
  const std::size_t want = rl.rlim_max == RLIM_INFINITY ? 4096 : std::min<std::size_t>(rl.rlim_max, 4096);
  EXPECT_EQ(got.soft, want);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, want);  // really set, not only reported
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(FdLimit, NeverLowersTheSoftLimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  const auto got = raise_fd_limit(16);  // a cap under the current soft limit
  EXPECT_EQ(got.soft, got.before);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, rl.rlim_cur);
}

TEST(FdLimit, WhatTheDefaultConfigNeedsIsMoreThanDebiansDefaultSoftLimit) {
  // max_connections 1024 (default) with its refusals and upstream connections does not fit in 1024 descriptors.
  EXPECT_GT(fds_needed(1024, 64), 1024u);
  EXPECT_GT(fds_needed(2000, 64), fds_needed(1000, 64));
}

TEST(FdLimit, ConnectionsForFdsIsTheInverseOfFdsNeeded) {
  using sigv4::app::connections_for_fds;
  EXPECT_EQ(connections_for_fds(1024, 64), 234u);  // (1024 - 64 - 256) / 3
  EXPECT_LE(fds_needed(connections_for_fds(1024, 64), 64), 1024u);
  EXPECT_GT(fds_needed(connections_for_fds(1024, 64) + 1, 64), 1024u);
  EXPECT_GE(connections_for_fds(65536, 64), 1024u);  // the systemd unit's LimitNOFILE fits the default
  EXPECT_EQ(connections_for_fds(100, 64), 1u);       // never 0: the sidecar still answers, one at a time
}

}  // namespace
