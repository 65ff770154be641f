#pragma once
// The process' open-file limit. Debian's default soft limit is 1024, the size of the default max_connections
// alone: a sidecar that keeps it fails accepts with EMFILE long before it answers 503 at the limit. At start the
// soft limit is raised to the hard one (as Go's runtime and nginx's worker_rlimit_nofile do); what it needs is
// then checked against what the config allows.
#include <cstddef>
#include <string>

namespace sigv4::app {

struct fd_limit {
  std::size_t before = 0;  // the soft limit the process started with (0: could not be read)
  std::size_t soft = 0;    // the soft limit now
  std::size_t hard = 0;
  std::string error;       // why raising failed, when it did
};

// Raises RLIMIT_NOFILE's soft limit to its hard limit (capped at `cap`; glibc's select-free code has no need of
// less) and returns what it found and set.
fd_limit raise_fd_limit(std::size_t cap = 1u << 20);

// Descriptors kept for files, the scraper's targets, the admin listener and, under a small max_connections,
// the refusals lingering beyond it (lingering_refusals_floor).
inline constexpr std::size_t fd_reserve = 256;
// A refusal over max_connections lingers while fewer than max(max_connections, this) refusals are lingering:
// a small limit must not make a few overlapping refusals close at once (a reset that loses the 503).
inline constexpr std::size_t lingering_refusals_floor = 64;
static_assert(lingering_refusals_floor <= fd_reserve);

// Descriptors a config needs under a flood: each client connection, as many refusals lingering over the limit,
// an upstream connection per client in flight, the idle pool, and fd_reserve. Used to warn at start when the
// limit is lower.
std::size_t fds_needed(std::size_t max_connections, std::size_t idle_pool);
// The most client connections `open_files` descriptors carry by that measure (at least 1): the limit the
// sidecar enforces when the configured max_connections needs more, so that a flood still gets its 503s.
std::size_t connections_for_fds(std::size_t open_files, std::size_t idle_pool);

}  // namespace sigv4::app
