#pragma once
// The process' own resource figures on /metrics, as Prometheus client libraries export them (process_*), plus
// what the allocator holds: heap in use against heap kept free. RSS that grows while heap in use stays flat is
// the allocator keeping freed memory (fragmentation, trim thresholds), not a leak.
#include "obs/metrics.hpp"

namespace sigv4::obs {

// Registers process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_cpu_seconds_total, process_start_time_seconds, process_threads, sigv4_sidecar_heap_inuse_bytes and
// sigv4_sidecar_heap_free_bytes, read at every render (Linux /proc; the heap figures from glibc's mallinfo2, or
// from the sanitizer's allocator in ASan/TSan builds).
void register_process_metrics(registry& r);

}  // namespace sigv4::obs
