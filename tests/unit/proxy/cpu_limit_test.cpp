#include "proxy/cpu_limit.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

namespace sigv4::app {
namespace {

namespace fs = std::filesystem;

struct fake_cgroupfs {
  fs::path root =
      fs::temp_directory_path() / ("cpu_limit_test_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fake_cgroupfs() { fs::create_directories(root); }
  ~fake_cgroupfs() { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
  std::optional<double> limit(std::string_view proc_self_cgroup) {
    return cgroup_cpu_limit(root.string(), proc_self_cgroup);
  }
};

TEST(cgroup_cpu_limit, v2_own_cgroup_and_the_tightest_ancestor) {
  fake_cgroupfs f;
  f.write("cpu.max", "max 100000\n");
  f.write("kubepods/pod1/cpu.max", "150000 100000\n");         // the pod: 1.5 cores
  f.write("kubepods/pod1/sidecar/cpu.max", "50000 100000\n");  // the container: 0.5 cores
  auto l = f.limit("0::/kubepods/pod1/sidecar\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(*l, 0.5);
  f.write("kubepods/pod1/sidecar/cpu.max", "max 100000\n");
  l = f.limit("0::/kubepods/pod1/sidecar\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(*l, 1.5);  // a parent's limit applies too
}

TEST(cgroup_cpu_limit, v2_inside_a_container_namespace) {
  fake_cgroupfs f;
  f.write("cpu.max", "25000 100000\n");  // /sys/fs/cgroup is the container's own cgroup
  auto l = f.limit("0::/\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(*l, 0.25);
  auto moved = f.limit("0::/kubepods/podX/ctr\n");  // a path that does not exist here: the root still counts
  ASSERT_TRUE(moved);
  EXPECT_DOUBLE_EQ(*moved, 0.25);
}

TEST(cgroup_cpu_limit, v1_cpu_controller) {
  fake_cgroupfs f;
  f.write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
  f.write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  auto l = f.limit("12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(*l, 2.0);
  f.write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");  // no limit
  EXPECT_FALSE(f.limit("3:cpu,cpuacct:/docker/abc\n"));
}

TEST(cgroup_cpu_limit, none_or_unreadable) {
  fake_cgroupfs f;
  EXPECT_FALSE(f.limit("0::/\n"));  // no files at all
  f.write("cpu.max", "max 100000\n");
  EXPECT_FALSE(f.limit("0::/\n"));
  f.write("cpu.max", "garbage\n");
  EXPECT_FALSE(f.limit("0::/\n"));
  f.write("cpu.max", "0 100000\n");
  EXPECT_FALSE(f.limit("0::/\n"));
  EXPECT_FALSE(f.limit("not a cgroup line\n"));
}

TEST(effective_busy_poll_us, automatic_polls_only_with_a_core_per_worker) {
  EXPECT_EQ(effective_busy_poll_us(-1, std::nullopt, 2), 200);  // no limit
  EXPECT_EQ(effective_busy_poll_us(-1, 2.0, 2), 200);
  EXPECT_EQ(effective_busy_poll_us(-1, 1.5, 2), 0);  // spinning would eat the quota
  EXPECT_EQ(effective_busy_poll_us(-1, 0.5, 1), 0);
  EXPECT_EQ(effective_busy_poll_us(-1, 1.0, 1), 200);
}

TEST(effective_busy_poll_us, a_configured_value_wins) {
  EXPECT_EQ(effective_busy_poll_us(0, std::nullopt, 2), 0);
  EXPECT_EQ(effective_busy_poll_us(100, 0.25, 2), 100);
}

}  // namespace
}  // namespace sigv4::app
