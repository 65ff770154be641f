#include "proxy/cpu_limit.hpp"

#include <fstream>
#include <sstream>

namespace sigv4::app {
namespace {

std::optional<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<double> to_number(std::string_view s) {
  try {
    std::size_t used = 0;
    double v = std::stod(std::string(s), &used);
    if (used == 0) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// cgroup v2: "max 100000" (no limit) or "50000 100000".
std::optional<double> v2_limit(const std::string& dir) {
  auto line = read_first_line(dir + "/cpu.max");
  if (!line) return std::nullopt;
  std::istringstream in(*line);
  std::string quota, period;
  in >> quota >> period;
  if (quota == "max") return std::nullopt;
  auto q = to_number(quota), p = to_number(period);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return *q / *p;
}

// cgroup v1: cpu.cfs_quota_us is -1 when there is no limit.
std::optional<double> v1_limit(const std::string& dir) {
  auto quota = read_first_line(dir + "/cpu.cfs_quota_us");
  auto period = read_first_line(dir + "/cpu.cfs_period_us");
  if (!quota || !period) return std::nullopt;
  auto q = to_number(*quota), p = to_number(*period);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return *q / *p;
}

void tighten(std::optional<double>& best, std::optional<double> v) {
  if (v && (!best || *v < *best)) best = v;
}

// Every directory from root/path up to root itself.
template <class Read>
void walk_up(const std::string& root, std::string path, Read read, std::optional<double>& best) {
  for (;;) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    tighten(best, read(root + (path == "/" ? "" : path)));
    if (path.empty() || path == "/") return;
    auto slash = path.rfind('/');
    path = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  }
}

}  // namespace

std::optional<double> cgroup_cpu_limit(const std::string& cgroup_root, std::string_view proc_self_cgroup) {
  std::optional<double> best;
  std::istringstream lines{std::string(proc_self_cgroup)};
  for (std::string line; std::getline(lines, line);) {
    // "hierarchy-id:controllers:path"; v2 is "0::path".
    auto first = line.find(':');
    auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      walk_up(cgroup_root, path, v2_limit, best);
      continue;
    }
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) {
      if (name != "cpu") continue;
      // Mounted as cpu/ (often a link to cpu,cpuacct/); inside a container the path may be the mount itself.
      walk_up(cgroup_root + "/" + controllers, path, v1_limit, best);
      if (controllers != "cpu") walk_up(cgroup_root + "/cpu", path, v1_limit, best);
    }
  }
  return best;
}

std::optional<double> cgroup_cpu_limit() {
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  return cgroup_cpu_limit("/sys/fs/cgroup", text.str());
}

int effective_busy_poll_us(int configured, std::optional<double> cpu_limit, std::size_t threads) {
  if (configured >= 0) return configured;
  if (cpu_limit && *cpu_limit < static_cast<double>(threads)) return 0;
  return 200;
}

}  // namespace sigv4::app
