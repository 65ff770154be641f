#pragma once
// The process' own resource figures on /metrics, as Prometheus client libraries export them (process_*), plus
// what the allocator holds: heap in use against heap kept free. RSS that grows while heap in use stays flat is
// the allocator keeping freed memory (fragmentation, trim thresholds), not a leak.
#include <cstddef>

#include "obs/metrics.hpp"

namespace sigv4::obs {

// Registers process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_cpu_seconds_total, process_start_time_seconds, process_threads, sigv4_sidecar_heap_inuse_bytes and
// sigv4_sidecar_heap_free_bytes, read at every render (Linux /proc; the heap figures from glibc's mallinfo2, or
// from the sanitizer's allocator in ASan/TSan builds).
void register_process_metrics(registry& r);

// Gives the allocator's free pages back to the kernel (glibc's malloc_trim: free pages inside every arena, and the
// main heap's top beyond `keep_top`). glibc returns only a heap's top on its own, and only past M_TRIM_THRESHOLD
// (main.cpp keeps 1 MiB for TLS): over hours the free pages inside the arenas of several threads are touched
// again one by one and RSS creeps while heap in use stays flat (the soak: +1.4-2.0% in 30 min). Called every few
// seconds it bounds that creep at a few hundred page faults per call. Counts
// sigv4_sidecar_heap_releases_total and sigv4_sidecar_heap_released_bytes_total (resident bytes before minus
// after). Does nothing in sanitizer builds (their allocator is not glibc's) or without glibc.
// The free heap top kept for reuse: main.cpp's M_TRIM_THRESHOLD, and what the server's releases leave.
inline constexpr std::size_t heap_top_kept_bytes = 1u << 20;

class heap_releaser {
 public:
  explicit heap_releaser(registry& r);
  // Returns the resident bytes released (0 if RSS did not fall or trimming is unsupported).
  std::size_t release(std::size_t keep_top);
  // False where release() does nothing (sanitizer builds, no glibc).
  static bool supported();

 private:
  counter& runs_;
  counter& released_;
};

}  // namespace sigv4::obs
