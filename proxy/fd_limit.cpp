#include "proxy/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sigv4::app {

fd_limit raise_fd_limit(std::size_t cap) {
  fd_limit out;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::string("getrlimit: ") + std::strerror(errno);
    return out;
  }
  out.before = out.soft = static_cast<std::size_t>(rl.rlim_cur);
  out.hard = rl.rlim_max == RLIM_INFINITY ? cap : static_cast<std::size_t>(rl.rlim_max);
  const auto want = static_cast<rlim_t>(std::min(out.hard, cap));
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      out.soft = static_cast<std::size_t>(want);
    } else {
      out.error = std::string("setrlimit: ") + std::strerror(errno);
    }
  }
  return out;
}

std::size_t fds_needed(std::size_t max_connections, std::size_t idle_pool) {
  return 3 * max_connections + idle_pool + fd_reserve;
}

std::size_t connections_for_fds(std::size_t open_files, std::size_t idle_pool) {
  const std::size_t reserve = idle_pool + fd_reserve;
  return open_files > reserve + 3 ? (open_files - reserve) / 3 : 1;
}

}  // namespace sigv4::app
