#include "obs/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

// Under ASan or TSan the sanitizer's allocator serves malloc and glibc's mallinfo2 sees nothing: ask it instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIGV4_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SIGV4_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(SIGV4_SANITIZER_ALLOCATOR)
// From the sanitizer runtime (clang's sanitizer/allocator_interface.h; GCC ships no header for them).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
extern "C" std::size_t __sanitizer_get_free_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define SIGV4_HAVE_MALLINFO2 1
#endif

namespace sigv4::obs {
namespace {

// Resident bytes from /proc/self/statm (0 if unreadable); the virtual size through `vsize` when asked.
std::size_t resident_bytes(std::size_t* vsize = nullptr) {
  std::size_t res = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) {
      const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
      res = resident * page;
      if (vsize != nullptr) *vsize = size * page;
    }
    std::fclose(f);
  }
  return res;
}

double open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  double n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

// /proc/self/status "Threads:" line.
double threads() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("Threads:")) return std::stod(line.substr(8));
  }
  return -1;
}

}  // namespace

void register_process_metrics(registry& r) {
  auto& rss = r.gauges("process_resident_memory_bytes", "Resident memory size in bytes.").with({});
  auto& vms = r.gauges("process_virtual_memory_bytes", "Virtual memory size in bytes.").with({});
  auto& fds = r.gauges("process_open_fds", "Number of open file descriptors.").with({});
  auto& max_fds = r.gauges("process_max_fds", "Maximum number of open file descriptors.").with({});
  auto& thr = r.gauges("process_threads", "Number of OS threads in the process.").with({});
  auto& start = r.gauges("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
                    .with({});
  auto& cpu_family = r.counters("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  cpu_family.set_unit(1e-9);
  auto& cpu = cpu_family.with({});
  auto& heap_used = r.gauges("sigv4_sidecar_heap_inuse_bytes",
                             "Bytes the allocator has handed out and not had back (glibc mallinfo2: "
                             "uordblks + hblkhd).")
                        .with({});
  auto& heap_free = r.gauges("sigv4_sidecar_heap_free_bytes",
                             "Bytes the allocator holds free for reuse: part of the resident memory, not in use "
                             "(glibc mallinfo2: fordblks).")
                        .with({});
  // Registered at start-up: close enough to the process' start for "when did it restart".
  start.set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  r.add_collector([&rss, &vms, &fds, &max_fds, &thr, &cpu, &heap_used, &heap_free] {
    std::size_t size = 0;
    if (const std::size_t resident = resident_bytes(&size); resident > 0) {
      vms.set(static_cast<double>(size));
      rss.set(static_cast<double>(resident));
    }
    fds.set(open_fds());
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) max_fds.set(static_cast<double>(lim.rlim_cur));
    thr.set(threads());
    timespec ts{};
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) {
      const auto ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
      if (ns > cpu.value()) cpu.inc(ns - cpu.value());  // collectors run under the registry's lock: one writer
    }
#if defined(SIGV4_SANITIZER_ALLOCATOR)
    heap_used.set(static_cast<double>(__sanitizer_get_current_allocated_bytes()));
    heap_free.set(static_cast<double>(__sanitizer_get_free_bytes()));
#elif defined(SIGV4_HAVE_MALLINFO2)
    const struct mallinfo2 mi = mallinfo2();
    heap_used.set(static_cast<double>(mi.uordblks + mi.hblkhd));
    heap_free.set(static_cast<double>(mi.fordblks));
#else
    (void)heap_used;
    (void)heap_free;
#endif
  });
}

heap_releaser::heap_releaser(registry& r)
    : runs_(r.counters("sigv4_sidecar_heap_releases_total",
                       "Times the free heap was handed back to the kernel (malloc_trim, every few seconds).")
                .with({})),
      released_(r.counters("sigv4_sidecar_heap_released_bytes_total",
                           "Resident bytes those releases returned to the kernel (RSS before minus after).")
                    .with({})) {}

bool heap_releaser::supported() {
#if defined(SIGV4_HAVE_MALLINFO2)
  return true;
#else
  return false;
#endif
}

std::size_t heap_releaser::release(std::size_t keep_top) {
#if defined(SIGV4_HAVE_MALLINFO2)
  const std::size_t before = resident_bytes();
  malloc_trim(keep_top);
  const std::size_t after = resident_bytes();
  runs_.inc();
  const std::size_t released = before > after ? before - after : 0;
  released_.inc(released);
  return released;
#else
  (void)keep_top;
  return 0;
#endif
}

}  // namespace sigv4::obs
