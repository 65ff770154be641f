#pragma once
// The CPU limit the process runs under, and what it means for busy polling. Polling spends CPU to save
// wake-ups; under a CFS quota (Kubernetes `resources.limits.cpu`, systemd `CPUQuota=`, `docker --cpus`) that
// CPU comes out of the quota and can get the whole container throttled, so by default a worker polls only
// when the limit leaves it at least one core.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sigv4::app {

// The tightest CFS quota, in cores, on the cgroup named in `proc_self_cgroup` (the text of /proc/self/cgroup)
// and its ancestors, read under `cgroup_root`: cgroup v2's cpu.max, or v1's cpu.cfs_quota_us and
// cpu.cfs_period_us. nullopt when there is none or nothing can be read.
std::optional<double> cgroup_cpu_limit(const std::string& cgroup_root, std::string_view proc_self_cgroup);
// The same for this process (/sys/fs/cgroup, /proc/self/cgroup).
std::optional<double> cgroup_cpu_limit();

// busy_poll_us to run with: a configured value (>= 0) as it is; automatic (-1): 200, or 0 when a CPU limit
// gives less than one core per worker thread.
int effective_busy_poll_us(int configured, std::optional<double> cpu_limit, std::size_t threads);

}  // namespace sigv4::app
